//! The end-to-end tests, one module per concern, linked into one test binary
//! (as wasmtime's `tests/all` does): airlock, DuckDB and wasmtime are linked
//! once instead of once per file, and the guest connectors are built once per
//! run. Run one file's tests with a filter on its module:
//! `cargo test --test all -- ssh::`.

mod harness;

mod bad_input;
mod js;
mod limits;
mod network;
mod postgres;
mod private_endpoint;
mod python;
mod relay;
mod resume;
mod ssh;
mod sync;
