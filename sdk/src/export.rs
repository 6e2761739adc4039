//! The glue between the contract's `source` export and a [`Connector`]:
//! [`export!`](crate::export) implements the generated `Guest` trait by calling
//! the functions here.

use serde::Deserialize;

use crate::bindings::airlock::connector::types as wit;
use crate::{Connector, Error, Output, Result};

/// Registers `$connector` (a type implementing [`Connector`](crate::Connector)) as
/// this component's `source` export. Use it once, at the top level of the crate:
///
/// ```ignore
/// airlock_sdk::export!(MyConnector);
/// ```
#[macro_export]
macro_rules! export {
    ($connector:ty) => {
        const _: () = {
            struct __AirlockSource;

            impl $crate::bindings::exports::airlock::connector::source::Guest for __AirlockSource {
                fn spec() -> ::std::string::String {
                    $crate::__private::spec::<$connector>()
                }
                fn check(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::check::<$connector>(&config)
                }
                fn discover(
                    config: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::__private::WitTableSchema>,
                    $crate::__private::WitError,
                > {
                    $crate::__private::discover::<$connector>(&config)
                }
                fn sync(
                    config: ::std::string::String,
                    state: ::std::option::Option<::std::string::String>,
                ) -> ::std::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::sync::<$connector>(&config, state.as_deref())
                }
            }

    $crate::__export_connector_impl!(__AirlockSource with_types_in $crate::bindings);
        };
    };
}

/// The contract's error record.
pub type WitError = wit::Error;
/// The contract's table-schema record.
pub type WitTableSchema = wit::TableSchema;

/// `spec`: the JSON Schema of `C::Config`, as JSON text.
pub fn spec<C: Connector>() -> String {
    let schema = schemars::schema_for!(C::Config);
    serde_json::to_string(&schema).expect("a JSON Schema serializes")
}

/// `check`: parse the config, then [`Connector::check`].
pub fn check<C: Connector>(config: &str) -> Result<(), WitError> {
    let config = parse_config::<C>(config)?;
    C::check(&config).map_err(Into::into)
}

/// `discover`: parse the config, then [`Connector::discover`].
pub fn discover<C: Connector>(config: &str) -> Result<Vec<WitTableSchema>, WitError> {
    let config = parse_config::<C>(config)?;
    let tables = C::discover(&config)?;
    Ok(tables.into_iter().map(Into::into).collect())
}

/// `sync`: parse config and state, run [`Connector::sync`], then send what it left
/// buffered.
pub fn sync<C: Connector>(config: &str, state: Option<&str>) -> Result<(), WitError> {
    let config = parse_config::<C>(config)?;
    let state = parse_state::<C>(state)?;
    let mut out = Output::new();
    C::sync(&config, state, &mut out)?;
    out.flush_all()?;
    Ok(())
}

/// Parses config JSON, naming the offending field in the error.
fn parse_config<C: Connector>(json: &str) -> Result<C::Config> {
    let mut de = serde_json::Deserializer::from_str(json);
    let config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            Error::config(format!("invalid config: {}", e.inner()))
        } else {
            Error::config(format!("invalid config at `{path}`: {}", e.inner()))
        }
    })?;
    de.end()
        .map_err(|e| Error::config(format!("invalid config: {e}")))?;
    Ok(config)
}

/// Parses the last committed state; none means a first run.
fn parse_state<C: Connector>(json: Option<&str>) -> Result<C::State> {
    let Some(json) = json else {
        return Ok(C::State::default());
    };
    let mut de = serde_json::Deserializer::from_str(json);
    C::State::deserialize(&mut de)
        .and_then(|s| de.end().map(|()| s))
        .map_err(|e| {
            Error::internal(format!(
                "the stored state does not match this connector ({e}); \
             run `airlock reset` to start over from a first sync"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnType, DecimalSpec, ErrorKind, Table};

    struct Demo;

    /// Demo config.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Config {
        /// How many.
        count: u64,
    }

    #[derive(serde::Serialize, serde::Deserialize, Default, Debug)]
    struct State {
        next: u64,
    }

    impl Connector for Demo {
        type Config = Config;
        type State = State;
        fn discover(_: &Config) -> Result<Vec<Table>> {
            Ok(vec![
                Table::new("t")
                    .column("id", ColumnType::Int)
                    .nullable("v", ColumnType::decimal(10, 2))
                    .primary_key(["id"]),
            ])
        }
        fn sync(_: &Config, _: State, _: &mut Output<State>) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spec_is_the_config_schema() {
        let spec: serde_json::Value = serde_json::from_str(&spec::<Demo>()).unwrap();
        assert_eq!(spec["properties"]["count"]["description"], "How many.");
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = check::<Demo>(r#"{"count": "x"}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("`count`"), "{}", e.message);
        let e = check::<Demo>("{}").unwrap_err();
        assert!(e.message.contains("missing field `count`"), "{}", e.message);
        assert!(check::<Demo>(r#"{"count": 1}"#).is_ok());
    }

    #[test]
    fn state_parsing() {
        assert_eq!(parse_state::<Demo>(None).unwrap().next, 0);
        assert_eq!(parse_state::<Demo>(Some(r#"{"next":7}"#)).unwrap().next, 7);
        let e = parse_state::<Demo>(Some("[]")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("airlock reset"), "{}", e.message);
    }

    #[test]
    fn discover_converts_tables() {
        let t = discover::<Demo>(r#"{"count": 1}"#).unwrap();
        assert_eq!(t[0].name, "t");
        assert_eq!(t[0].primary_key, ["id"]);
        assert!(t[0].columns[1].nullable);
        assert!(matches!(
            t[0].columns[1].type_,
            ColumnType::Decimal(DecimalSpec {
                precision: 10,
                scale: 2
            })
        ));
    }
}
