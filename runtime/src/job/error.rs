//! Why a job could not do its work, built from the error of the step that
//! failed: bad input (exit 2) or a failed run (exit 1).

use crate::config::ConfigError;
use crate::guest_build::BuildError;
use crate::net::NetError;
use crate::sandbox::{ConnectorError, ErrorKind, LoadError, Trap};
use crate::sink::SinkError;

use super::WriteError;

/// Why a job could not do its work. [`JobError::exit_code`] maps it to the
/// command's exit status.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Bad usage, config or connector file: the user must fix the input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The connector or the source failed (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl JobError {
    /// 2 for bad input, 1 for a failed run.
    pub fn exit_code(&self) -> i32 {
        match self {
            JobError::Usage(_) => 2,
            JobError::Failed(_) => 1,
        }
    }
}

impl From<ConnectorError> for JobError {
    fn from(e: ConnectorError) -> Self {
        match e.kind {
            // The connector says its config is wrong: that is the user's input.
            ErrorKind::Config => JobError::Usage(e.to_string()),
            _ => JobError::Failed(e.to_string()),
        }
    }
}

impl From<Trap> for JobError {
    fn from(t: Trap) -> Self {
        JobError::Failed(t.to_string())
    }
}

/// A connection file, or a part of it, that cannot be used is the user's input.
impl From<ConfigError> for JobError {
    fn from(e: ConfigError) -> Self {
        JobError::Usage(e.to_string())
    }
}

/// A connector directory that does not build is the user's input (the
/// build tool's own message is in it).
impl From<BuildError> for JobError {
    fn from(e: BuildError) -> Self {
        JobError::Usage(e.to_string())
    }
}

/// A file that is not a connector component, or one of another contract
/// version, is the user's input.
impl From<LoadError> for JobError {
    fn from(e: LoadError) -> Self {
        JobError::Usage(e.to_string())
    }
}

/// The destination failed the run (a schema conflict included: the fix is
/// in the destination, which is not the job's input).
impl From<SinkError> for JobError {
    fn from(e: SinkError) -> Self {
        JobError::Failed(e.to_string())
    }
}

impl From<WriteError> for JobError {
    fn from(e: WriteError) -> Self {
        JobError::Failed(e.to_string())
    }
}

/// A network failure on the way to a source or a destination fails the run.
impl From<NetError> for JobError {
    fn from(e: NetError) -> Self {
        JobError::Failed(e.to_string())
    }
}
