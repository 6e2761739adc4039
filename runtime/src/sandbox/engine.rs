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

/// What the pooling allocator reserves for each connector instance
/// ([`SandboxOptions::pooled_instances`] of them). A connector that needs more
/// is refused when it is loaded, with the limit named.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizing {
    /// Core module instances per connector.
    pub core_instances: u32,
    /// Linear memories per connector.
    pub memories: u32,
    /// Tables per connector.
    pub tables: u32,
    /// Tables one core module may define.
    pub tables_per_module: u32,
    /// Elements of any one table.
    pub table_elements: usize,
    /// Bytes of one core instance's runtime state.
    pub core_instance_bytes: usize,
}

/// The pool's reservation per connector.
pub const POOL_PER_CONNECTOR: PoolSizing = PoolSizing {
    core_instances: 32,
    memories: 4,
    tables: 32,
    tables_per_module: 4,
    table_elements: 65_536,
    core_instance_bytes: 2 << 20,
};

/// The engine, linker and cache every job of a process shares.
pub struct Sandbox {
    engine: Engine,
    pooled: bool,
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
            // Sized for the largest connectors airlock builds: a Rust one is a
            // few core instances with one memory; a Python one (componentize-py,
            // CPython linked from 14 core modules) needs far more instances
            // and tables, each table of a few thousand functions.
            let per = POOL_PER_CONNECTOR;
            pool.total_component_instances(n)
                .total_core_instances(n * per.core_instances)
                .total_memories(n * per.memories)
                .total_tables(n * per.tables)
                .total_stacks(n)
                .max_core_instances_per_component(per.core_instances)
                .max_memories_per_component(per.memories)
                .max_tables_per_component(per.tables)
                .max_tables_per_module(per.tables_per_module)
                .table_elements(per.table_elements)
                .max_memory_size(4 << 30)
                .max_component_instance_size(1 << 20)
                .max_core_instance_size(per.core_instance_bytes);
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
            pooled: options.pooled_instances.is_some(),
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
        let invalid = |message: String| LoadError::Invalid {
            path: path.to_owned(),
            message,
        };
        if self.pooled {
            check_pool_fits(&component).map_err(invalid)?;
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            invalid(
                match component::unexpected_import(&self.engine, &component) {
                    Some(name) => format!(
                        "it imports `{name}`, which this host does not provide; a connector may \
                     import only {} (its way out is airlock:connector/network). Build it \
                     against airlock's wit/, world `connector`, and nothing else (ComponentizeJS: \
                     with the http and fetch-event features disabled, as airlock's own build does)",
                        component::ALLOWED_IMPORTS
                    ),
                    None => format!(
                        "{e:#}; a connector may import only {}",
                        component::ALLOWED_IMPORTS
                    ),
                },
            )
        })?;
        let pre = ConnectorPre::new(pre).map_err(|e| invalid(format!("{e:#}")))?;
        Ok(LoadedConnector { pre, cache })
    }
}

/// Whether `component` fits the pooling allocator's slot for one connector;
/// if not, which limit it exceeds and by how much.
fn check_pool_fits(component: &wasmtime::component::Component) -> Result<(), String> {
    let Some(needs) = component.resources_required() else {
        return Ok(()); // not knowable statically; instantiation says so if it fails
    };
    let per = POOL_PER_CONNECTOR;
    let over = |what: &str, needed: u64, limit: u64, field: &str| {
        format!(
            "it needs {needed} {what}, more than the {limit} the pooling allocator reserves per \
             connector (`POOL_PER_CONNECTOR.{field}` in runtime/src/sandbox/engine.rs): raise it, \
             or run without `pooled_instances`"
        )
    };
    if needs.num_memories > per.memories {
        return Err(over(
            "linear memories",
            needs.num_memories.into(),
            per.memories.into(),
            "memories",
        ));
    }
    if needs.num_tables > per.tables {
        return Err(over(
            "tables",
            needs.num_tables.into(),
            per.tables.into(),
            "tables",
        ));
    }
    if let Some(elements) = needs.max_initial_table_size
        && elements > per.table_elements as u64
    {
        return Err(over(
            "table elements in one table",
            elements,
            per.table_elements as u64,
            "table_elements",
        ));
    }
    Ok(())
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
