//! On-disk cache of compiled components.
//!
//! Compiling a connector with Cranelift takes seconds; loading the compiled
//! artifact takes milliseconds. Entries are keyed by the SHA-256 of the component
//! bytes *and* the engine's compatibility hash (wasmtime version, target, and
//! every setting that changes code generation), so an upgrade or a config change
//! never loads an artifact built for another engine.
//!
//! The directory stays within a size bound (a Python connector compiles to
//! ~35 MB): after each store the least recently used entries are removed
//! until the total fits. A load marks its entry used (its modification time),
//! so entries in use by any process sharing the directory stay.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The default bound on the cache directory's compiled components, in MiB;
/// `AIRLOCK_CACHE_MAX_MB` sets another.
pub const DEFAULT_MAX_MB: u64 = 512;

/// A directory of `<key>.cwasm` files.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// Whether a load found the artifact already compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artifact.
    Hit,
    /// Compiled now (and stored, when the cache is writable).
    Miss,
    /// No cache configured: compiled now.
    Disabled,
}

impl ComponentCache {
    /// A cache in `dir` (created on first store), bounded by
    /// `AIRLOCK_CACHE_MAX_MB` (default [`DEFAULT_MAX_MB`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let mb = std::env::var("AIRLOCK_CACHE_MAX_MB")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_MAX_MB);
        ComponentCache::with_max_bytes(dir, mb.saturating_mul(1 << 20))
    }

    /// A cache in `dir` that keeps at most `max_bytes` of compiled components
    /// (the newest one is kept even when it alone is larger).
    pub fn with_max_bytes(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        ComponentCache {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// `components/` under [`crate::dirs::default_cache_root`].
    pub fn default_dir() -> Option<PathBuf> {
        crate::dirs::default_cache_root().map(|root| root.join("components"))
    }

    /// Loads the compiled form of `wasm`, compiling and storing it on a miss.
    /// A damaged or unreadable entry is recompiled, never trusted.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{}.cwasm", key(engine, wasm)));
        if path.is_file() {
            // SAFETY: files in the cache directory are written only by `store`
            // below, from `Component::serialize` of this same engine
            // configuration (the key includes the compatibility hash), and
            // renamed into place whole, so a reader never sees a partial file.
            // Wasmtime additionally checks the header and version on load.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => {
                    touch(&path);
                    return Ok((c, CacheOutcome::Hit));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cached component: {e:#}")
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Err(e) = self.store(&path, &component) {
            // A read-only or full disk slows the next start down; it must not fail this one.
            tracing::warn!(dir = %self.dir.display(), "could not cache the compiled component: {e:#}");
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component.serialize()?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path)?;
        self.evict(path);
        Ok(())
    }

    /// Removes least recently used entries (never `keep`) until the
    /// directory's compiled components fit the bound.
    fn evict(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_bytes {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    total -= len;
                    tracing::debug!(path = %path.display(), "evicted a compiled component (cache over {} MiB)", self.max_bytes >> 20);
                }
                // Another process evicted it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= len,
                Err(e) => {
                    tracing::warn!(path = %path.display(), "could not evict a cached component: {e}")
                }
            }
        }
    }
}

/// Marks `path` used now, for least-recently-used eviction (best effort:
/// a read-only cache still loads).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(wasm);
    // `DefaultHasher::new()` uses fixed keys, so this is stable from run to run;
    // should a Rust release change the algorithm, entries just miss once.
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    h.update(compat.finish().to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn entry(dir: &Path, name: &str, len: usize, age_secs: u64) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
        p
    }

    #[test]
    fn evicts_least_recently_used_first_and_keeps_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let cache = ComponentCache::with_max_bytes(d.path(), 250);
        let old = entry(d.path(), "a.cwasm", 100, 300);
        let used = entry(d.path(), "b.cwasm", 100, 200);
        let other = entry(d.path(), "notes.txt", 1000, 400);
        touch(&used); // loaded just now: most recently used
        let new = entry(d.path(), "c.cwasm", 100, 0);
        cache.evict(&new);
        assert!(!old.exists(), "the least recently used entry goes");
        assert!(used.exists() && new.exists());
        assert!(other.exists(), "only compiled components count and go");

        let huge = entry(d.path(), "d.cwasm", 1000, 0);
        cache.evict(&huge);
        assert!(
            huge.exists(),
            "the entry just stored stays, even alone over the bound"
        );
        assert!(!used.exists() && !new.exists());
    }
}
