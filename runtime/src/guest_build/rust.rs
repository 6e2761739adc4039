//! Rust connectors: a crate built with `cargo build --release --target wasm32-wasip2`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target connectors are compiled for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// Runs `cargo build --release --target wasm32-wasip2` in `dir` and returns the
/// component it produced. Compiler errors go to stderr as usual.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    // Absolute, so the manifest path still means the same once cargo runs in `dir`.
    let dir = &dir
        .canonicalize()
        .map_err(|e| format!("connector: {}: {e}", dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    tracing::info!(crate_dir = %dir.display(), "building connector (cargo build --release --target {GUEST_TARGET})");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir)
        .args(["build", "--release", "--quiet", "--target", GUEST_TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // A shared target dir (CI sets one) gets a subdirectory of its own for guests,
    // so this build never waits on the lock of a host build using the same dir.
    if let Some(shared) = std::env::var_os("CARGO_TARGET_DIR") {
        cmd.env("CARGO_TARGET_DIR", Path::new(&shared).join("wasm-guests"));
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "connector: cannot run cargo to build {}: {e}",
            dir.display()
        )
    })?;
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    let mut artifact = None;
    for line in std::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let Ok(line) = line else { break };
        if let Some(path) = wasm_artifact(&line, &manifest) {
            artifact = Some(path);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("connector: waiting for cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "connector: building {} failed (see the compiler output above); \
             is the {GUEST_TARGET} target installed? (`rustup target add {GUEST_TARGET}`)",
            dir.display()
        ));
    }
    artifact.ok_or_else(|| {
        format!(
            "connector: building {} produced no .wasm; the crate needs `[lib] crate-type = [\"cdylib\"]`",
            dir.display()
        )
    })
}

/// The `.wasm` of a `compiler-artifact` message for the crate at `manifest`.
fn wasm_artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" || Path::new(msg["manifest_path"].as_str()?) != manifest
    {
        return None;
    }
    msg["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_component_of_the_right_crate() {
        let m = Path::new("/src/hello/Cargo.toml");
        let ours = r#"{"reason":"compiler-artifact","manifest_path":"/src/hello/Cargo.toml","filenames":["/t/hello.d","/t/hello.wasm"]}"#;
        let dep = r#"{"reason":"compiler-artifact","manifest_path":"/reg/serde/Cargo.toml","filenames":["/t/libserde.rlib"]}"#;
        assert_eq!(wasm_artifact(ours, m), Some(PathBuf::from("/t/hello.wasm")));
        assert_eq!(wasm_artifact(dep, m), None);
        assert_eq!(
            wasm_artifact(r#"{"reason":"build-finished","success":true}"#, m),
            None
        );
        assert_eq!(wasm_artifact("not json", m), None);
    }
}
