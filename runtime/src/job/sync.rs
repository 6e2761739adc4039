//! One sync end to end: connector, tables, destination, state, records,
//! commit; and `reset`, which forgets the committed state.

use std::sync::Arc;

use super::connector::{discover_in, instantiate, load};
use super::{JobError, Progress, Runtime, Snapshot, Writer};
use crate::config::JobConfig;
use crate::sandbox::ErrorKind;
use crate::sink;

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

/// Runs one sync: from the last committed state, until the connector returns.
/// `progress` is updated as records arrive.
pub async fn sync(
    rt: &Runtime,
    config: &JobConfig,
    progress: Arc<Progress>,
) -> Result<SyncReport, JobError> {
    let destination = config.require_destination()?;
    let loaded = load(rt, &config.connector)?;
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
    let destination = config.require_destination()?;
    let mut sink = sink::open(destination, &rt.dialer).await?;
    Ok(sink.reset(&config.name)?)
}
