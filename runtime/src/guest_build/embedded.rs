//! What this binary carries for Python and JavaScript builds: the contract it
//! implements and the SDKs' sources, so a build always targets the host that
//! runs it, wherever the binary was installed.

use std::path::Path;

use super::BuildError;

/// The contract (`wit/`), as `(path inside wit/, text)`.
pub const WIT_FILES: &[(&str, &str)] = &[
    ("connector.wit", include_str!("../../../wit/connector.wit")),
    (
        "deps/io/io.wit",
        include_str!("../../../wit/deps/io/io.wit"),
    ),
];

/// The Python SDK (`sdk/python/src/airlock_sdk/`), as `(file name, text)`.
pub const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../sdk/python/src/airlock_sdk/__init__.py"),
    ),
    (
        "_columns.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_columns.py"),
    ),
    (
        "_config.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_config.py"),
    ),
    (
        "_connector.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_connector.py"),
    ),
    (
        "_errors.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_errors.py"),
    ),
    (
        "_export.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_export.py"),
    ),
    (
        "_output.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_output.py"),
    ),
    (
        "_types.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_types.py"),
    ),
    (
        "_wit.py",
        include_str!("../../../sdk/python/src/airlock_sdk/_wit.py"),
    ),
    (
        "log.py",
        include_str!("../../../sdk/python/src/airlock_sdk/log.py"),
    ),
    (
        "net.py",
        include_str!("../../../sdk/python/src/airlock_sdk/net.py"),
    ),
    ("py.typed", ""),
];

/// The JavaScript SDK (`sdk/js/src/`), as `(file name, text)`.
pub const JS_SDK: &[(&str, &str)] = &[
    ("index.js", include_str!("../../../sdk/js/src/index.js")),
    ("columns.js", include_str!("../../../sdk/js/src/columns.js")),
    ("config.js", include_str!("../../../sdk/js/src/config.js")),
    ("errors.js", include_str!("../../../sdk/js/src/errors.js")),
    ("export.js", include_str!("../../../sdk/js/src/export.js")),
    ("log.js", include_str!("../../../sdk/js/src/log.js")),
    ("net.js", include_str!("../../../sdk/js/src/net.js")),
    ("output.js", include_str!("../../../sdk/js/src/output.js")),
    ("table.js", include_str!("../../../sdk/js/src/table.js")),
];

/// Writes `files` under `dir`, creating directories as needed.
pub fn write_all(dir: &Path, files: &[(&str, &str)]) -> Result<(), BuildError> {
    for (name, text) in files {
        let path = dir.join(name);
        let io = |source| BuildError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of an SDK directory is embedded (a new module would
    /// otherwise be missing from builds and fail only there).
    fn assert_complete(dir: &str, embedded: &[(&str, &str)], ext: &[&str]) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| ext.iter().any(|x| n.ends_with(x)))
            .collect();
        on_disk.sort();
        let mut ours: Vec<String> = embedded.iter().map(|(n, _)| n.to_string()).collect();
        ours.sort();
        assert_eq!(on_disk, ours, "{}", dir.display());
        for (name, text) in embedded {
            assert_eq!(
                std::fs::read_to_string(dir.join(name)).unwrap(),
                *text,
                "{name}"
            );
        }
    }

    #[test]
    fn sdks_are_embedded_whole() {
        assert_complete(
            "../sdk/python/src/airlock_sdk",
            PYTHON_SDK,
            &[".py", "py.typed"],
        );
        assert_complete("../sdk/js/src", JS_SDK, &[".js"]);
    }
}
