//! Loading a connector file: telling a component from anything else, compiling
//! (through the cache), and checking it speaks this host's contract version —
//! each failure said plainly, with the path.

use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::{CONTRACT_PACKAGE, CONTRACT_VERSION};
use super::cache::{CacheOutcome, ComponentCache};

/// Why a connector file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read connector {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not WebAssembly at all.
    #[error(
        "{path} is not a WebAssembly file (it does not start with the `\\0asm` magic); \
         point `connector` at the .wasm a connector build produces"
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// A core module, not a component.
    #[error(
        "{path} is a core WebAssembly module, not a component; build the connector as a \
         component: point `connector` at its directory (Rust, Python or JavaScript/TypeScript) \
         and airlock builds it, or use `cargo build --release --target wasm32-wasip2`, \
         componentize-py or ComponentizeJS yourself"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component failed to validate or compile.
    #[error("{path} is not a valid WebAssembly component: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The engine's reason.
        message: String,
    },
    /// Built against another version of the contract.
    #[error(
        "{path} was built for the airlock contract {found}, but this airlock speaks \
         {CONTRACT_PACKAGE}@{CONTRACT_VERSION}; rebuild the connector against this airlock's \
         contract (its wit/, or an airlock-sdk for contract {CONTRACT_VERSION}: airlock builds a \
         connector directory against its own), or run it with a matching airlock"
    )]
    WrongContract {
        /// The file.
        path: PathBuf,
        /// The package and version the component names.
        found: String,
    },
    /// A component of another world.
    #[error(
        "{path} is a component but not an airlock connector: it does not export \
         `{CONTRACT_PACKAGE}/source@{CONTRACT_VERSION}` (it exports: {exports})"
    )]
    NotAConnector {
        /// The file.
        path: PathBuf,
        /// What it does export.
        exports: String,
    },
}

/// Reads, sniffs, compiles (through `cache`) and contract-checks a connector.
pub fn load(
    engine: &Engine,
    cache: Option<&ComponentCache>,
    path: &Path,
) -> Result<(Component, CacheOutcome), LoadError> {
    let wasm = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    sniff(&wasm, path)?;
    let loaded = match cache {
        Some(c) => c.load(engine, &wasm),
        None => Component::new(engine, &wasm).map(|c| (c, CacheOutcome::Disabled)),
    };
    let (component, outcome) = loaded.map_err(|e| LoadError::Invalid {
        path: path.to_owned(),
        message: format!("{e:#}"),
    })?;
    check_contract(engine, &component, path)?;
    Ok((component, outcome))
}

/// Tells the kind of file from its 8-byte preamble before handing it to Cranelift,
/// whose errors for these cases are accurate but cryptic.
fn sniff(wasm: &[u8], path: &Path) -> Result<(), LoadError> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(LoadError::NotWasm {
            path: path.to_owned(),
        });
    }
    // Bytes 4..8: version (u16 LE) and layer (u16 LE); layer 0 = core module, 1 = component.
    if wasm[6..8] == [0, 0] {
        return Err(LoadError::CoreModule {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn check_contract(engine: &Engine, component: &Component, path: &Path) -> Result<(), LoadError> {
    let ty = component.component_type();
    let ours = format!("{CONTRACT_PACKAGE}/");
    let foreign_version = |name: &str| -> Option<String> {
        let (iface, version) = name.strip_prefix(&ours)?.split_once('@')?;
        (version != CONTRACT_VERSION).then(|| format!("{CONTRACT_PACKAGE}@{version} (`{iface}`)"))
    };
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    if let Some(found) = exports
        .iter()
        .chain(&imports)
        .find_map(|n| foreign_version(n))
    {
        return Err(LoadError::WrongContract {
            path: path.to_owned(),
            found,
        });
    }
    let wanted = format!("{CONTRACT_PACKAGE}/source@{CONTRACT_VERSION}");
    if !exports.contains(&wanted) {
        let exports = if exports.is_empty() {
            "nothing".to_owned()
        } else {
            exports.join(", ")
        };
        return Err(LoadError::NotAConnector {
            path: path.to_owned(),
            exports,
        });
    }
    Ok(())
}

/// What a connector may import, said for any language: the contract's
/// interfaces and the WASI 0.2 basics a language runtime needs.
pub const ALLOWED_IMPORTS: &str = "the airlock:connector interfaces (types, records, log, \
     network) and the WASI 0.2 basics a language runtime needs (wasi:io, wasi:clocks, \
     wasi:random, wasi:cli, wasi:filesystem; wasi:sockets is there but refuses every use)";

/// WASI packages the linker provides.
const WASI_PACKAGES: &[&str] = &["io", "clocks", "random", "cli", "filesystem", "sockets"];

/// The first import of `component` that this host does not provide, if any:
/// an interface of another package, or a contract interface that does not exist.
pub fn unexpected_import(engine: &Engine, component: &Component) -> Option<String> {
    let ours = format!("{CONTRACT_PACKAGE}/");
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .find(|name| {
            if let Some(rest) = name.strip_prefix(&ours) {
                let iface = rest.split('@').next().unwrap_or(rest);
                return !matches!(iface, "types" | "records" | "log" | "network");
            }
            match name.strip_prefix("wasi:") {
                Some(rest) => {
                    let package = rest.split('/').next().unwrap_or(rest);
                    !WASI_PACKAGES.contains(&package)
                }
                None => true,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_files_apart() {
        let p = Path::new("x.wasm");
        assert!(matches!(
            sniff(b"PK\x03\x04zipzip", p),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(sniff(b"\0asm", p), Err(LoadError::NotWasm { .. })));
        assert!(matches!(
            sniff(b"\0asm\x01\0\0\0", p),
            Err(LoadError::CoreModule { .. })
        ));
        assert!(sniff(b"\0asm\x0d\0\x01\0", p).is_ok());
    }
}
