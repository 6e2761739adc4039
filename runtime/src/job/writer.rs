//! The records a running sync emits, on their way to the destination: checked
//! against the declared schemas, counted, flushed when too many are pending,
//! and committed together with the state at each checkpoint.
//!
//! The destination works on its own thread (the *sink thread*), fed in order
//! through a queue bounded by operations and bytes of rows, so the connector
//! produces its next batch while the destination ingests the previous one.
//! When the queue is full the connector waits: a slow destination slows the
//! connector instead of piling up rows, and one that takes nothing for 600 s
//! fails the sync as stuck; so does one that has not finished 600 s after the
//! sync ended (its thread is left behind).
//! Validation stays on the connector's side, so its errors still name the row
//! and reach the call that sent it.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::progress::Progress;
use crate::columns::ColumnBatch;
use crate::sandbox::{RecordError, RecordWriter};
use crate::schema::{Row, SchemaError, TableSchema};
use crate::sink::{Sink, SinkError, SinkErrorKind};

/// Operations queued for the sink thread. The DuckDB sink appends a full
/// sync 16,384 rows at a time; the queue holds more than that in SDK batches
/// (1,024 rows), so the connector keeps reading while a chunk is appended
/// (at 8 it waited for every chunk: 2.9 s instead of 3.6 s for 500,000 rows).
const QUEUE_OPS: usize = 64;
/// Bytes of rows queued for the sink thread. Eight batches of the host-call
/// payload limit (64 MiB) would be half a GiB; this keeps the queue to a few
/// dozen SDK batches, which is all the overlap needs. One batch larger than
/// this is still accepted when the queue is empty.
const QUEUE_BYTES: u64 = 16 << 20;
/// How long the connector waits for room in the queue before the sync fails:
/// a destination that applies nothing for this long is stuck (a lock held by
/// another process, a full disk), not slow.
const QUEUE_WAIT: Duration = Duration::from_secs(600);

/// Why a records call was refused. The message is for the connector author.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// A row, key or column batch that does not match its table.
    #[error("{0}")]
    Invalid(#[from] SchemaError),
    /// A table `discover` did not return.
    #[error(
        "table `{table}` was not returned by `discover` (tables: {}); declare it there first",
        .known.join(", ")
    )]
    UnknownTable {
        /// The table the call named.
        table: String,
        /// The tables `discover` returned, sorted.
        known: Vec<String>,
    },
    /// An earlier call failed (this error): once one has, nothing more is
    /// accepted, so a connector that ignores an error cannot lose rows silently.
    #[error("an earlier records call failed: {0}")]
    AfterFailure(Box<WriteError>),
    /// The destination failed.
    #[error("destination: {0}")]
    Destination(#[from] SinkError),
}

/// One step for the sink thread, applied in the order the connector asked.
enum Op {
    Upsert(String, Vec<Row>),
    UpsertColumns(String, ColumnBatch),
    Delete(String, Vec<Row>),
    Truncate(String),
    Flush,
    /// A checkpoint: counted in [`Progress`] once committed.
    Commit(String),
    /// The end of a successful sync: the rows after the last checkpoint, with
    /// its state (already counted) or, without one, just the rows.
    Finish(Option<String>),
}

/// What the queue to the sink thread holds, bounded by [`QUEUE_OPS`]
/// operations and [`QUEUE_BYTES`] of rows: the connector waits for room (at
/// most a given wait), the sink thread gives it back as it takes operations out.
#[derive(Default)]
struct Budget {
    used: Mutex<Used>,
    freed: Condvar,
}

#[derive(Default)]
struct Used {
    ops: usize,
    bytes: u64,
    /// The sink thread has ended (also by a panic): nothing waits any more.
    closed: bool,
}

impl Budget {
    /// Takes room for one operation holding `bytes` of rows, waiting while the
    /// queue is full. `false`: no room came within `wait`.
    fn take(&self, bytes: u64, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let full = |u: &Used| {
            !u.closed && (u.ops >= QUEUE_OPS || (u.bytes > 0 && u.bytes + bytes > QUEUE_BYTES))
        };
        while full(&g) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self
                .freed
                .wait_timeout(g, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        g.ops += 1;
        g.bytes += bytes;
        true
    }

    /// Gives back one operation's room.
    fn give(&self, bytes: u64) {
        let mut g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        g.ops = g.ops.saturating_sub(1);
        g.bytes = g.bytes.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// Waits (at most `wait`) until the sink thread has ended; `false` if it
    /// has not.
    fn wait_closed(&self, wait: Duration) -> bool {
        let g = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = (self.freed)
            .wait_timeout_while(g, wait, |u| !u.closed)
            .unwrap_or_else(|e| e.into_inner());
        g.closed
    }

    /// The sink thread ended: nobody will give room back.
    fn close(&self) {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.freed.notify_all();
    }
}

/// Closes the [`Budget`] when the sink thread ends, however it ends.
struct CloseOnExit(Arc<Budget>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Writes one sync's records to a [`Sink`] running on its own thread.
///
/// Dropping a writer without [`finish`](Writer::finish) is an
/// [`abort`](Writer::abort): the thread does not outlive the writer, unless
/// the destination is stuck (it takes nothing, or does not finish, for 600 s),
/// in which case the thread is left behind with the sync's uncommitted window.
pub struct Writer {
    tables: HashMap<String, TableSchema>,
    pending: u64,
    max_pending: u64,
    progress: Arc<Progress>,
    /// State of the latest checkpoint the connector asked for (committed or not).
    state: Option<String>,
    /// The first refused call: once set, nothing more is committed, so a
    /// connector that ignores an error cannot lose rows silently.
    failed: Option<WriteError>,
    /// The queue to the sink thread (each operation with the bytes of rows it
    /// holds); `None` once it was told to stop.
    queue: Option<Sender<(Op, u64)>>,
    /// Room in the queue.
    budget: Arc<Budget>,
    /// How long the connector waits for room, and the end of a sync for the
    /// sink thread ([`QUEUE_WAIT`]).
    wait: Duration,
    /// The sink thread's first error, seen by the connector on its next call.
    sink_error: Arc<OnceLock<WriteError>>,
    thread: Option<JoinHandle<()>>,
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
        // Unbounded as a channel; `budget` bounds it, with a timeout.
        let (queue, ops) = channel();
        let sink_error = Arc::new(OnceLock::new());
        let budget = Arc::new(Budget::default());
        let thread = {
            let (job, progress, error) = (job.to_owned(), progress.clone(), sink_error.clone());
            let budget = budget.clone();
            std::thread::Builder::new()
                .name(format!("airlock-sink-{job}"))
                .spawn(move || {
                    let _close = CloseOnExit(budget.clone());
                    run_sink(sink, &job, ops, &progress, &error, &budget)
                })
                .expect("spawning the sink thread")
        };
        Writer {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
            pending: 0,
            max_pending,
            progress,
            state,
            failed: None,
            queue: Some(queue),
            budget,
            wait: QUEUE_WAIT,
            sink_error,
            thread: Some(thread),
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
            let schema = w.schema(table)?;
            for (i, row) in rows.iter().enumerate() {
                schema.check_row(row, i)?;
            }
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
            let schema = w.schema(table)?;
            if batch.rows == 0 {
                return Ok(());
            }
            batch.check(schema)?;
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
            let schema = w.schema(table)?;
            for (i, key) in keys.iter().enumerate() {
                schema.check_key(key, i)?;
            }
            let n = keys.len() as u64;
            w.send(Op::Delete(table.to_owned(), keys), bytes)?;
            w.progress.add(table, |t| t.deletes += n);
            w.pending(n)
        })
    }

    /// Marks every row of a table deleted.
    pub fn truncate(&mut self, table: &str) -> Result<(), WriteError> {
        self.guard(|w| {
            w.schema(table)?;
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

    fn schema(&self, table: &str) -> Result<&TableSchema, WriteError> {
        self.tables.get(table).ok_or_else(|| {
            let mut known: Vec<String> = self.tables.keys().cloned().collect();
            known.sort_unstable();
            WriteError::UnknownTable {
                table: table.to_owned(),
                known,
            }
        })
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
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        if !self.budget.take(bytes, self.wait) {
            // Stuck, not slow: leave the thread behind rather than wait on it again.
            self.queue = None;
            self.thread = None;
            return Err(WriteError::Destination(SinkError::new(
                SinkErrorKind::Stuck,
                format!(
                    "the destination took nothing for {} s; is its file locked by another process, \
                     or its disk full?",
                    self.wait.as_secs()
                ),
            )));
        }
        if queue.send((op, bytes)).is_ok() {
            return Ok(());
        }
        // The thread ended early: it failed (or panicked) and says why when joined.
        self.stop(false);
        Err(self.failed.clone().unwrap_or_else(stopped))
    }

    /// Closes the queue and waits for the sink thread to apply what is queued
    /// (at most the queue's wait). The thread then drops whatever was not
    /// committed. Records the thread's error, if any, unless an earlier one is
    /// already recorded; a thread that does not end in time fails a sync that
    /// is `finishing` (otherwise the sync's own error is the one to report).
    fn stop(&mut self, finishing: bool) {
        self.queue = None;
        let Some(thread) = self.thread.take() else {
            return;
        };
        if !self.budget.wait_closed(self.wait) {
            // Stuck in a call: leave the thread behind. It holds only this
            // sync's uncommitted window, and whatever it commits later still
            // keeps state behind data.
            let secs = self.wait.as_secs();
            tracing::error!(
                "the destination did not finish within {secs} s; leaving its thread behind"
            );
            if finishing && self.failed.is_none() {
                self.failed = Some(WriteError::Destination(SinkError::new(
                    SinkErrorKind::Stuck,
                    format!(
                        "the destination did not finish the queued rows and its last commit within \
                         {secs} s; is its file locked by another process, or its disk full or \
                         failing? The next run resumes from the last checkpoint it committed"
                    ),
                )));
            }
            return;
        }
        let error = match thread.join() {
            Ok(()) => self.sink_error.get().cloned(),
            Err(panic) => Some(WriteError::Destination(SinkError::new(
                SinkErrorKind::Internal,
                format!("the destination crashed: {}", panic_message(&*panic)),
            ))),
        };
        if self.failed.is_none() {
            self.failed = error;
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
        let r = match self.sink_error.get() {
            Some(e) => Err(e.clone()),
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

/// The error for a call made after the sink thread was told to stop.
fn stopped() -> WriteError {
    WriteError::Destination(SinkError::new(
        SinkErrorKind::Internal,
        "the destination was already closed for this sync",
    ))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (_, Some(s)) => s,
        _ => "panic without a message",
    }
}

/// The sink thread: applies `ops` in order until the queue closes, then drops
/// what is not committed. After the first error it applies nothing more (the
/// sink already dropped its uncommitted rows) but keeps draining the queue, so
/// the connector never waits on a queue nobody reads.
fn run_sink(
    mut sink: Box<dyn Sink>,
    job: &str,
    ops: Receiver<(Op, u64)>,
    progress: &Progress,
    error: &OnceLock<WriteError>,
    budget: &Budget,
) {
    // Checkpoints the sink made durable so far: progress counts them only then.
    let mut durable = 0;
    let mut count = |sink: &dyn Sink, finish: bool| {
        let now = sink.durable();
        // A finish commits the last checkpoint's state again: not a new one.
        let new = (now - durable).saturating_sub(u64::from(finish && now > durable));
        progress.checkpoints(new);
        durable = now;
    };
    for (op, bytes) in ops.iter() {
        // The rows leave the queue now (into the sink's own bounded window, or dropped).
        budget.give(bytes);
        if error.get().is_some() {
            continue;
        }
        let finish = matches!(op, Op::Finish(Some(_)));
        let done = match op {
            Op::Upsert(table, rows) => sink.upsert(&table, rows),
            Op::UpsertColumns(table, batch) => sink.upsert_columns(&table, batch),
            Op::Delete(table, keys) => sink.delete(&table, keys),
            Op::Truncate(table) => sink.truncate(&table),
            Op::Flush => sink.flush(),
            Op::Commit(state) => sink.commit(job, &state),
            Op::Finish(Some(state)) => sink.commit(job, &state).and_then(|()| sink.close()),
            // Never checkpointed and had no state: the rows are durable, the cursor stays unset.
            Op::Finish(None) => sink.close(),
        };
        count(&*sink, finish && done.is_ok());
        if let Err(e) = done {
            sink.abort();
            count(&*sink, false);
            let _ = error.set(e.into());
        }
    }
    sink.abort();
    count(&*sink, false);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::schema::{Column, ColumnType, Value};
    use crate::sink::{SinkErrorKind, SinkResult};

    /// What the fake destination holds: committed ids and state, commits so far.
    #[derive(Default)]
    struct Store {
        pending: Vec<i64>,
        rows: Vec<i64>,
        state: Option<String>,
        commits: usize,
        durable: u64,
    }

    /// A destination in memory whose commit number `fail_at` (1-based) fails.
    struct Fake(Arc<Mutex<Store>>, usize);

    impl Sink for Fake {
        fn state(&mut self, _: &str) -> SinkResult<Option<String>> {
            Ok(self.0.lock().unwrap().state.clone())
        }
        fn prepare(&mut self, _: &[TableSchema]) -> SinkResult<()> {
            Ok(())
        }
        fn upsert(&mut self, _: &str, rows: Vec<Row>) -> SinkResult<()> {
            let ids = rows.iter().map(|r| match r[0] {
                Value::Int(i) => i,
                _ => unreachable!(),
            });
            self.0.lock().unwrap().pending.extend(ids);
            Ok(())
        }
        fn delete(&mut self, _: &str, _: Vec<Row>) -> SinkResult<()> {
            Ok(())
        }
        fn truncate(&mut self, _: &str) -> SinkResult<()> {
            Ok(())
        }
        fn flush(&mut self) -> SinkResult<()> {
            let mut s = self.0.lock().unwrap();
            let pending = std::mem::take(&mut s.pending);
            s.rows.extend(pending);
            Ok(())
        }
        fn close(&mut self) -> SinkResult<()> {
            self.flush()
        }
        fn commit(&mut self, _: &str, state: &str) -> SinkResult<()> {
            let mut s = self.0.lock().unwrap();
            s.commits += 1;
            if s.commits == self.1 {
                return Err(SinkError::new(SinkErrorKind::Io, "table `t`: disk full"));
            }
            let pending = std::mem::take(&mut s.pending);
            s.rows.extend(pending);
            s.state = Some(state.into());
            s.durable += 1;
            Ok(())
        }
        fn durable(&self) -> u64 {
            self.0.lock().unwrap().durable
        }
        fn abort(&mut self) {
            self.0.lock().unwrap().pending.clear();
        }
        fn reset(&mut self, _: &str) -> SinkResult<bool> {
            Ok(false)
        }
    }

    fn writer(fail_at: usize) -> (Writer, Arc<Mutex<Store>>, Arc<Progress>) {
        let store = Arc::new(Mutex::new(Store::default()));
        let table = TableSchema {
            name: "t".into(),
            columns: vec![Column {
                name: "id".into(),
                ty: ColumnType::Int,
                nullable: false,
            }],
            primary_key: vec!["id".into()],
        };
        let progress = Arc::new(Progress::default());
        let sink = Box::new(Fake(store.clone(), fail_at));
        let w = Writer::new("job", sink, vec![table], None, 1000, progress.clone());
        (w, store, progress)
    }

    /// A destination whose `close` takes `hang`.
    struct Slow(Fake, Duration);

    impl Sink for Slow {
        fn state(&mut self, job: &str) -> SinkResult<Option<String>> {
            self.0.state(job)
        }
        fn prepare(&mut self, t: &[TableSchema]) -> SinkResult<()> {
            self.0.prepare(t)
        }
        fn upsert(&mut self, t: &str, rows: Vec<Row>) -> SinkResult<()> {
            self.0.upsert(t, rows)
        }
        fn delete(&mut self, t: &str, keys: Vec<Row>) -> SinkResult<()> {
            self.0.delete(t, keys)
        }
        fn truncate(&mut self, t: &str) -> SinkResult<()> {
            self.0.truncate(t)
        }
        fn flush(&mut self) -> SinkResult<()> {
            self.0.flush()
        }
        fn close(&mut self) -> SinkResult<()> {
            std::thread::sleep(self.1);
            self.0.close()
        }
        fn commit(&mut self, job: &str, state: &str) -> SinkResult<()> {
            self.0.commit(job, state)
        }
        fn abort(&mut self) {
            self.0.abort()
        }
        fn durable(&self) -> u64 {
            self.0.durable()
        }
        fn reset(&mut self, job: &str) -> SinkResult<bool> {
            self.0.reset(job)
        }
    }

    #[test]
    fn a_destination_that_never_finishes_fails_the_sync_after_the_wait() {
        let store = Arc::new(Mutex::new(Store::default()));
        let sink = Box::new(Slow(Fake(store.clone(), 0), Duration::from_secs(3)));
        let progress = Arc::new(Progress::default());
        let mut w = Writer::new("job", sink, vec![], None, 1000, progress);
        w.wait = Duration::from_millis(200);
        w.checkpoint("s1".into()).unwrap();
        let started = Instant::now();
        let e = w.finish().unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(e.contains("did not finish the queued rows"), "{e}");
        assert_eq!(store.lock().unwrap().state.as_deref(), Some("s1"));
    }

    fn ids(range: std::ops::Range<i64>) -> Vec<Row> {
        range.map(|i| vec![Value::Int(i)]).collect()
    }

    #[test]
    fn abort_commits_every_requested_checkpoint_and_drops_the_rest() {
        let (mut w, store, progress) = writer(0);
        w.upsert("t", ids(0..3)).unwrap();
        w.checkpoint("s1".into()).unwrap();
        w.upsert("t", ids(3..5)).unwrap();
        w.checkpoint("s2".into()).unwrap();
        w.upsert("t", ids(5..9)).unwrap();
        w.abort();
        let s = store.lock().unwrap();
        assert_eq!(
            (s.rows.clone(), s.state.as_deref()),
            ((0..5).collect(), Some("s2"))
        );
        assert!(s.pending.is_empty());
        assert_eq!(progress.snapshot().checkpoints, 2);
        assert!(w.failure().is_none());
    }

    #[test]
    fn column_batches_are_checked_counted_and_committed() {
        let (mut w, store, progress) = writer(0);
        let batch = |ids: Vec<Row>| ColumnBatch::from_rows(&[ColumnType::Int], &ids);
        let good = batch(ids(0..3));
        let bytes = good.bytes();
        w.upsert_columns("t", good, bytes).unwrap();
        // An empty batch is nothing to send (and nothing for a sink to hold).
        w.upsert_columns("t", batch(vec![]), 0).unwrap();
        w.checkpoint("s1".into()).unwrap();
        let mut bad = batch(ids(3..5));
        bad.columns[0].valid = vec![true, false];
        let e = w.upsert_columns("t", bad, 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "table `t` row 1 column `id`: null in a non-nullable column"
        );
        w.abort();
        let s = store.lock().unwrap();
        assert_eq!(
            (s.rows.clone(), s.state.as_deref()),
            (vec![0, 1, 2], Some("s1"))
        );
        assert_eq!(progress.snapshot().total_upserts(), 3);
    }

    #[test]
    fn finish_commits_the_tail_with_the_last_state_without_counting_it() {
        let (mut w, store, progress) = writer(0);
        w.upsert("t", ids(0..3)).unwrap();
        w.checkpoint("s1".into()).unwrap();
        w.upsert("t", ids(3..5)).unwrap();
        w.finish().unwrap();
        let s = store.lock().unwrap();
        assert_eq!(
            (s.rows.clone(), s.state.as_deref()),
            ((0..5).collect(), Some("s1"))
        );
        assert_eq!(progress.snapshot().checkpoints, 1);
    }

    #[test]
    fn a_destination_error_reaches_the_next_call_and_nothing_after_commits() {
        let (mut w, store, progress) = writer(2);
        w.upsert("t", ids(0..3)).unwrap();
        w.checkpoint("s1".into()).unwrap();
        w.upsert("t", ids(3..5)).unwrap();
        w.checkpoint("s2".into()).unwrap(); // fails on the sink thread
        let first = loop {
            // The failure shows up once the thread got there; until then calls are queued.
            if let Err(e) = w.upsert("t", ids(5..6)) {
                break e.to_string();
            }
            std::thread::yield_now();
        };
        assert_eq!(first, "destination: table `t`: disk full");
        let later = w.checkpoint("s3".into()).unwrap_err().to_string();
        assert_eq!(later, format!("an earlier records call failed: {first}"));
        assert_eq!(w.finish().unwrap_err().to_string(), first);
        let s = store.lock().unwrap();
        assert_eq!(
            (s.rows.clone(), s.state.as_deref()),
            ((0..3).collect(), Some("s1"))
        );
        assert_eq!(progress.snapshot().checkpoints, 1);
    }

    #[test]
    fn an_error_first_seen_at_finish_is_returned_by_it() {
        let (mut w, store, _) = writer(1);
        w.upsert("t", ids(0..3)).unwrap();
        w.checkpoint("s1".into()).unwrap_or_default();
        let e = w.finish().unwrap_err().to_string();
        assert_eq!(e, "destination: table `t`: disk full");
        assert_eq!(store.lock().unwrap().state, None);
    }

    #[test]
    fn dropping_a_writer_stops_its_thread_like_abort() {
        let (mut w, store, _) = writer(0);
        w.upsert("t", ids(0..2)).unwrap();
        w.checkpoint("s1".into()).unwrap();
        w.upsert("t", ids(2..4)).unwrap();
        drop(w);
        let s = store.lock().unwrap();
        assert_eq!(
            (s.rows.clone(), s.state.as_deref()),
            ((0..2).collect(), Some("s1"))
        );
        assert!(s.pending.is_empty());
    }

    #[test]
    fn the_queue_holds_a_bounded_number_of_bytes_and_operations() {
        let budget = Arc::new(Budget::default());
        assert!(budget.take(QUEUE_BYTES - 1, QUEUE_WAIT));
        // One more byte fits; a big batch then waits until rows leave the queue.
        assert!(budget.take(1, QUEUE_WAIT));
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.take(QUEUE_BYTES, QUEUE_WAIT))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "a batch past the bound must wait");
        budget.give(QUEUE_BYTES);
        assert!(waiter.join().unwrap());
        // Alone, a batch larger than the bound still goes.
        budget.give(QUEUE_BYTES);
        budget.give(0);
        assert!(budget.take(3 * QUEUE_BYTES, QUEUE_WAIT));
        budget.give(3 * QUEUE_BYTES);
        // At most QUEUE_OPS operations, however small; a full queue that never
        // drains fails the wait instead of hanging.
        let (short, ms50) = (Budget::default(), Duration::from_millis(50));
        for _ in 0..QUEUE_OPS {
            assert!(short.take(0, ms50));
        }
        assert!(
            !short.take(0, ms50),
            "the queue is full and nothing drains it"
        );
        // A closed budget (the sink thread ended) never blocks.
        short.close();
        assert!(short.take(QUEUE_BYTES, ms50));
    }
}
