//! The error a connector returns, and its kind.

use std::fmt;

use crate::bindings::airlock::connector::types as wit;

/// What kind of failure an [`Error`] is, so the host can tell the user where to look.
///
/// `Config`: the user must change the connector's config. `Auth`: the source refused
/// the credentials. `Network`: the source could not be reached. `Source`: the source
/// answered with an error (missing table, permission, ...). `Internal`: a bug or an
/// unexpected state in the connector.
pub use wit::ErrorKind;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure to report to the host: a [`kind`](ErrorKind) and a message a person
/// can act on. Never put secrets in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Where the user should look.
    pub kind: ErrorKind,
    /// What went wrong, for a person to read.
    pub message: String,
}

impl Error {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The connector's config is wrong: the user must change it.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// The source refused the credentials.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// The source could not be reached.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Network, message)
    }

    /// The source answered with an error (missing table, permission, ...).
    ///
    /// This is an associated function: `Error::source("...")` builds an error, while
    /// `err.source()` is still [`std::error::Error::source`].
    pub fn source(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Source, message)
    }

    /// A bug or an unexpected state in the connector.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl ErrorKind {
    /// The kind's name in the contract: `config`, `auth`, `network`, `source` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Network => "network",
            ErrorKind::Source => "source",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// A JSON failure inside the connector (e.g. serializing state) is a bug: `internal`.
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("JSON: {e}"))
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        Error {
            kind: e.kind,
            message: e.message,
        }
    }
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> Self {
        wit::Error {
            kind: e.kind,
            message: e.message,
        }
    }
}
