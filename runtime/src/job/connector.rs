//! The connector's side of a job: finding and loading its component,
//! starting an instance in the job's sandbox, and the calls that need no
//! destination (`spec`, `check`, `discover`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::endpoints::network;
use super::{JobError, Runtime};
use crate::config::JobConfig;
use crate::guest_build;
use crate::sandbox::{CacheOutcome, Instance, JobEnv, LoadedConnector};
use crate::schema::TableSchema;

/// Finds the connector component: a `.wasm` file as is, or a connector
/// directory (Rust, Python or JavaScript) built first.
pub fn connector_file(rt: &Runtime, path: &Path) -> Result<PathBuf, JobError> {
    if path.is_dir() {
        return Ok(guest_build::build_in(path, rt.build_cache.as_deref())?);
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
pub fn load(rt: &Runtime, path: &Path) -> Result<LoadedConnector, JobError> {
    let file = connector_file(rt, path)?;
    let started = std::time::Instant::now();
    let loaded = rt.sandbox.load(&file)?;
    if loaded.cache == CacheOutcome::Miss {
        tracing::info!(
            connector = %file.display(),
            "compiled the connector in {:.1}s; later runs load it from the cache",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(loaded)
}

/// A running instance of `loaded` for the job `config` describes: its
/// limits, scratch directory and network.
pub(super) async fn instantiate(
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
    let loaded = load(rt, connector)?;
    let config = JobConfig::parse(
        &format!("connector = {:?}", connector.display().to_string()),
        Path::new("."),
        "spec",
    )?;
    let mut instance = instantiate(rt, &loaded, &config).await?;
    let text = instance.spec().await?;
    serde_json::from_str(&text)
        .map_err(|e| JobError::Failed(format!("the connector's spec is not valid JSON: {e}")))
}

/// Runs the connector's own check of its config.
pub async fn check(rt: &Runtime, config: &JobConfig) -> Result<(), JobError> {
    let loaded = load(rt, &config.connector)?;
    let mut instance = instantiate(rt, &loaded, config).await?;
    instance
        .check(&config.connector_config.to_string())
        .await??;
    Ok(())
}

/// The tables the connector declares, validated.
pub async fn discover(rt: &Runtime, config: &JobConfig) -> Result<Vec<TableSchema>, JobError> {
    let loaded = load(rt, &config.connector)?;
    let mut instance = instantiate(rt, &loaded, config).await?;
    discover_in(&mut instance, config).await
}

/// The tables a running instance declares, validated: each usable, none twice.
pub(super) async fn discover_in(
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
