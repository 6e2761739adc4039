//! [`ConfigError`]: what is wrong with a connection file, and where.

use std::path::PathBuf;

/// A problem with a connection file. `Display` is the message for the user.
///
/// Most problems are about one key ([`ConfigError::Key`]): the key path says
/// where (`endpoints.db.via.ssh.host`, `limits.memory_mb`, `config.password`),
/// the problem what is wrong and how to fix it. The words are the user's
/// interface, so they are built here once and tests compare them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A problem inside the file [`JobConfig::load`](super::JobConfig::load) read.
    #[error("{file}: {error}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong in it. Shown as part of this error's message, so it is
        /// not also its `source()` (that would print it twice in a chain).
        error: Box<ConfigError>,
    },
    /// A key has a value that is missing, of the wrong shape, or not allowed.
    #[error("{key}: {problem}")]
    Key {
        /// The key's path from the top of the file: `endpoints.db.via.ssh.jump[0]`.
        key: String,
        /// What is wrong and what to do, with the line when the TOML reader knows it.
        problem: String,
    },
    /// The text is not valid TOML, or the file as a whole lacks a key it must
    /// have: there is no single key to name. The problem gives the line.
    #[error("{problem}")]
    Toml {
        /// What the TOML reader found, and on which line.
        problem: String,
    },
}

impl ConfigError {
    /// A problem with the value at `key`.
    pub fn key(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The path of the key the problem is about, if it is about one key (also
    /// through [`ConfigError::Invalid`]).
    pub fn key_path(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            ConfigError::Invalid { error, .. } => error.key_path(),
            ConfigError::Read { .. } | ConfigError::Toml { .. } => None,
        }
    }
}
