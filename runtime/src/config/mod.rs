//! The connection file: parsing, validation, defaults and secret references.
//!
//! Pure: no wasmtime, no sockets. Every error is a [`ConfigError`] that names
//! the key path (`limits.memory_mb`) or the file, and says what is expected. Secret values are resolved here, handed
//! to the connector inside its JSON config, and registered with a [`Redactor`] so
//! they never show up in a log line or an error.

mod endpoint;
mod error;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::redact::Redactor;

pub(crate) use endpoint::is_simple_name;
pub use endpoint::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_KEEPALIVE_COUNT, DEFAULT_KEEPALIVE_SECS, Endpoint,
    HostKeyCheck, PrivateEndpoint, Provider, ReverseSshRoute, Route, Secret, SshAuth, SshHop,
    SshRoute, Tls, TlsMode,
};
pub use error::ConfigError;

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
    fn validate(&self) -> Result<(), ConfigError> {
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
        let raw: RawConfig = deserialize(text)?;

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
        let connector_config = resolve_table(&raw.config, "config", base, &mut redactor)?;
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

/// Deserializes with the failing key's path in the message, and the line it is on.
fn deserialize<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Toml {
        problem: with_line(text, &e),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let problem = with_line(text, &e.into_inner());
        if path == "." || path.is_empty() {
            ConfigError::Toml { problem }
        } else {
            ConfigError::Key { key: path, problem }
        }
    })
}

fn with_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().to_owned();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{msg} (line {line})")
        }
        None => msg,
    }
}

/// Converts the `[config]` table to JSON, resolving `{ env = ".." }` and
/// `{ file = ".." }` secret references on the way.
fn resolve_table(
    table: &toml::Table,
    path: &str,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Json, ConfigError> {
    let mut out = serde_json::Map::with_capacity(table.len());
    for (k, v) in table {
        out.insert(
            k.clone(),
            resolve(v, &format!("{path}.{k}"), base, redactor)?,
        );
    }
    Ok(Json::Object(out))
}

fn resolve(
    v: &toml::Value,
    path: &str,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Json, ConfigError> {
    use toml::Value as T;
    Ok(match v {
        T::String(s) => Json::String(s.clone()),
        T::Integer(i) => Json::from(*i),
        T::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| {
                ConfigError::key(
                    path,
                    format!("{f} cannot be represented in JSON; use a finite number"),
                )
            })?,
        T::Boolean(b) => Json::Bool(*b),
        T::Datetime(d) => Json::String(d.to_string()),
        T::Array(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| resolve(v, &format!("{path}[{i}]"), base, redactor))
                .collect::<Result<_, _>>()?,
        ),
        T::Table(t) => match secret_ref(t) {
            Some(r) => {
                let secret = r.resolve(path, base)?;
                redactor.add(&secret);
                Json::String(secret)
            }
            None => resolve_table(t, path, base, redactor)?,
        },
    })
}

enum SecretRef<'a> {
    Env(&'a str),
    File(&'a str),
}

/// A table with a single string key `env` or `file` is a secret reference.
fn secret_ref(t: &toml::Table) -> Option<SecretRef<'_>> {
    if t.len() != 1 {
        return None;
    }
    match t.iter().next()? {
        (k, toml::Value::String(v)) if k == "env" => Some(SecretRef::Env(v)),
        (k, toml::Value::String(v)) if k == "file" => Some(SecretRef::File(v)),
        _ => None,
    }
}

impl SecretRef<'_> {
    fn resolve(&self, path: &str, base: &Path) -> Result<String, ConfigError> {
        match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|e| match e {
                std::env::VarError::NotPresent => ConfigError::key(
                    path,
                    format!(
                        "environment variable {var} is not set; export it, or give the secret as {{ file = \"...\" }}"
                    ),
                ),
                std::env::VarError::NotUnicode(_) => ConfigError::key(
                    path,
                    format!("environment variable {var} is not valid UTF-8"),
                ),
            }),
            SecretRef::File(file) => {
                let p = base.join(file);
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    ConfigError::key(
                        path,
                        format!("cannot read secret file {}: {e}", p.display()),
                    )
                })?;
                // Files written by editors and `echo` end in a newline that is not part of the secret.
                Ok(text.trim_end_matches(['\n', '\r']).to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message, as the user sees it: the assertions compare words.
    fn parse(text: &str) -> Result<JobConfig, String> {
        JobConfig::parse(text, Path::new("/jobs"), "shop").map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_file_gets_defaults_and_absolute_paths() {
        let c =
            parse("connector = \"hello.wasm\"\n[destination]\nduckdb = \"out.duckdb\"\n").unwrap();
        assert_eq!(c.name, "shop");
        assert_eq!(c.connector, Path::new("/jobs/hello.wasm"));
        assert_eq!(
            c.destination,
            Some(Destination::DuckDb("/jobs/out.duckdb".into()))
        );
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.connector_config, serde_json::json!({}));
        assert!(c.scratch_dir.is_none());
    }

    #[test]
    fn config_table_becomes_json() {
        let c = parse(
            r#"
            name = "orders"
            connector = "c.wasm"
            [config]
            users = 10
            ratio = 0.5
            on = true
            tags = ["a", "b"]
            since = 2024-01-02T03:04:05Z
            [config.nested]
            deep = "x"
            "#,
        )
        .unwrap();
        assert_eq!(c.name, "orders");
        assert_eq!(
            c.connector_config,
            serde_json::json!({"users": 10, "ratio": 0.5, "on": true, "tags": ["a","b"],
                "since": "2024-01-02T03:04:05Z", "nested": {"deep": "x"}})
        );
    }

    #[test]
    fn secrets_resolve_from_env_and_file_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "file-secret-1\n").unwrap();
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("AIRLOCK_TEST_SECRET_A", "env-secret-1") };
        let c = JobConfig::parse(
            "connector = \"c.wasm\"\n[config]\npassword = { env = \"AIRLOCK_TEST_SECRET_A\" }\n\
             token = { file = \"pw\" }\nplain = { env = \"X\", other = 1 }\n",
            dir.path(),
            "j",
        )
        .unwrap();
        assert_eq!(c.connector_config["password"], "env-secret-1");
        assert_eq!(c.connector_config["token"], "file-secret-1");
        // A table with more keys is ordinary data, not a reference.
        assert_eq!(
            c.connector_config["plain"],
            serde_json::json!({"env": "X", "other": 1})
        );
        assert_eq!(
            c.redactor.redact("auth env-secret-1 / file-secret-1"),
            "auth *** / ***"
        );
    }

    #[test]
    fn missing_secret_names_the_key_and_the_variable_not_a_value() {
        let e = parse("connector = \"c.wasm\"\n[config]\ndb = { password = { env = \"AIRLOCK_SURELY_UNSET\" } }\n")
            .unwrap_err();
        assert_eq!(
            e,
            "config.db.password: environment variable AIRLOCK_SURELY_UNSET is not set; \
             export it, or give the secret as { file = \"...\" }"
        );
        let e =
            parse("connector = \"c.wasm\"\n[config]\nkey = { file = \"nope/key\" }\n").unwrap_err();
        assert!(
            e.starts_with("config.key: cannot read secret file /jobs/nope/key"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_key_path_and_line() {
        let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = \"lots\"\n").unwrap_err();
        assert!(
            e.starts_with("limits.memory_mb: invalid type: string \"lots\", expected u64"),
            "{e}"
        );
        assert!(e.ends_with("(line 3)"), "{e}");

        let e = parse("connector = \"c.wasm\"\n[limits]\nmemroy_mb = 5\n").unwrap_err();
        assert!(
            e.contains("unknown field `memroy_mb`, expected one of"),
            "{e}"
        );
        assert!(e.starts_with("limits"), "{e}");

        let e = parse("connecter = \"c.wasm\"\n").unwrap_err();
        assert!(e.contains("unknown field `connecter`"), "{e}");

        let e = parse("[config]\nx = 1\n").unwrap_err();
        assert!(e.contains("missing field `connector`"), "{e}");

        let e = parse("connector = \"c.wasm\"\n[destination]\nduckdb = 3\n").unwrap_err();
        assert!(
            e.starts_with("destination.duckdb: invalid type: integer `3`"),
            "{e}"
        );
    }

    #[test]
    fn limits_are_validated() {
        let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 0\n").unwrap_err();
        assert_eq!(e, "limits.memory_mb: must be at least 1");
        let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 10000\n").unwrap_err();
        assert!(e.contains("at most 4096"), "{e}");
        let c = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 64\ncall_timeout_secs = 2\n")
            .unwrap();
        assert_eq!(c.limits.memory_mb, 64);
        assert_eq!(c.limits.call_timeout_secs, 2);
        assert_eq!(c.limits.buffered_rows, Limits::default().buffered_rows);
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let e = parse("connector = \"c.wasm\"\n[config\n").unwrap_err();
        assert!(e.contains("(line 2)"), "{e}");
    }

    #[test]
    fn destination_is_required_only_where_needed() {
        let c = parse("connector = \"c.wasm\"\n").unwrap();
        assert!(
            c.require_destination()
                .unwrap_err()
                .to_string()
                .contains("[destination]")
        );
    }
}
