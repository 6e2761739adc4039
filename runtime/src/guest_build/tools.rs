//! The build tools for Python and JavaScript connectors, pinned, installed
//! into the cache directory on first use (and said so), then reused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::BuildError;
use super::process::{self, RunError};
use super::sources::{LOCK_WAIT, Lock};

/// componentize-py: Python source to a component (it embeds CPython).
pub const COMPONENTIZE_PY: (&str, &str) = ("componentize-py", "0.25.1");
/// The npm packages a JavaScript build uses: ComponentizeJS (JavaScript to a
/// component, on SpiderMonkey), jco (its component tooling, and TypeScript
/// types from WIT), rolldown (bundles the connector, its imports and the SDK
/// into one module, and strips TypeScript).
pub const NPM_PACKAGES: &[(&str, &str)] = &[
    ("@bytecodealliance/componentize-js", "0.23.0"),
    ("@bytecodealliance/jco", "1.35.0"),
    ("rolldown", "1.3.4"),
];

/// How long an install may take (a cold pip or npm download of ~100-400 MB).
const INSTALL_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Marks a tool directory whose install finished.
const DONE: &str = ".airlock-installed";

/// The `componentize-py` executable, installed into `root/tools` if missing.
pub fn componentize_py(root: &Path) -> Result<PathBuf, BuildError> {
    let (name, version) = COMPONENTIZE_PY;
    let dir = root.join("tools").join(format!("{name}-{version}"));
    let exe = dir.join("bin").join(name);
    install(&dir, &format!("{name} {version}"), |what| {
        let python = std::env::var_os("AIRLOCK_PYTHON").unwrap_or_else(|| "python3".into());
        let python_name = Path::new(&python).display().to_string();
        step(
            what,
            Command::new(&python).arg("-m").arg("venv").arg(&dir),
            &format!(
                "`{python_name} -m venv` is needed to install it: install Python 3.10 or newer \
                 with its venv module (Debian: `apt-get install python3-venv`), or set \
                 AIRLOCK_PYTHON to such a python"
            ),
        )?;
        step(
            what,
            Command::new(dir.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-q",
                ])
                .arg(format!("{name}=={version}")),
            "pip could not install it from PyPI; check the network or a pip config \
             (PIP_INDEX_URL) that points at a mirror",
        )
    })?;
    Ok(exe)
}

/// The directory whose `node_modules` holds [`NPM_PACKAGES`], installed into
/// `root/tools` if missing.
pub fn npm_tools(root: &Path) -> Result<PathBuf, BuildError> {
    let (_, jco) = NPM_PACKAGES[1];
    let (_, cjs) = NPM_PACKAGES[0];
    let dir = root
        .join("tools")
        .join(format!("componentize-js-{cjs}-jco-{jco}"));
    let what = format!("ComponentizeJS {cjs} and jco {jco}");
    install(&dir, &what, |what| {
        std::fs::create_dir_all(&dir).map_err(|source| BuildError::Io {
            path: dir.clone(),
            source,
        })?;
        // A package.json of its own, so npm installs here and not in a parent project.
        std::fs::write(
            dir.join("package.json"),
            "{\"name\": \"airlock-build-tools\", \"private\": true, \"type\": \"module\"}\n",
        )
        .map_err(|source| BuildError::Io {
            path: dir.clone(),
            source,
        })?;
        let npm = std::env::var_os("AIRLOCK_NPM").unwrap_or_else(|| "npm".into());
        let mut cmd = Command::new(&npm);
        cmd.current_dir(&dir)
            .args(["install", "--no-audit", "--no-fund", "--save-exact"]);
        for (p, v) in NPM_PACKAGES {
            cmd.arg(format!("{p}@{v}"));
        }
        step(
            what,
            &mut cmd,
            "npm (with Node.js 18 or newer) is needed to install it: install Node.js \
             (Debian: `apt-get install nodejs npm`), or set AIRLOCK_NPM to an npm",
        )
    })?;
    Ok(dir)
}

/// The `node` to run JavaScript builds with.
pub fn node() -> std::ffi::OsString {
    std::env::var_os("AIRLOCK_NODE").unwrap_or_else(|| "node".into())
}

/// Installs into `dir` with `steps` unless a finished install is there,
/// holding a lock so parallel builds install once.
fn install(
    dir: &Path,
    what: &str,
    steps: impl FnOnce(&str) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    if dir.join(DONE).is_file() {
        return Ok(());
    }
    let doing = format!("install {what} into {}", dir.display());
    let lock = dir.with_extension("lock");
    let _held = Lock::take(&lock, &doing, LOCK_WAIT)?;
    if dir.join(DONE).is_file() {
        return Ok(()); // another process installed it meanwhile
    }
    if dir.exists() {
        // A half-finished install (killed, or a failed step): start over.
        std::fs::remove_dir_all(dir).map_err(|source| BuildError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    tracing::info!(
        "installing {what} into {} (once: later builds reuse it)",
        dir.display()
    );
    steps(&doing)?;
    std::fs::write(dir.join(DONE), what).map_err(|source| BuildError::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(())
}

/// Runs one install step; `hint` says what to do when it cannot even start.
fn step(what: &str, cmd: &mut Command, hint: &str) -> Result<(), BuildError> {
    let fail = |problem: String| BuildError::Tool {
        what: what.to_owned(),
        problem,
    };
    match process::run(cmd, INSTALL_LIMIT) {
        Ok(done) if done.success => Ok(()),
        Ok(done) => Err(fail(format!("{hint}. It printed:\n{}", done.output))),
        Err(RunError::Spawn(e)) => Err(fail(format!(
            "{}: {e}; {hint}",
            cmd.get_program().to_string_lossy()
        ))),
        Err(RunError::Timeout(limit, output)) => Err(fail(format!(
            "it took more than {} s and was stopped. It printed:\n{output}",
            limit.as_secs()
        ))),
    }
}
