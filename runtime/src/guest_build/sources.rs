//! What a Python or JavaScript build depends on, hashed, so a build is reused
//! until one of its inputs changes; and the build directory's lock, so two
//! `airlock` processes building the same sources do the work once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::BuildError;

/// A connector with more source files than this is refused (it is most
/// likely a directory of something else, e.g. a home directory).
const MAX_FILES: usize = 20_000;

/// Directories never part of a connector's sources: dependencies, caches,
/// build output, version control.
const SKIP_DIRS: &[&str] = &["node_modules", "__pycache__", "target", "venv", "dist"];

/// A hash of everything a build reads.
pub struct SourceHash {
    hasher: Sha256,
    files: usize,
}

impl SourceHash {
    /// A hash that starts with what identifies the build (language, tool version).
    pub fn new(what: &str) -> SourceHash {
        let mut hasher = Sha256::new();
        hasher.update(what.as_bytes());
        SourceHash { hasher, files: 0 }
    }

    /// Adds named texts (the embedded contract and SDK).
    pub fn add_texts(&mut self, files: &[(&str, &str)]) {
        for (name, text) in files {
            self.add(name.as_bytes(), text.as_bytes());
        }
    }

    /// Adds one file, by its path relative to `root`.
    pub fn add_file(&mut self, root: &Path, path: &Path) -> Result<(), BuildError> {
        let bytes = std::fs::read(path).map_err(|source| BuildError::Io {
            path: path.to_owned(),
            source,
        })?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        self.add(rel.to_string_lossy().as_bytes(), &bytes);
        Ok(())
    }

    /// Adds every file under `dir` whose name ends with one of `exts`, in a
    /// stable order, skipping hidden directories and [`SKIP_DIRS`].
    pub fn add_tree(&mut self, root: &Path, dir: &Path, exts: &[&str]) -> Result<(), BuildError> {
        let io = |source| BuildError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let path = e.path();
            let ty = e.file_type().map_err(io)?;
            if ty.is_dir() {
                if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_ref()) {
                    self.add_tree(root, &path, exts)?;
                }
            } else if exts.iter().any(|x| name.ends_with(x)) {
                self.files += 1;
                if self.files > MAX_FILES {
                    return Err(BuildError::Project {
                        file: root.to_owned(),
                        problem: format!(
                            "more than {MAX_FILES} source files: is this the connector's directory?"
                        ),
                    });
                }
                self.add_file(root, &path)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, name: &[u8], bytes: &[u8]) {
        // Lengths first, so no two sets of files hash alike by shifting bytes.
        self.hasher.update((name.len() as u64).to_le_bytes());
        self.hasher.update(name);
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// The hash, as 64 hex digits.
    pub fn finish(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 8 hex digits of the SHA-256 of `s` (e.g. a directory's path).
pub fn short_hash(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes())[..4])
}

/// An exclusive lock on a file, released on drop.
pub struct Lock {
    _file: File,
}

/// How long to wait for another process's build or install before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(20 * 60);

impl Lock {
    /// Takes the lock on `path` (created if missing), waiting at most `wait`
    /// for another process to release it; `what` names the work, for the message.
    pub fn take(path: &Path, what: &str, wait: Duration) -> Result<Lock, BuildError> {
        let io = |source| BuildError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io)?;
        let started = Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !said {
                        tracing::info!("waiting for another airlock to {what}");
                        said = true;
                    }
                    if started.elapsed() > wait {
                        return Err(BuildError::Tool {
                            what: what.to_owned(),
                            problem: format!(
                                "another process has held {} for more than {} s; \
                                 if no other airlock is running, delete that file",
                                path.display(),
                                wait.as_secs()
                            ),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

/// Removes the builds in `dir` whose names start with `prefix` but are not
/// `keep`: older builds of the same connector (each can be tens of MB).
pub fn remove_stale(dir: &Path, prefix: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with(prefix) && path != keep {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Where builds live inside the cache directory `root`.
pub fn builds_dir(root: &Path) -> PathBuf {
    root.join("builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_contents_names_and_kept_extensions_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(p.join(".git")).unwrap();
        std::fs::write(p.join("pkg/a.py"), "x = 1").unwrap();
        let hash = || {
            let mut h = SourceHash::new("python");
            h.add_tree(p, p, &[".py"]).unwrap();
            h.finish()
        };
        let first = hash();
        std::fs::write(p.join("pkg/__pycache__/a.cpython.py"), "junk").unwrap();
        std::fs::write(p.join(".git/x.py"), "junk").unwrap();
        std::fs::write(p.join("out.duckdb"), "junk").unwrap();
        assert_eq!(
            hash(),
            first,
            "caches, hidden dirs and other files do not count"
        );
        std::fs::write(p.join("pkg/a.py"), "x = 2").unwrap();
        assert_ne!(hash(), first);
        std::fs::write(p.join("pkg/a.py"), "x = 1").unwrap();
        assert_eq!(hash(), first);
        std::fs::rename(p.join("pkg/a.py"), p.join("pkg/b.py")).unwrap();
        assert_ne!(hash(), first, "a renamed module is another build");
    }

    #[test]
    fn a_lock_is_exclusive_and_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("x.lock");
        let held = Lock::take(&path, "test", LOCK_WAIT).unwrap();
        let e = Lock::take(&path, "build x", Duration::from_millis(300));
        assert!(
            matches!(&e, Err(BuildError::Tool { problem, .. }) if problem.contains("x.lock")),
            "{:?}",
            e.err()
        );
        drop(held);
        Lock::take(&path, "test", Duration::from_millis(300)).unwrap();
    }
}
