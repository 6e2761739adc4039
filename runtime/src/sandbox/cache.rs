//! On-disk cache of compiled components.
//!
//! Compiling a connector with Cranelift takes seconds; loading the compiled
//! artifact takes milliseconds. Entries are keyed by the SHA-256 of the component
//! bytes *and* the engine's compatibility hash (wasmtime version, target, and
//! every setting that changes code generation), so an upgrade or a config change
//! never loads an artifact built for another engine.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of `<key>.cwasm` files.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
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
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ComponentCache { dir: dir.into() }
    }

    /// `$AIRLOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/airlock/components`, else
    /// `$HOME/.cache/airlock/components`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("AIRLOCK_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(base.join("airlock").join("components"))
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
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
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
        Ok(())
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
