//! `[config]`: the connector's own settings, handed to it as JSON with secret
//! references resolved.

use std::path::Path;

use serde_json::Value as Json;

use super::ConfigError;
use super::secret::secret_ref;
use crate::redact::Redactor;

/// Converts the table at `key` to JSON, resolving `{ env = ".." }` and
/// `{ file = ".." }` secret references on the way.
pub(super) fn resolve_table(
    table: &toml::Table,
    key: &str,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Json, ConfigError> {
    let mut out = serde_json::Map::with_capacity(table.len());
    for (k, v) in table {
        out.insert(
            k.clone(),
            resolve(v, &format!("{key}.{k}"), base, redactor)?,
        );
    }
    Ok(Json::Object(out))
}

fn resolve(
    v: &toml::Value,
    key: &str,
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
                    key,
                    format!("{f} cannot be represented in JSON; use a finite number"),
                )
            })?,
        T::Boolean(b) => Json::Bool(*b),
        T::Datetime(d) => Json::String(d.to_string()),
        T::Array(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| resolve(v, &format!("{key}[{i}]"), base, redactor))
                .collect::<Result<_, _>>()?,
        ),
        T::Table(t) => match secret_ref(t) {
            Some(r) => {
                let secret = r.resolve(key, base)?;
                redactor.add(&secret);
                Json::String(secret)
            }
            None => resolve_table(t, key, base, redactor)?,
        },
    })
}
