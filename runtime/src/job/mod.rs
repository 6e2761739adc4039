//! One job: connection file → connector → instance → `sync(state)` → records →
//! commit. Also the smaller commands built from the same steps (`spec`,
//! `check`, `discover`, `reset`).
//!
//! The order matters for "bad input writes nothing": the config is validated and
//! the connector loaded, instantiated and asked for its tables *before* the
//! destination is opened.
//!
//! Files: `connector` (load, instantiate, `spec`, `check`, `discover`),
//! `endpoints` (the job's network and `check`'s walk through it), `sync` (a
//! sync end to end, `reset`), `writer` (records on their way to the
//! destination: validation, the bounded queue, the sink thread), `progress`
//! (live counters), `error` (why a job failed).

mod connector;
mod endpoints;
mod error;
mod progress;
mod sync;
mod writer;

pub use connector::{check, connector_file, discover, load, spec};
pub use endpoints::{EndpointCheck, check_endpoints, network};
pub use error::JobError;
pub use progress::{Progress, Snapshot, TableStats, thousands};
pub use sync::{SyncReport, reset, sync};
pub use writer::{WriteError, Writer};

use std::path::PathBuf;

use crate::net::{Dialer, EgressPolicy};
use crate::sandbox::{Sandbox, SandboxOptions};

/// What every job of a process shares: the wasmtime engine (and its cache of
/// compiled connectors), the network dialer (the operator's egress policy and
/// the SSH session pool), and where connector sources are built.
pub struct Runtime {
    /// Engine, linker and component cache.
    pub sandbox: Sandbox,
    /// The way out for every connection of every job.
    pub dialer: Dialer,
    /// Where Python and JavaScript build tools and builds live
    /// ([`guest_build::build_in`](crate::guest_build::build_in)); the
    /// default cache root unless set.
    pub build_cache: Option<PathBuf>,
}

impl Runtime {
    /// A runtime with `options` for the sandbox, enforcing `policy` on egress.
    pub fn new(options: &SandboxOptions, policy: EgressPolicy) -> anyhow::Result<Runtime> {
        Ok(Runtime {
            sandbox: Sandbox::new(options)?,
            dialer: Dialer::new(policy),
            build_cache: crate::dirs::default_cache_root(),
        })
    }
}
