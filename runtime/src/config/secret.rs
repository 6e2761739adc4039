//! Secret references, `{ env = "VAR" }` and `{ file = "path" }`: resolved by the
//! host, registered with the job's [`Redactor`], never written in the file.

use std::fmt;
use std::path::Path;

use super::ConfigError;
use crate::redact::Redactor;

/// A secret value (key material, passphrase, password). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (for tests and for tools that hold a secret in memory).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call sites are the few places that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret's value comes from.
pub(super) enum SecretRef<'a> {
    /// An environment variable of the airlock process.
    Env(&'a str),
    /// A file, relative to the connection file's directory.
    File(&'a str),
}

/// A table with a single string key `env` or `file` is a secret reference.
pub(super) fn secret_ref(t: &toml::Table) -> Option<SecretRef<'_>> {
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
    /// The value; errors name `key` and the variable or file, never a value.
    pub(super) fn resolve(&self, key: &str, base: &Path) -> Result<String, ConfigError> {
        match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|e| match e {
                std::env::VarError::NotPresent => ConfigError::key(
                    key,
                    format!(
                        "environment variable {var} is not set; export it, or give the secret as {{ file = \"...\" }}"
                    ),
                ),
                std::env::VarError::NotUnicode(_) => ConfigError::key(
                    key,
                    format!("environment variable {var} is not valid UTF-8"),
                ),
            }),
            SecretRef::File(file) => {
                let p = base.join(file);
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    ConfigError::key(
                        key,
                        format!("cannot read secret file {}: {e}", p.display()),
                    )
                })?;
                // Files written by editors and `echo` end in a newline that is not part of the secret.
                Ok(text.trim_end_matches(['\n', '\r']).to_owned())
            }
        }
    }
}

/// A transport credential at `key`: must be a `{ env }` or `{ file }` reference,
/// so it is not written in the connection file itself.
pub(super) fn credential(
    v: &toml::Value,
    key: &str,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Secret, ConfigError> {
    let r = match v {
        toml::Value::Table(t) => secret_ref(t),
        _ => None,
    }
    .ok_or_else(|| {
        ConfigError::key(
            key,
            "give it as { file = \"...\" } or { env = \"VAR\" }, not inline",
        )
    })?;
    let value = r.resolve(key, base)?;
    // Each line on its own too: a log line may quote one line of a key file.
    for line in value.lines() {
        redactor.add(line.trim());
    }
    redactor.add(&value);
    Ok(Secret(value))
}
