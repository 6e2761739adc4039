//! Per-job resource limits and the errors a connector gets when it hits one.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

use crate::config::Limits;

/// A limit the connector ran into. Carried as the trap's error so the caller can
/// tell the user which `[limits]` key to raise.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitExceeded {
    /// A call ran past its wall-clock budget.
    #[error(
        "the connector ran for more than {secs}s in one call (limits.call_timeout_secs = {secs}); \
         it was stopped. Raise the limit if the work is legitimate"
    )]
    Deadline {
        /// The budget.
        secs: u64,
    },
    /// The connector tried to grow its memory past the limit.
    #[error(
        "the connector tried to grow its memory to {desired_mb} MiB, over its limit of {limit_mb} MiB \
         (limits.memory_mb); it was stopped"
    )]
    Memory {
        /// The size asked for, rounded up.
        desired_mb: u64,
        /// The limit.
        limit_mb: u64,
    },
    /// One host call carried more data than allowed.
    #[error(
        "the connector passed {size_mb} MiB in one `{call}` call, over the limit of {limit_mb} MiB \
         (limits.host_call_mb); send smaller batches"
    )]
    HostCall {
        /// Which host function.
        call: &'static str,
        /// The size passed, rounded up.
        size_mb: u64,
        /// The limit.
        limit_mb: u64,
    },
}

const MIB: u64 = 1024 * 1024;

/// Rounds a byte count up to whole MiB for messages.
pub fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(MIB)
}

/// The store's [`ResourceLimiter`]: caps linear memory and wasm tables, and
/// allows a single component instance tree's worth of instances.
pub struct Limiter {
    memory_bytes: usize,
    memory_mb: u64,
}

impl Limiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: &Limits) -> Self {
        Limiter {
            memory_bytes: usize::try_from(limits.memory_mb * MIB).unwrap_or(usize::MAX),
            memory_mb: limits.memory_mb,
        }
    }
}

/// Most table elements (function references) a connector may hold: generous for
/// real programs, small enough that tables cannot be used to bypass the memory limit.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            // An error (not `Ok(false)`) traps right here with a message that names
            // the limit, instead of the guest's allocator aborting with an opaque trap.
            return Err(LimitExceeded::Memory {
                desired_mb: mib(desired as u64),
                limit_mb: self.memory_mb,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        // A component made by Rust's wasip2 toolchain has a handful of core
        // instances (the program, adapters, shims); leave room but stay finite.
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// Wall-clock budget of the call in progress, checked at every epoch tick.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<Instant>,
    secs: u64,
}

impl Deadline {
    /// No call in progress.
    pub fn idle(secs: u64) -> Self {
        Deadline { at: None, secs }
    }

    /// Starts the clock for a new call.
    pub fn start(&mut self) {
        self.at = Some(Instant::now() + Duration::from_secs(self.secs));
    }

    /// The budget of one call.
    pub fn budget(&self) -> Duration {
        Duration::from_secs(self.secs)
    }

    /// `Err` once the budget of the current call is spent.
    pub fn check(&self) -> Result<(), LimitExceeded> {
        match self.at {
            Some(at) if Instant::now() >= at => Err(LimitExceeded::Deadline { secs: self.secs }),
            _ => Ok(()),
        }
    }
}
