//! One job: connection file → connector → instance → `sync(state)` → records →
//! commit. Also the smaller commands built from the same steps (`spec`,
//! `check`, `discover`, `reset`).
//!
//! The order matters for "bad input writes nothing": the config is validated and
//! the connector loaded, instantiated and asked for its tables *before* the
//! destination is opened.

mod error;
mod progress;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::JobError;
pub use progress::{Progress, Snapshot, TableStats, thousands};
pub use writer::{WriteError, Writer};

use crate::config::JobConfig;
use crate::config::TlsMode;
use crate::guest_build;
use crate::net::{Dialer, EgressPolicy, NetError, Network, PathInfo, TlsInfo};
use crate::sandbox::{
    CacheOutcome, ErrorKind, Instance, JobEnv, LoadedConnector, Sandbox, SandboxOptions,
};
use crate::schema::TableSchema;
use crate::sink;

/// What every job of a process shares: the wasmtime engine (and its cache of
/// compiled connectors), and the network dialer (the operator's egress policy
/// and the SSH session pool).
pub struct Runtime {
    /// Engine, linker and component cache.
    pub sandbox: Sandbox,
    /// The way out for every connection of every job.
    pub dialer: Dialer,
}

impl Runtime {
    /// A runtime with `options` for the sandbox, enforcing `policy` on egress.
    pub fn new(options: &SandboxOptions, policy: EgressPolicy) -> anyhow::Result<Runtime> {
        Ok(Runtime {
            sandbox: Sandbox::new(options)?,
            dialer: Dialer::new(policy),
        })
    }
}

/// The result of a successful sync.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// Job name.
    pub job: String,
    /// The destination as a person reads it (for DuckDB, the file's path).
    pub destination: String,
    /// What was written, per table, and the checkpoints committed.
    #[serde(flatten)]
    pub stats: Snapshot,
}

/// Finds the connector component: a `.wasm` file as is, or a crate directory built first.
pub fn connector_file(path: &Path) -> Result<PathBuf, JobError> {
    if path.is_dir() {
        return guest_build::build(path).map_err(JobError::Usage);
    }
    if !path.exists() {
        return Err(JobError::Usage(format!(
            "connector: {} does not exist; point `connector` at a .wasm component or a connector crate directory",
            path.display()
        )));
    }
    Ok(path.to_owned())
}

/// Loads (and if needed builds) the connector at `path`.
pub fn load(sandbox: &Sandbox, path: &Path) -> Result<LoadedConnector, JobError> {
    let file = connector_file(path)?;
    let started = std::time::Instant::now();
    let loaded = sandbox.load(&file)?;
    if loaded.cache == CacheOutcome::Miss {
        tracing::info!(
            connector = %file.display(),
            "compiled the connector in {:.1}s; later runs load it from the cache",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(loaded)
}

/// The job's network: its endpoints, dialed through the runtime's dialer.
pub fn network(rt: &Runtime, config: &JobConfig) -> Result<Network, JobError> {
    Network::new(&config.endpoints, rt.dialer.clone()).map_err(|e| JobError::Usage(e.to_string()))
}

async fn instantiate(
    rt: &Runtime,
    loaded: &LoadedConnector,
    config: &JobConfig,
) -> Result<Instance, JobError> {
    if let Some(dir) = &config.scratch_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            JobError::Usage(format!("scratch_dir: cannot create {}: {e}", dir.display()))
        })?;
    }
    let env = JobEnv {
        job: &config.name,
        limits: &config.limits,
        redactor: &config.redactor,
        scratch_dir: config.scratch_dir.as_deref(),
        network: Arc::new(network(rt, config)?),
    };
    loaded
        .instantiate(env)
        .await
        .map_err(|e| JobError::Failed(format!("could not start the connector: {e:#}")))
}

/// The JSON Schema of a connector's config.
pub async fn spec(rt: &Runtime, connector: &Path) -> Result<serde_json::Value, JobError> {
    let loaded = load(&rt.sandbox, connector)?;
    let config = JobConfig::parse(
        &format!("connector = {:?}", connector.display().to_string()),
        Path::new("."),
        "spec",
    )
    .map_err(|e| JobError::Usage(e.to_string()))?;
    let mut instance = instantiate(rt, &loaded, &config).await?;
    let text = instance.spec().await?;
    serde_json::from_str(&text)
        .map_err(|e| JobError::Failed(format!("the connector's spec is not valid JSON: {e}")))
}

/// What `check` found on the way to one endpoint.
#[derive(Debug)]
pub struct EndpointCheck {
    /// The endpoint's name.
    pub name: String,
    /// `host:port` as configured.
    pub target: String,
    /// The path taken and the TLS session, or what failed.
    pub outcome: Result<(PathInfo, Option<TlsInfo>), NetError>,
    /// TLS as configured, for the report ("immediate", "in-band (by the connector)", "disabled").
    pub tls_setting: String,
}

/// Opens (and closes) one connection to every endpoint of the config through
/// its route: transport hops, resolved address, host keys, auth and TLS.
pub async fn check_endpoints(
    rt: &Runtime,
    config: &JobConfig,
) -> Result<Vec<EndpointCheck>, JobError> {
    let network = network(rt, config)?;
    let mut out = Vec::new();
    for e in network.endpoints() {
        let outcome = network.connect(&e.name).await.map(|d| (d.path, d.tls));
        let tls_setting = match (e.tls.mode, e.tls.immediate) {
            (TlsMode::Disable, _) => "disabled".to_owned(),
            (TlsMode::Require, true) => "required, immediate".to_owned(),
            (m, _) => format!(
                "{}, in-band (started by the connector; checked by its own check)",
                if m == TlsMode::Require {
                    "required"
                } else {
                    "preferred"
                }
            ),
        };
        out.push(EndpointCheck {
            name: e.name.clone(),
            target: format!("{}:{}", e.host, e.port),
            outcome,
            tls_setting,
        });
    }
    Ok(out)
}

/// Runs the connector's own check of its config.
pub async fn check(rt: &Runtime, config: &JobConfig) -> Result<(), JobError> {
    let loaded = load(&rt.sandbox, &config.connector)?;
    let mut instance = instantiate(rt, &loaded, config).await?;
    instance
        .check(&config.connector_config.to_string())
        .await??;
    Ok(())
}

/// The tables the connector declares, validated.
pub async fn discover(rt: &Runtime, config: &JobConfig) -> Result<Vec<TableSchema>, JobError> {
    let loaded = load(&rt.sandbox, &config.connector)?;
    let mut instance = instantiate(rt, &loaded, config).await?;
    discover_in(&mut instance, config).await
}

async fn discover_in(
    instance: &mut Instance,
    config: &JobConfig,
) -> Result<Vec<TableSchema>, JobError> {
    let tables = instance
        .discover(&config.connector_config.to_string())
        .await??;
    for (i, t) in tables.iter().enumerate() {
        t.validate()
            .map_err(|e| JobError::Failed(format!("the connector declared a bad table: {e}")))?;
        if tables[..i].iter().any(|o| o.name == t.name) {
            return Err(JobError::Failed(format!(
                "the connector declared table `{}` twice",
                t.name
            )));
        }
    }
    Ok(tables)
}

/// Runs one sync: from the last committed state, until the connector returns.
/// `progress` is updated as records arrive.
pub async fn sync(
    rt: &Runtime,
    config: &JobConfig,
    progress: Arc<Progress>,
) -> Result<SyncReport, JobError> {
    let destination = config
        .require_destination()
        .map_err(|e| JobError::Usage(e.to_string()))?;
    let loaded = load(&rt.sandbox, &config.connector)?;
    let mut instance = instantiate(rt, &loaded, config).await?;
    let tables = discover_in(&mut instance, config).await?;

    let mut sink = sink::open(destination, &rt.dialer).await?;
    let state = sink.state(&config.name)?;
    sink.prepare(&tables)?;
    match &state {
        Some(s) => {
            tracing::info!(job = %config.name, "resuming from the last checkpoint ({} bytes of state)", s.len())
        }
        None => tracing::info!(job = %config.name, "no committed state: starting a full sync"),
    }
    let writer = Writer::new(
        &config.name,
        sink,
        tables,
        state.clone(),
        config.limits.buffered_rows,
        progress.clone(),
    );
    instance.records().set_writer(Box::new(writer));
    progress.restart_clock();

    let outcome = instance
        .sync(&config.connector_config.to_string(), state.as_deref())
        .await;
    let mut writer = instance
        .records()
        .take_writer::<Writer>()
        .expect("the writer stays installed during sync");
    let failed = |what: String| {
        let s = progress.snapshot();
        JobError::Failed(format!(
            "{what}\nreached: {}; everything up to the last of those checkpoints is committed, \
             and the next sync resumes from it",
            s.line()
        ))
    };
    match outcome {
        Ok(Ok(())) => writer.finish().map_err(|e| failed(e.to_string()))?,
        Ok(Err(e)) => {
            writer.abort();
            // If a records call was refused, that is the root cause the connector passed on.
            return Err(match (writer.failure(), e.kind) {
                (Some(w), _) => failed(format!("sync failed: {w}")),
                (None, ErrorKind::Config) => e.into(),
                (None, _) => failed(format!("sync failed: {e}")),
            });
        }
        Err(trap) => {
            writer.abort();
            return Err(failed(trap.to_string()));
        }
    }
    Ok(SyncReport {
        job: config.name.clone(),
        destination: sink::describe(destination),
        stats: progress.snapshot(),
    })
}

/// Forgets the job's committed state, so the next sync starts from scratch.
/// Returns whether there was a state.
pub async fn reset(rt: &Runtime, config: &JobConfig) -> Result<bool, JobError> {
    let destination = config
        .require_destination()
        .map_err(|e| JobError::Usage(e.to_string()))?;
    let mut sink = sink::open(destination, &rt.dialer).await?;
    Ok(sink.reset(&config.name)?)
}
