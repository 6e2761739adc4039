//! The records a running sync emits, on their way to the destination: checked
//! against the declared schemas, counted, flushed when too many are pending,
//! and committed together with the state at each checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use super::progress::Progress;
use crate::schema::{Row, TableSchema};
use crate::sink::Sink;

/// Why a records call was refused. The message is for the connector author.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The connector broke the contract (unknown table, wrong row shape).
    #[error("{0}")]
    Invalid(String),
    /// The destination failed.
    #[error("destination: {0}")]
    Destination(String),
}

/// Writes one sync's records to a [`Sink`].
pub struct Writer {
    job: String,
    sink: Box<dyn Sink>,
    tables: HashMap<String, TableSchema>,
    pending: u64,
    max_pending: u64,
    progress: Arc<Progress>,
    /// State of the latest checkpoint the connector asked for (committed or not).
    state: Option<String>,
    /// The first refused call: once set, nothing more is committed, so a
    /// connector that ignores an error cannot lose rows silently.
    failed: Option<WriteError>,
}

impl Writer {
    /// A writer for `job` into `sink`, accepting the given tables (already
    /// prepared in the sink). `state` is the state the run started from.
    pub fn new(
        job: &str,
        sink: Box<dyn Sink>,
        tables: Vec<TableSchema>,
        state: Option<String>,
        max_pending: u64,
        progress: Arc<Progress>,
    ) -> Self {
        for t in &tables {
            progress.declare(&t.name);
        }
        Writer {
            job: job.to_owned(),
            sink,
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
            pending: 0,
            max_pending,
            progress,
            state,
            failed: None,
        }
    }

    /// Inserts or replaces rows.
    pub fn upsert(&mut self, table: &str, rows: Vec<Row>) -> Result<(), WriteError> {
        self.guard(|w| {
            let schema = w.schema(table)?;
            for (i, row) in rows.iter().enumerate() {
                schema.check_row(row, i).map_err(WriteError::Invalid)?;
            }
            let n = rows.len() as u64;
            w.sink
                .upsert(table, rows)
                .map_err(|e| WriteError::Destination(e.0))?;
            w.progress.add(table, |t| t.upserts += n);
            w.pending(n)
        })
    }

    /// Marks rows deleted by primary key.
    pub fn delete(&mut self, table: &str, keys: Vec<Row>) -> Result<(), WriteError> {
        self.guard(|w| {
            let schema = w.schema(table)?;
            for (i, key) in keys.iter().enumerate() {
                schema.check_key(key, i).map_err(WriteError::Invalid)?;
            }
            let n = keys.len() as u64;
            w.sink
                .delete(table, keys)
                .map_err(|e| WriteError::Destination(e.0))?;
            w.progress.add(table, |t| t.deletes += n);
            w.pending(n)
        })
    }

    /// Marks every row of a table deleted.
    pub fn truncate(&mut self, table: &str) -> Result<(), WriteError> {
        self.guard(|w| {
            w.schema(table)?;
            w.sink
                .truncate(table)
                .map_err(|e| WriteError::Destination(e.0))?;
            w.progress.add(table, |t| t.truncates += 1);
            Ok(())
        })
    }

    /// Commits everything emitted so far together with `state`.
    pub fn checkpoint(&mut self, state: String) -> Result<(), WriteError> {
        self.guard(|w| {
            w.sink
                .commit(&w.job, &state)
                .map_err(|e| WriteError::Destination(e.0))?;
            w.pending = 0;
            w.state = Some(state);
            w.progress.checkpoint();
            Ok(())
        })
    }

    /// Called when `sync` returned Ok: commits the rows emitted after the last
    /// checkpoint together with that checkpoint's state.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            self.sink.abort();
            return Err(e.clone());
        }
        let done = match &self.state {
            Some(state) => self.sink.commit(&self.job, state),
            // Never checkpointed and had no state: the rows are durable, the cursor stays unset.
            None => self.sink.flush(),
        };
        done.map_err(|e| WriteError::Destination(e.0))
    }

    /// Called when `sync` failed or trapped: drops what was not committed.
    pub fn abort(&mut self) {
        self.sink.abort();
    }

    /// The first refused call, if any.
    pub fn failure(&self) -> Option<&WriteError> {
        self.failed.as_ref()
    }

    fn schema(&self, table: &str) -> Result<&TableSchema, WriteError> {
        self.tables.get(table).ok_or_else(|| {
            let mut known: Vec<&str> = self.tables.keys().map(String::as_str).collect();
            known.sort_unstable();
            WriteError::Invalid(format!(
                "table `{table}` was not returned by `discover` (tables: {}); declare it there first",
                known.join(", ")
            ))
        })
    }

    fn pending(&mut self, n: u64) -> Result<(), WriteError> {
        self.pending += n;
        if self.pending >= self.max_pending {
            // Rows become durable ahead of the state, never the reverse: a crash
            // now replays them from the last checkpoint, and upserts are idempotent.
            self.sink
                .flush()
                .map_err(|e| WriteError::Destination(e.0))?;
            self.pending = 0;
        }
        Ok(())
    }

    fn guard(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(WriteError::Invalid(format!(
                "an earlier records call failed: {e}"
            )));
        }
        let r = f(self);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }
}
