//! The wasmtime engine shared by every job in a process: configuration, the
//! epoch ticker that enforces wall-time limits, the linker with exactly the
//! interfaces a connector may import, and loading connectors into pre-linked
//! instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::ConnectorPre;
use super::cache::{CacheOutcome, ComponentCache};
use super::component::{self, LoadError};
use super::store::StoreState;
use super::{log, network, records};

/// How often the epoch advances: the granularity of wall-time limits and of
/// cooperative yields between jobs sharing a thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How the engine is set up.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Pre-allocate slots for this many concurrent connector instances (the
    /// pooling allocator: instantiation reuses memory instead of mapping it).
    /// Pays off when one process runs many jobs; `None` allocates on demand.
    pub pooled_instances: Option<u32>,
}

/// The engine, linker and cache every job of a process shares.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: Option<ComponentCache>,
    ticker_stop: Arc<AtomicBool>,
}

/// A connector compiled and linked, ready to instantiate many times cheaply.
pub struct LoadedConnector {
    pub(super) pre: ConnectorPre<StoreState>,
    /// Whether compiling was skipped thanks to the cache.
    pub cache: CacheOutcome,
}

impl Sandbox {
    /// Builds the engine and linker and starts the epoch ticker.
    pub fn new(options: &SandboxOptions) -> anyhow::Result<Sandbox> {
        let mut config = Config::new();
        config.epoch_interruption(true).wasm_component_model(true);
        if let Some(n) = options.pooled_instances {
            let mut pool = PoolingAllocationConfig::new();
            // A Rust wasip2 component is a few core instances with one memory
            // and a couple of tables; size every total for `n` such components.
            pool.total_component_instances(n)
                .total_core_instances(n * 8)
                .total_memories(n * 2)
                .total_tables(n * 4)
                .total_stacks(n)
                .max_memory_size(4 << 30)
                .max_component_instance_size(1 << 20)
                .max_core_instance_size(1 << 20);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        // WASI for what Rust's std needs (clocks, random, stdio, exit); sockets
        // are linked but every use is denied by the context (see `store`).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        records::add_to_linker(&mut linker)?;
        log::add_to_linker(&mut linker)?;
        network::add_to_linker(&mut linker)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(&engine, ticker_stop.clone());

        Ok(Sandbox {
            engine,
            linker,
            cache: options.cache_dir.clone().map(ComponentCache::new),
            ticker_stop,
        })
    }

    /// The engine (for tests and tools that need its identity).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a connector file: compiles it (or takes it from the cache), checks
    /// the contract, and links it against this host's interfaces.
    pub fn load(&self, path: &Path) -> Result<LoadedConnector, LoadError> {
        let (component, cache) = component::load(&self.engine, self.cache.as_ref(), path)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| LoadError::Invalid {
            path: path.to_owned(),
            message: format!(
                "{e:#}; a connector may import only airlock:connector/* and the WASI interfaces Rust's std uses"
            ),
        })?;
        let pre = ConnectorPre::new(pre).map_err(|e| LoadError::Invalid {
            path: path.to_owned(),
            message: format!("{e:#}"),
        })?;
        Ok(LoadedConnector { pre, cache })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain thread, so
/// deadlines hold even when every tokio worker is busy running wasm.
fn spawn_ticker(engine: &Engine, stop: Arc<AtomicBool>) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("airlock-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(e) => e.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch thread");
}
