//! Why a destination refused or failed an operation: a kind a program can act
//! on (retry a locked file, stop on a schema conflict), the table involved, and
//! the sentence a person reads.

use crate::net::NetError;
use crate::schema::SchemaError;

/// The broad reason a destination operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkErrorKind {
    /// The destination cannot be opened or reached (a missing directory, no
    /// permission, a network destination that cannot be dialed).
    Unavailable,
    /// Another process holds the destination (DuckDB allows one writer per file).
    Locked,
    /// A table in the destination conflicts with the declared one (a changed
    /// column type or primary key); airlock does not convert existing data.
    SchemaConflict,
    /// A value the destination refused (it does not fit its declared type:
    /// decimal precision and scale, invalid JSON).
    BadValue,
    /// The operation breaks the sink's contract: a table that was not
    /// prepared, a bad table declaration, a delete on a table without a key.
    Refused,
    /// The destination's storage failed: an I/O error, a full disk, out of memory.
    Io,
    /// The destination took nothing, or did not finish, within its wait.
    Stuck,
    /// Any other failure of the destination's engine.
    Database,
    /// The destination crashed, or was used after it was closed.
    Internal,
}

/// A destination failure. `message` is the whole sentence the user reads: it
/// names the table itself and says what to do; `kind` and `table` say the same
/// for a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// The broad reason.
    pub kind: SinkErrorKind,
    /// The table the operation was about, if it was about one.
    pub table: Option<String>,
    /// The message for the user.
    pub message: String,
}

impl SinkError {
    /// An error of `kind` about no table in particular.
    pub fn new(kind: SinkErrorKind, message: impl Into<String>) -> SinkError {
        SinkError {
            kind,
            table: None,
            message: message.into(),
        }
    }

    /// The same error, about `table`.
    pub fn in_table(mut self, table: &str) -> SinkError {
        self.table = Some(table.to_owned());
        self
    }
}

/// A network destination reaches its server through the job's dialer: a
/// connection that cannot be made leaves the destination unavailable, with
/// the dialer's words (endpoint, host, fingerprint) as the message.
impl From<NetError> for SinkError {
    fn from(e: NetError) -> Self {
        SinkError::new(SinkErrorKind::Unavailable, e.to_string())
    }
}

/// A table declaration the destination cannot take is refused with the
/// schema's own words.
impl From<SchemaError> for SinkError {
    fn from(e: SchemaError) -> Self {
        SinkError::new(SinkErrorKind::Refused, e.message).in_table(&e.table)
    }
}
