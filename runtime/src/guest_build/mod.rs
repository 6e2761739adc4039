//! Building a connector from its source directory, so `connector = "<dir>"`
//! in a connection file (and `airlock spec <dir>`) works in Rust, Python and
//! JavaScript/TypeScript, and an author's edit-run loop is one command.
//!
//! - Rust: a crate (`Cargo.toml`), built with `cargo build --release --target wasm32-wasip2`.
//! - Python: a `pyproject.toml` with a `[tool.airlock]` table, built with componentize-py.
//! - JavaScript/TypeScript: a `package.json` with an `"airlock"` field, bundled with
//!   rolldown and built with ComponentizeJS.
//!
//! Python and JavaScript builds run against the contract this binary was built
//! with ([`WIT_FILES`]) and the SDK it embeds, so an installed `airlock` builds
//! against its own contract. Their tools are installed into the cache directory
//! on first use (pinned versions), and a build is reused until a source, the
//! contract, the SDK or the tool changes.

mod embedded;
mod js;
mod process;
mod python;
mod rust;
mod sources;
mod tools;

use std::path::{Path, PathBuf};

pub use embedded::WIT_FILES;
pub use rust::GUEST_TARGET;

/// The language of a connector directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate (`Cargo.toml`).
    Rust,
    /// A Python project (`pyproject.toml` with `[tool.airlock]`).
    Python,
    /// A JavaScript or TypeScript package (`package.json` with `"airlock"`).
    JavaScript,
}

/// Why a connector directory could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file or directory could not be read or written.
    #[error("connector: {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The directory is not a connector project of any language airlock builds.
    #[error(
        "connector: {} is a directory without a Cargo.toml (Rust), a pyproject.toml with a \
         [tool.airlock] table (Python) or a package.json with an \"airlock\" field \
         (JavaScript/TypeScript); point `connector` at a .wasm component or a connector directory",
        dir.display()
    )]
    NotAProject {
        /// The directory.
        dir: PathBuf,
    },
    /// The project file is there but says something airlock cannot use.
    #[error("connector: {}: {problem}", file.display())]
    Project {
        /// `pyproject.toml` or `package.json`.
        file: PathBuf,
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// A build tool is missing and could not be installed.
    #[error("connector: cannot {what}: {problem}")]
    Tool {
        /// What airlock was doing ("install componentize-py 0.25.1 into ...").
        what: String,
        /// Why it failed, and what to do.
        problem: String,
    },
    /// The build tool ran and failed; its own output is in the message.
    #[error("connector: building {} with {tool} failed:\n{output}", dir.display())]
    Failed {
        /// The connector directory.
        dir: PathBuf,
        /// The tool, with its version.
        tool: String,
        /// What the tool printed (its last lines).
        output: String,
    },
    /// The Rust build failed (cargo's diagnostics went to stderr).
    #[error("{0}")]
    Rust(String),
}

/// [`build_in`] with the default cache root ([`crate::dirs::default_cache_root`]).
pub fn build(dir: &Path) -> Result<PathBuf, BuildError> {
    build_in(dir, crate::dirs::default_cache_root().as_deref())
}

/// Builds the connector in `dir` and returns the component it produced:
/// detects its language, installs the tools it needs when missing, and builds
/// it (or reuses the last build of the same sources). Python and JavaScript
/// tools and builds live under `cache_root` (`tools/`, `builds/`).
pub fn build_in(dir: &Path, cache_root: Option<&Path>) -> Result<PathBuf, BuildError> {
    let dir = dir.canonicalize().map_err(|source| BuildError::Io {
        path: dir.to_owned(),
        source,
    })?;
    match detect(&dir)? {
        Language::Rust => rust::build(&dir).map_err(BuildError::Rust),
        Language::Python => python::build(&dir, &build_root(cache_root)?),
        Language::JavaScript => js::build(&dir, &build_root(cache_root)?),
    }
}

/// Which language the project in `dir` is written in.
pub fn detect(dir: &Path) -> Result<Language, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(Language::Rust);
    }
    let pyproject = dir.join("pyproject.toml");
    let package = dir.join("package.json");
    if pyproject.is_file() {
        if python::has_airlock_table(&pyproject)? {
            return Ok(Language::Python);
        }
        if !package.is_file() {
            return Err(BuildError::Project {
                file: pyproject,
                problem: "there is no [tool.airlock] table: add one naming the connector class, \
                          e.g. `[tool.airlock]` and `connector = \"my_connector:MyConnector\"`"
                    .into(),
            });
        }
    }
    if package.is_file() {
        if js::has_airlock_field(&package)? {
            return Ok(Language::JavaScript);
        }
        return Err(BuildError::Project {
            file: package,
            problem: "there is no \"airlock\" field: add one naming the entry module, \
                      e.g. `\"airlock\": { \"entry\": \"src/connector.ts\" }`"
                .into(),
        });
    }
    Err(BuildError::NotAProject {
        dir: dir.to_owned(),
    })
}

fn build_root(cache_root: Option<&Path>) -> Result<PathBuf, BuildError> {
    cache_root
        .map(Path::to_owned)
        .ok_or_else(|| BuildError::Tool {
            what: "find a cache directory for build tools".into(),
            problem: "neither AIRLOCK_CACHE_DIR nor HOME is set; set AIRLOCK_CACHE_DIR".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language_and_explains_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        assert!(matches!(detect(p), Err(BuildError::NotAProject { .. })));
        std::fs::write(p.join("package.json"), r#"{"name": "x"}"#).unwrap();
        let e = detect(p).unwrap_err().to_string();
        assert!(e.contains("\"airlock\" field"), "{e}");
        std::fs::write(
            p.join("package.json"),
            r#"{"name": "x", "airlock": {"entry": "a.ts"}}"#,
        )
        .unwrap();
        assert_eq!(detect(p).unwrap(), Language::JavaScript);
        std::fs::write(p.join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(detect(p).unwrap(), Language::JavaScript);
        std::fs::remove_file(p.join("package.json")).unwrap();
        let e = detect(p).unwrap_err().to_string();
        assert!(e.contains("[tool.airlock]"), "{e}");
        std::fs::write(
            p.join("pyproject.toml"),
            "[tool.airlock]\nconnector = \"a:B\"\n",
        )
        .unwrap();
        assert_eq!(detect(p).unwrap(), Language::Python);
        std::fs::write(p.join("Cargo.toml"), "").unwrap();
        assert_eq!(detect(p).unwrap(), Language::Rust);
    }
}
