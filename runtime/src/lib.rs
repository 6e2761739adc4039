//! airlock runs data-connector plugins — WebAssembly components — in a sandbox,
//! and commits what they emit to a destination.
//!
//! A connector exports `source` (`spec`, `check`, `discover`, `sync`) and imports
//! only `records` and `log` (see `wit/`). It gets no sockets, no environment, no
//! files beyond an optional scratch directory, and runs under per-job limits on
//! memory, wall time per call, bytes per host call and handles. Records are
//! validated against the tables the connector declared and committed to the
//! destination with the connector's state at every checkpoint, so a sync that
//! dies resumes from its last checkpoint with nothing lost.
//!
//! Module map: [`config`] (the connection file), [`schema`] (values and tables),
//! [`columns`] (rows laid out by column),
//! [`sandbox`] (wasmtime), [`sink`] (destinations), [`job`] (one sync, end to end),
//! [`relay`] (the reverse-SSH relay server), [`cli`] (the `airlock` command).

// Every public item says what it is: `cargo clippy -D warnings` enforces it.
#![warn(missing_docs)]

pub mod cli;
pub mod columns;
pub mod config;
pub mod conn;
#[cfg(feature = "demo")]
pub mod demo;
pub mod guest_build;
pub mod job;
pub mod net;
pub mod redact;
pub mod relay;
pub mod sandbox;
pub mod schema;
pub mod sink;
pub mod ssh;
