//! Why a records call was refused.

use crate::schema::SchemaError;
use crate::sink::SinkError;

/// Why a records call was refused. The message is for the connector author.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// A row, key or column batch that does not match its table.
    #[error("{0}")]
    Invalid(#[from] SchemaError),
    /// A table `discover` did not return.
    #[error(
        "table `{table}` was not returned by `discover` (tables: {}); declare it there first",
        .known.join(", ")
    )]
    UnknownTable {
        /// The table the call named.
        table: String,
        /// The tables `discover` returned, sorted.
        known: Vec<String>,
    },
    /// An earlier call failed (this error): once one has, nothing more is
    /// accepted, so a connector that ignores an error cannot lose rows silently.
    #[error("an earlier records call failed: {0}")]
    AfterFailure(Box<WriteError>),
    /// The destination failed.
    #[error("destination: {0}")]
    Destination(#[from] SinkError),
}
