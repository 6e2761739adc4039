//! The wasmtime side: engine, compiled-component cache, store state and limits,
//! and the host half of each WIT interface (one file each, each with a small
//! context type, a view over the store, and an `add_to_linker`).
//!
//! No policy lives here: records go to the [`RecordWriter`] a sync installs,
//! connections go through `net`.

mod bindings;
mod cache;
mod component;
mod engine;
mod instance;
mod limits;
mod log;
mod network;
mod records;
mod stdio;
mod store;

pub use bindings::CONTRACT_VERSION;
pub use cache::{CacheOutcome, ComponentCache};
pub use component::LoadError;
pub use engine::{EPOCH_TICK, LoadedConnector, Sandbox, SandboxOptions};
pub use instance::{ConnectorError, ErrorKind, Instance, JobEnv, Trap};
pub use limits::LimitExceeded;
pub use network::{CLEAR_PREAMBLE_MAX, Connection, IO_IDLE_TIMEOUT};
pub use records::{RecordError, RecordWriter, RecordsCtx};
pub use store::SCRATCH_GUEST_PATH;
