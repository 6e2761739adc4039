//! The connection file: parsing, validation, defaults and secret references.
//!
//! Pure: no wasmtime, no sockets. Every error is a [`ConfigError`] that names
//! the key path (`limits.memory_mb`) or the file, and says what is expected.
//! Secret values are resolved here, handed to the connector inside its JSON
//! config, and registered with a [`Redactor`] so they never show up in a log
//! line or an error.
//!
//! One file per part of the file: `limits.rs` (`[limits]`),
//! `connector_config.rs` (`[config]`), `secret.rs` (secret references),
//! `endpoint/` (`[endpoints]`, one file per route), and the pieces they share:
//! `error.rs`, `de.rs` (TOML with key paths and lines), `host_port.rs`.

mod connector_config;
mod de;
mod endpoint;
mod error;
mod host_port;
mod limits;
mod secret;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::redact::Redactor;

pub(crate) use endpoint::is_simple_name;
pub use endpoint::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_KEEPALIVE_COUNT, DEFAULT_KEEPALIVE_SECS, Endpoint,
    HostKeyCheck, PrivateEndpoint, Provider, ReverseSshRoute, Route, SshAuth, SshHop, SshRoute,
    Tls, TlsMode,
};
pub use error::ConfigError;
pub use host_port::split_host_port;
pub use limits::Limits;
pub use secret::Secret;

/// A validated connection file, with paths made absolute and secrets resolved.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Name of the job; the destination keeps one state per name.
    pub name: String,
    /// The connector: a `.wasm` component, or a Rust crate directory to build.
    pub connector: PathBuf,
    /// The connector's own config, handed to it as JSON (secrets resolved).
    pub connector_config: Json,
    /// Where records go, if configured (required by `sync` and `reset`).
    pub destination: Option<Destination>,
    /// Sandbox limits.
    pub limits: Limits,
    /// Directory preopened for the connector as `/scratch`, if any.
    pub scratch_dir: Option<PathBuf>,
    /// The network handles the connector may open, sorted by name.
    pub endpoints: Vec<Endpoint>,
    /// Masks every secret value resolved from this file.
    pub redactor: Redactor,
}

/// Where a job's records and state are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An embedded DuckDB database file.
    DuckDb(PathBuf),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    connector: PathBuf,
    #[serde(default)]
    config: toml::Table,
    destination: Option<RawDestination>,
    #[serde(default)]
    limits: Limits,
    scratch_dir: Option<PathBuf>,
    #[serde(default)]
    endpoints: BTreeMap<String, endpoint::RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    duckdb: PathBuf,
}

impl JobConfig {
    /// Reads and validates a connection file. Relative paths in it are relative
    /// to the file's directory.
    pub fn load(path: &Path) -> Result<JobConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        // Absolute, so paths in the file mean the same whatever directory they are used from.
        // A bare `airlock.toml` has the parent "", which is the current directory.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let default_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("job");
        Self::parse(&text, &base, default_name).map_err(|error| ConfigError::Invalid {
            file: path.to_owned(),
            error: Box::new(error),
        })
    }

    /// Parses connection-file text. `base` anchors relative paths; `default_name`
    /// is the job name when the file sets none.
    pub fn parse(text: &str, base: &Path, default_name: &str) -> Result<JobConfig, ConfigError> {
        let raw: RawConfig = de::deserialize(text)?;

        let name = raw.name.unwrap_or_else(|| default_name.to_owned());
        if name.trim().is_empty() {
            return Err(ConfigError::key("name", "must not be empty"));
        }
        raw.limits.validate()?;
        if raw.connector.as_os_str().is_empty() {
            return Err(ConfigError::key(
                "connector",
                "must be the path of a .wasm component or a connector crate directory",
            ));
        }

        let mut redactor = Redactor::default();
        let connector_config =
            connector_config::resolve_table(&raw.config, "config", base, &mut redactor)?;
        let endpoints = endpoint::resolve_endpoints(raw.endpoints, base, &mut redactor)?;

        Ok(JobConfig {
            name,
            connector: base.join(raw.connector),
            connector_config,
            destination: raw
                .destination
                .map(|d| Destination::DuckDb(base.join(d.duckdb))),
            limits: raw.limits,
            scratch_dir: raw.scratch_dir.map(|p| base.join(p)),
            endpoints,
            redactor,
        })
    }

    /// The destination, or an error saying how to configure one.
    pub fn require_destination(&self) -> Result<&Destination, ConfigError> {
        self.destination.as_ref().ok_or_else(|| {
            ConfigError::key(
                "destination",
                "missing; add a `[destination]` table with `duckdb = \"warehouse.duckdb\"`",
            )
        })
    }
}
