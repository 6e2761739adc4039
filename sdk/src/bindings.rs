//! The wit-bindgen glue for `wit/connector.wit`. Not part of the public API:
//! connector authors use the crate root instead. It is `pub` only because the
//! [`export!`](crate::export) macro expands in the connector's crate and names it.

#![allow(missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "../wit",
    world: "connector",
    // The generated export macro expands in the connector's crate, which depends on
    // this sdk only: every path it names must go through `::airlock_sdk`.
    pub_export_macro: true,
    export_macro_name: "__export_connector",
    default_bindings_module: "::airlock_sdk::bindings",
    runtime_path: "::airlock_sdk::__wit_bindgen::rt",
    // `network` hands out `wasi:io` streams. The sdk generates its own bindings for
    // them (rather than mapping to the `wasi` crate) so it pins no second crate whose
    // WASI version would have to match the contract's vendored `wasi:io@0.2.12`.
    generate_all,
});
