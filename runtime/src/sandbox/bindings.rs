//! Host bindings generated from `wit/` — the single source of truth for the contract.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    // Host functions may trap (a limit hit is a trap, not an error the guest can swallow).
    imports: { default: trappable },
    // Exports are called with `call_*_async` so epoch deadlines can yield to tokio.
    exports: { default: async },
});

pub use self::airlock::connector::{log as wit_log, records as wit_records, types as wit_types};

/// The contract version this host speaks, as it appears in import names.
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The package every contract interface belongs to.
pub const CONTRACT_PACKAGE: &str = "airlock:connector";
