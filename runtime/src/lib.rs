//! airlock runs data-connector plugins — WebAssembly components — in a sandbox,
//! and commits what they emit to a destination.
//!
//! A connector exports `source` (`spec`, `check`, `discover`, `sync`) and imports
//! only `records`, `log` and `network` (see `wit/`). It gets no sockets, no
//! environment, no files beyond an optional scratch directory, and runs under
//! per-job limits on memory, wall time per call, bytes per host call and
//! handles. Its only way out is a named endpoint, which the host dials along
//! the route the connection file gives (direct, SSH bastions, a customer's
//! reverse tunnel, a private endpoint) with the operator's egress policy and
//! TLS done here. Records are validated against the tables the connector
//! declared and committed to the destination with the connector's state at
//! every checkpoint, so a sync that dies resumes from its last checkpoint with
//! nothing lost.
//!
//! # Module map
//!
//! Each module has one concern, and dependencies point one way: every module
//! uses only modules listed below it. The graph is checked by
//! `scripts/check-module-graph` (run by `scripts/test`), which fails on a cycle
//! or when this block no longer matches the code:
//!
//! ```text
//! cli         -> config, demo, job, net, relay, sandbox, schema, ssh
//! demo        -> config, job, net, sandbox, ssh
//! job         -> columns, config, dirs, guest_build, net, sandbox, schema, sink
//! sink        -> columns, config, net, schema
//! sandbox     -> columns, config, dirs, net, redact, schema
//! relay       -> config, ssh
//! net         -> config, conn, ssh
//! ssh         -> config, conn
//! guest_build -> dirs
//! config      -> redact
//! columns     -> schema
//! schema      -> (nothing)
//! redact      -> (nothing)
//! dirs        -> (nothing)
//! conn        -> (nothing)
//! ```
//!
//! Bottom up:
//! - [`redact`]: masks secret values in text. [`schema`]: values and table
//!   schemas. [`columns`]: rows laid out by column (`upsert-columns`).
//! - [`config`]: the connection file — parsing, validation, secret references,
//!   endpoints and their routes. Pure.
//! - [`conn`]: what every connection attempt shares: [`conn::NetError`],
//!   [`conn::Deadline`], the byte stream.
//! - [`ssh`]: what the SSH client and airlock's SSH servers share: keys and
//!   fingerprints, algorithms and flow sizes, the channel stream.
//! - [`net`]: the capability — a job's endpoints and the one dial path (resolve,
//!   egress policy, route, TLS); `net::transport` holds one file per transport,
//!   the SSH client among them.
//! - [`relay`]: the embedded SSH server customers' `ssh -R` connects to.
//! - [`sandbox`]: wasmtime — engine, component cache, limits, one file per WIT
//!   interface; records go to the [`sandbox::RecordWriter`] a sync installs.
//! - [`sink`]: destinations ([`sink::open`]), the embedded DuckDB default.
//! - [`dirs`]: where airlock caches things by default.
//! - [`guest_build`]: builds a connector from its source directory (Rust,
//!   Python or JavaScript/TypeScript).
//! - [`job`]: one sync — config, connector, instance, writer, destination — and
//!   the smaller commands built from the same steps.
//! - `demo` (cargo feature `demo`, on by default): what `airlock demo` runs.
//! - [`cli`]: the `airlock` command, one file per subcommand.

// Every public item says what it is: `cargo clippy -D warnings` enforces it.
#![warn(missing_docs)]

pub mod cli;
pub mod columns;
pub mod config;
pub mod conn;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dirs;
pub mod guest_build;
pub mod job;
pub mod net;
pub mod redact;
pub mod relay;
pub mod sandbox;
pub mod schema;
pub mod sink;
pub mod ssh;
