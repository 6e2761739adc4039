//! Write airlock data connectors in plain Rust.
//!
//! A connector is a WebAssembly component (target `wasm32-wasip2`) that the airlock
//! host runs in a sandbox: it gets its config, emits rows into tables it declared,
//! and checkpoints a state so the next run resumes where this one stopped. This
//! crate is the whole guest side of that contract (`wit/connector.wit`,
//! `airlock:connector@0.1.0`): implement [`Connector`], call [`export!`], and build.
//! No wit-bindgen code is needed.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "counter"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! airlock-sdk = { path = "path/to/airlock/sdk" }
//! schemars = "1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs` (marked `ignore` here only because doctests cannot run on wasm):
//!
//! ```ignore
//! use airlock_sdk::{row, ColumnType, Connector, Error, Output, Result, Table, Value};
//! use serde::{Deserialize, Serialize};
//!
//! struct Counter;
//!
//! /// Counts upwards.
//! #[derive(Deserialize, schemars::JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// How many numbers to emit per run.
//!     count: u64,
//! }
//!
//! #[derive(Serialize, Deserialize, Default)]
//! struct State {
//!     next: u64,
//! }
//!
//! impl Connector for Counter {
//!     type Config = Config;
//!     type State = State;
//!
//!     fn check(config: &Config) -> Result<()> {
//!         if config.count == 0 {
//!             return Err(Error::config("`count` must be at least 1"));
//!         }
//!         Ok(())
//!     }
//!
//!     fn discover(_config: &Config) -> Result<Vec<Table>> {
//!         Ok(vec![
//!             Table::new("numbers")
//!                 .column("n", ColumnType::Int)
//!                 .column("at", ColumnType::Timestamp)
//!                 .nullable("note", ColumnType::Text)
//!                 .column("half", ColumnType::decimal(20, 1))
//!                 .primary_key(["n"]),
//!         ])
//!     }
//!
//!     fn sync(config: &Config, mut state: State, out: &mut Output<State>) -> Result<()> {
//!         airlock_sdk::log::info!("counting from {}", state.next);
//!         for _ in 0..config.count {
//!             let n = state.next as i64;
//!             let note = (n % 2 == 0).then_some("even");
//!             let half = format!("{}.{}", n / 2, if n % 2 == 0 { 0 } else { 5 });
//!             out.upsert(
//!                 "numbers",
//!                 row![n, Value::timestamp_micros(n * 1_000_000), note, Value::decimal(half)],
//!             )?;
//!             state.next += 1;
//!             if state.next % 1000 == 0 {
//!                 out.checkpoint(&state)?; // commit: a failed run resumes from here
//!             }
//!         }
//!         out.checkpoint(&state)?;
//!         airlock_sdk::log::info!("emitted {} rows", out.rows_emitted());
//!         Ok(())
//!     }
//! }
//!
//! airlock_sdk::export!(Counter);
//! ```
//!
//! # Networking
//!
//! A connector reaches its source only through the named endpoints of its
//! connection config: [`net::endpoints`] lists them and [`net::connect`] opens a
//! [`Connection`], a blocking [`std::io::Read`] + [`std::io::Write`]. The host
//! picks the route (direct, SSH bastion, reverse tunnel, private endpoint),
//! enforces the egress policy and does TLS with the source's real host name, so
//! the connector never handles an address, a key or a certificate. Protocols that
//! start TLS in-band (PostgreSQL, SMTP) call [`Connection::upgrade_tls`] at the
//! right moment. Failures are [`NetError`]s; `?` turns them, and the `io::Error`s
//! of a `Connection`, into `network` [`Error`]s.
//!
//! ```ignore
//! use std::io::{BufRead, BufReader, Write};
//!
//! fn greeting() -> airlock_sdk::Result<String> {
//!     let api = airlock_sdk::net::endpoint("api")
//!         .ok_or_else(|| airlock_sdk::Error::config("no endpoint `api` in the connection config"))?;
//!     let mut conn = airlock_sdk::net::connect(&api.name)?; // TLS already done if configured
//!     write!(conn, "GET /hello HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", api.host)?;
//!     let mut status = String::new();
//!     BufReader::new(conn).read_line(&mut status)?;
//!     Ok(status)
//! }
//! ```
//!
//! # Building and running
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2
//! # -> target/wasm32-wasip2/release/counter.wasm, a component
//! ```
//!
//! Point an `airlock.toml` at the crate directory (the host builds it) or at the
//! built `.wasm`, give the connector its `[config]` and say where rows go:
//!
//! ```toml
//! connector = "path/to/crate-dir-or-file.wasm"
//!
//! [config]
//! count = 5000
//!
//! [destination]
//! duckdb = "counter.duckdb"
//! ```
//!
//! then, from the airlock checkout:
//!
//! ```sh
//! cargo run -- sync --config path/to/airlock.toml
//! ```
//!
//! The rules every connector follows, in any language (tables, keys, batching,
//! checkpoints, errors, networking), are in `docs/connectors.md` of the airlock
//! repository; the Python and JavaScript/TypeScript SDKs (`sdk/python`, `sdk/js`)
//! have this crate's surface.
//!
//! # What the sdk does for you
//!
//! - `spec` returns the JSON Schema of [`Connector::Config`] (via schemars).
//! - `check`, `discover` and `sync` parse the config JSON into `Config`; a config that
//!   does not parse fails with a `config` [`Error`] naming the field.
//! - `sync` parses the last committed state into [`Connector::State`] (its
//!   `Default` on a first run); a stored state that does not parse fails with an
//!   `internal` error telling the user to run `airlock reset`.
//! - [`Output`] batches rows per table, laid out by column (the host then copies
//!   whole buffers instead of lifting every cell), and sends them to the host; what
//!   is still buffered when `sync` returns `Ok` is sent, and the host commits it.
//!   [`Output::upsert_cells`] takes a row of borrowed [`Cell`]s instead of owned
//!   [`Value`]s, for connectors that parse rows out of their own buffers at volume.
//! - [`log`] macros write to the host's log.
//!
//! A panic aborts the run (the host sees a trap); nothing after the last
//! checkpoint is committed.

#![warn(missing_docs)]

extern crate self as airlock_sdk;

#[doc(hidden)]
pub mod bindings;
mod columns;
mod connector;
mod error;
mod export;
pub mod log;
pub mod net;
mod output;
mod schema;
mod value;

pub use connector::Connector;
pub use error::{Error, ErrorKind, Result};
pub use net::{Connection, Endpoint, NetError, NetErrorKind, TlsMode};
pub use output::{MAX_BATCH_BYTES, MAX_BATCH_ROWS, Output};
pub use schema::{ColumnType, DecimalSpec, Table};
pub use value::{Cell, Row, Value, days_from_civil};

/// The crates a connector's `Config` and `State` derive from, re-exported so a
/// connector can pin the same versions as the sdk.
pub use {schemars, serde, serde_json};

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Used by [`export!`]; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{WitError, WitTableSchema, check, discover, spec, sync};
}
