//! Host bindings generated from `wit/` — the single source of truth for the contract.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    imports: {
        // Dialing and TLS handshakes wait on the network: async, so the store's
        // epoch deadline and other jobs on the runtime keep running meanwhile.
        "airlock:connector/network.connect": async | trappable,
        "airlock:connector/network.[method]connection.upgrade-tls": async | trappable,
        // Host functions may trap (a limit hit is a trap, not an error the guest can swallow).
        default: trappable,
    },
    // Exports are called with `call_*_async` so epoch deadlines can yield to tokio.
    exports: { default: async },
    with: {
        // Streams are wasmtime-wasi's own resources, so the guest polls and reads
        // them with the same `wasi:io` calls as any other stream.
        "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
        "airlock:connector/network.connection": crate::sandbox::network::Connection,
    },
});

pub use self::airlock::connector::{
    log as wit_log, network as wit_network, records as wit_records, types as wit_types,
};

/// The contract version this host speaks, as it appears in import names.
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The package every contract interface belongs to.
pub const CONTRACT_PACKAGE: &str = "airlock:connector";
