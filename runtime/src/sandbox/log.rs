//! Host side of `airlock:connector/log`: connector messages become `tracing`
//! events tagged with the job, bounded in size, with secrets masked.

use wasmtime::component::{HasSelf, Linker};

use super::bindings::wit_log::{self, Level};
use super::limits::{LimitExceeded, mib};
use crate::redact::Redactor;

/// Longest message kept; the rest is cut with a marker.
const MAX_MESSAGE: usize = 16 * 1024;

/// Per-store state of the log interface.
pub struct LogCtx {
    job: String,
    redactor: Redactor,
    max_payload: u64,
}

/// Access to [`LogCtx`] from a store's data.
pub trait LogView: Send {
    /// The log state.
    fn log(&mut self) -> &mut LogCtx;
}

impl LogCtx {
    /// Messages will be tagged with `job` and masked by `redactor`; one message
    /// may carry at most `max_payload` bytes.
    pub fn new(job: &str, redactor: Redactor, max_payload: u64) -> Self {
        LogCtx {
            job: job.to_owned(),
            redactor,
            max_payload,
        }
    }
}

/// Adds the log interface to `linker`.
pub fn add_to_linker<T: LogView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit_log::add_to_linker::<T, HasSelf<LogCtx>>(linker, T::log)
}

impl wit_log::Host for LogCtx {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if message.len() as u64 > self.max_payload {
            let (size_mb, limit_mb) = (mib(message.len() as u64), mib(self.max_payload));
            return Err(LimitExceeded::HostCall {
                call: "log",
                size_mb,
                limit_mb,
            }
            .into());
        }
        let mut msg = self.redactor.redact(&message);
        if msg.len() > MAX_MESSAGE {
            let cut = msg.floor_char_boundary(MAX_MESSAGE);
            msg = format!("{}… ({} bytes cut)", &msg[..cut], msg.len() - cut).into();
        }
        let job = &self.job;
        match level {
            Level::Trace => tracing::trace!(target: "airlock::connector", %job, "{msg}"),
            Level::Debug => tracing::debug!(target: "airlock::connector", %job, "{msg}"),
            Level::Info => tracing::info!(target: "airlock::connector", %job, "{msg}"),
            Level::Warn => tracing::warn!(target: "airlock::connector", %job, "{msg}"),
            Level::Error => tracing::error!(target: "airlock::connector", %job, "{msg}"),
        }
        Ok(())
    }
}
