//! Reading TOML into the raw config types, with the failing key's path and
//! line in the error.

use super::ConfigError;

/// Deserializes with the failing key's path in the error, and the line it is on.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
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

/// The TOML reader's message, and the line its span starts on.
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
