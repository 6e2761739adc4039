//! Where airlock keeps what it caches by default: `$XDG_CACHE_HOME/airlock`,
//! else `$HOME/.cache/airlock`. Compiled components go in its `components/`,
//! Python and JavaScript build tools and builds in `tools/` and `builds/`.
//! The command's `--cache-dir` (`AIRLOCK_CACHE_DIR`) replaces it; library
//! callers pass their own directories.

use std::path::{Path, PathBuf};

/// The default cache root, or `None` when neither `XDG_CACHE_HOME` nor `HOME`
/// is set.
pub fn default_cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("airlock"))
}
