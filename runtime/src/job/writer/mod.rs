//! The records a running sync emits, on their way to the destination: checked
//! against the declared schemas, counted, flushed when too many are pending,
//! and committed together with the state at each checkpoint.
//!
//! The destination works on its own thread (the *sink thread*, [`thread`]),
//! fed in order through a queue bounded by operations and bytes of rows
//! ([`queue`]), so the connector produces its next batch while the
//! destination ingests the previous one. When the queue is full the
//! connector waits: a slow destination slows the connector instead of piling
//! up rows, and one that takes nothing for 600 s fails the sync as stuck; so
//! does one that has not finished 600 s after the sync ended (its thread is
//! left behind). Validation stays on the connector's side ([`validate`]), so
//! its errors still name the row and reach the call that sent it.

mod error;
mod queue;
#[cfg(test)]
mod tests;
mod thread;
mod validate;

use std::sync::Arc;

pub use self::error::WriteError;
use self::thread::{Op, Refused, SinkThread, stopped};
use self::validate::Tables;
use super::progress::Progress;
use crate::columns::ColumnBatch;
use crate::sandbox::{RecordError, RecordWriter};
use crate::schema::{Row, TableSchema};
use crate::sink::Sink;

/// Writes one sync's records to a [`Sink`] running on its own thread.
///
/// Dropping a writer without [`finish`](Writer::finish) is an
/// [`abort`](Writer::abort): the thread does not outlive the writer, unless
/// the destination is stuck (it takes nothing, or does not finish, for 600 s),
/// in which case the thread is left behind with the sync's uncommitted window.
pub struct Writer {
    tables: Tables,
    pending: u64,
    max_pending: u64,
    progress: Arc<Progress>,
    /// State of the latest checkpoint the connector asked for (committed or not).
    state: Option<String>,
    /// The first refused call: once set, nothing more is committed, so a
    /// connector that ignores an error cannot lose rows silently.
    failed: Option<WriteError>,
    /// The destination, on its thread.
    sink: SinkThread,
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
            tables: Tables::new(tables),
            pending: 0,
            max_pending,
            sink: SinkThread::spawn(sink, job, progress.clone()),
            progress,
            state,
            failed: None,
        }
    }

    /// Inserts or replaces rows.
    #[cfg(test)]
    fn upsert(&mut self, table: &str, rows: Vec<Row>) -> Result<(), WriteError> {
        let bytes = crate::schema::rows_bytes(&rows);
        self.upsert_measured(table, rows, bytes)
    }

    /// Inserts or replaces rows whose [`rows_bytes`](crate::schema::rows_bytes) the caller already took
    /// (the host call measures them for its payload limit).
    pub fn upsert_measured(
        &mut self,
        table: &str,
        rows: Vec<Row>,
        bytes: u64,
    ) -> Result<(), WriteError> {
        self.guard(|w| {
            validate::rows(w.tables.get(table)?, &rows)?;
            let n = rows.len() as u64;
            w.send(Op::Upsert(table.to_owned(), rows), bytes)?;
            w.progress.add(table, |t| t.upserts += n);
            w.pending(n)
        })
    }

    /// Inserts or replaces rows laid out by column; `bytes` is the batch's
    /// [`ColumnBatch::bytes`].
    pub fn upsert_columns(
        &mut self,
        table: &str,
        batch: ColumnBatch,
        bytes: u64,
    ) -> Result<(), WriteError> {
        self.guard(|w| {
            let schema = w.tables.get(table)?;
            if batch.rows == 0 {
                return Ok(());
            }
            validate::batch(schema, &batch)?;
            let n = batch.rows as u64;
            w.send(Op::UpsertColumns(table.to_owned(), batch), bytes)?;
            w.progress.add(table, |t| t.upserts += n);
            w.pending(n)
        })
    }

    /// Marks rows deleted by primary key; `bytes` is the keys'
    /// [`rows_bytes`](crate::schema::rows_bytes).
    pub fn delete_measured(
        &mut self,
        table: &str,
        keys: Vec<Row>,
        bytes: u64,
    ) -> Result<(), WriteError> {
        self.guard(|w| {
            validate::keys(w.tables.get(table)?, &keys)?;
            let n = keys.len() as u64;
            w.send(Op::Delete(table.to_owned(), keys), bytes)?;
            w.progress.add(table, |t| t.deletes += n);
            w.pending(n)
        })
    }

    /// Marks every row of a table deleted.
    pub fn truncate(&mut self, table: &str) -> Result<(), WriteError> {
        self.guard(|w| {
            w.tables.get(table)?;
            w.send(Op::Truncate(table.to_owned()), 0)?;
            w.progress.add(table, |t| t.truncates += 1);
            Ok(())
        })
    }

    /// Commits everything emitted so far together with `state`. Returns once
    /// the commit is queued; a failure of it is reported by a later call.
    pub fn checkpoint(&mut self, state: String) -> Result<(), WriteError> {
        self.guard(|w| {
            w.send(Op::Commit(state.clone()), 0)?;
            w.pending = 0;
            w.state = Some(state);
            Ok(())
        })
    }

    /// Called when `sync` returned Ok: commits the rows emitted after the last
    /// checkpoint together with that checkpoint's state, and waits until every
    /// queued operation is done.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        if self.failed.is_none() {
            // A send error means the thread stopped; `stop` records why.
            let _ = self.send(Op::Finish(self.state.clone()), 0);
        }
        self.stop(true);
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Called when `sync` failed or trapped: commits the checkpoints the
    /// connector asked for before it failed, drops the rows after the last of
    /// them, and waits (at most 600 s) until that is done.
    pub fn abort(&mut self) {
        self.stop(false);
    }

    /// The first refused call, if any (after [`finish`](Writer::finish) or
    /// [`abort`](Writer::abort), including a destination failure the connector
    /// did not get to see).
    pub fn failure(&self) -> Option<&WriteError> {
        self.failed.as_ref()
    }

    fn pending(&mut self, n: u64) -> Result<(), WriteError> {
        self.pending += n;
        if self.pending >= self.max_pending {
            // Rows become durable ahead of the state, never the reverse: a crash
            // now replays them from the last checkpoint, and upserts are idempotent.
            self.send(Op::Flush, 0)?;
            self.pending = 0;
        }
        Ok(())
    }

    /// Queues `op` holding `bytes` of rows, waiting (bounded) while the queue is full.
    fn send(&mut self, op: Op, bytes: u64) -> Result<(), WriteError> {
        match self.sink.send(op, bytes) {
            Ok(()) => Ok(()),
            Err(Refused::Stuck(e)) => Err(e.into()),
            Err(Refused::Closed) => Err(stopped().into()),
            Err(Refused::Ended) => {
                // The thread ended early: it failed (or panicked) and says why when stopped.
                self.stop(false);
                Err(self.failed.clone().unwrap_or_else(|| stopped().into()))
            }
        }
    }

    /// Stops the sink thread (see [`SinkThread::stop`]) and records its
    /// error, unless an earlier one is already recorded.
    fn stop(&mut self, finishing: bool) {
        let error = self.sink.stop(finishing);
        if self.failed.is_none() {
            self.failed = error.map(WriteError::from);
        }
    }

    fn guard(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        if let Some(e) = &self.failed {
            return Err(WriteError::AfterFailure(Box::new(e.clone())));
        }
        // A destination failure since the last call is reported as that call would
        // have reported it, had it waited for the destination.
        let r = match self.sink.error() {
            Some(e) => Err(e.clone().into()),
            None => f(self),
        };
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// The sandbox's records calls land here, each with the bytes the host call
/// measured for its payload limit.
impl RecordWriter for Writer {
    fn upsert(&mut self, table: &str, rows: Vec<Row>, bytes: u64) -> Result<(), RecordError> {
        Ok(self.upsert_measured(table, rows, bytes)?)
    }

    fn upsert_columns(
        &mut self,
        table: &str,
        batch: ColumnBatch,
        bytes: u64,
    ) -> Result<(), RecordError> {
        Ok(Writer::upsert_columns(self, table, batch, bytes)?)
    }

    fn delete(&mut self, table: &str, keys: Vec<Row>, bytes: u64) -> Result<(), RecordError> {
        Ok(self.delete_measured(table, keys, bytes)?)
    }

    fn truncate(&mut self, table: &str) -> Result<(), RecordError> {
        Ok(Writer::truncate(self, table)?)
    }

    fn checkpoint(&mut self, state: String) -> Result<(), RecordError> {
        Ok(Writer::checkpoint(self, state)?)
    }
}
