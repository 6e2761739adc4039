//! `[limits]`: what one job's connector may use.

use serde::Deserialize;

use super::ConfigError;

/// Per-job sandbox limits. Every one has a default; `[limits]` overrides them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest linear memory the connector may grow to, in MiB.
    pub memory_mb: u64,
    /// Wall-clock time one call into the connector (`spec`, `check`, `discover`,
    /// `sync`) may take, in seconds.
    pub call_timeout_secs: u64,
    /// Largest payload one host call (`upsert`, `delete`, `checkpoint`, `log`)
    /// may carry, in MiB.
    pub host_call_mb: u64,
    /// Most handles (streams, connections) the connector may hold open at once.
    pub resources: u32,
    /// Rows the host holds uncommitted in memory before it forces them to the
    /// destination (rows a destination appends as they arrive are its own to
    /// hold; DuckDB commits those at least every 5 s).
    pub buffered_rows: u64,
    /// Network connections the connector may hold open at once.
    pub connections: u32,
    /// Bytes buffered per connection and direction, in KiB: what the host reads
    /// ahead of the connector, and what it holds of the connector's writes.
    pub connection_buffer_kb: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 512,
            call_timeout_secs: 3600,
            host_call_mb: 64,
            resources: 1024,
            buffered_rows: 100_000,
            connections: 16,
            connection_buffer_kb: 256,
        }
    }
}

impl Limits {
    /// Refuses limits no job could run under.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("limits.memory_mb", self.memory_mb),
            ("limits.call_timeout_secs", self.call_timeout_secs),
            ("limits.host_call_mb", self.host_call_mb),
            ("limits.resources", u64::from(self.resources)),
            ("limits.buffered_rows", self.buffered_rows),
            ("limits.connections", u64::from(self.connections)),
            (
                "limits.connection_buffer_kb",
                u64::from(self.connection_buffer_kb),
            ),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(ConfigError::key(key, "must be at least 1"));
            }
        }
        // A 32-bit wasm memory cannot exceed 4 GiB; a larger limit would read as
        // "unlimited" while promising something the engine cannot give.
        if self.memory_mb > 4096 {
            return Err(ConfigError::key(
                "limits.memory_mb",
                format!(
                    "{} is more than a 32-bit connector can address; use at most 4096",
                    self.memory_mb
                ),
            ));
        }
        Ok(())
    }
}
