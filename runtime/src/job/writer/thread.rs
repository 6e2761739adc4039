//! The sink thread: the destination works on a thread of its own, fed in
//! order through the bounded queue, so the connector produces its next batch
//! while the destination ingests the previous one. A destination that takes
//! nothing, or does not finish, within the queue's wait is stuck: its thread
//! is left behind with the sync's uncommitted window.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::queue::{Budget, CloseOnExit, QUEUE_WAIT};
use crate::columns::ColumnBatch;
use crate::job::progress::Progress;
use crate::schema::Row;
use crate::sink::{Sink, SinkError, SinkErrorKind};

/// One step for the sink thread, applied in the order the connector asked.
pub(super) enum Op {
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

/// An operation in the queue, with the bytes of rows it holds.
struct Queued {
    op: Op,
    bytes: u64,
}

/// Why an operation could not be queued.
pub(super) enum Refused {
    /// The destination took nothing within the wait: the thread is left
    /// behind, and this says so.
    Stuck(SinkError),
    /// The thread ended early: it failed (or panicked) and says why when stopped.
    Ended,
    /// The thread was told to stop before (see [`stopped`]).
    Closed,
}

/// The sink thread, its queue and its first error.
pub(super) struct SinkThread {
    /// `None` once the thread was told to stop.
    queue: Option<Sender<Queued>>,
    /// Room in the queue.
    budget: Arc<Budget>,
    /// The thread's first error, seen by the connector on its next call.
    error: Arc<OnceLock<SinkError>>,
    thread: Option<JoinHandle<()>>,
    /// How long the connector waits for room, and the end of a sync for the
    /// thread ([`QUEUE_WAIT`]).
    pub(super) wait: Duration,
}

impl SinkThread {
    /// Starts the thread applying operations for `job` to `sink`, counting
    /// durable checkpoints in `progress`.
    pub(super) fn spawn(sink: Box<dyn Sink>, job: &str, progress: Arc<Progress>) -> SinkThread {
        // Unbounded as a channel; `budget` bounds it, with a timeout.
        let (queue, ops) = channel();
        let error = Arc::new(OnceLock::new());
        let budget = Arc::new(Budget::default());
        let thread = {
            let (job, error, budget) = (job.to_owned(), error.clone(), budget.clone());
            std::thread::Builder::new()
                .name(format!("airlock-sink-{job}"))
                .spawn(move || {
                    let _close = CloseOnExit(budget.clone());
                    run(sink, &job, ops, &progress, &error, &budget)
                })
                .expect("spawning the sink thread")
        };
        SinkThread {
            queue: Some(queue),
            budget,
            error,
            thread: Some(thread),
            wait: QUEUE_WAIT,
        }
    }

    /// The thread's first error, if it had one.
    pub(super) fn error(&self) -> Option<&SinkError> {
        self.error.get()
    }

    /// Queues `op` holding `bytes` of rows, waiting (bounded) while the queue is full.
    pub(super) fn send(&mut self, op: Op, bytes: u64) -> Result<(), Refused> {
        let queue = self.queue.as_ref().ok_or(Refused::Closed)?;
        if !self.budget.take(bytes, self.wait) {
            // Stuck, not slow: leave the thread behind rather than wait on it again.
            self.queue = None;
            self.thread = None;
            return Err(Refused::Stuck(SinkError::new(
                SinkErrorKind::Stuck,
                format!(
                    "the destination took nothing for {} s; is its file locked by another process, \
                     or its disk full?",
                    self.wait.as_secs()
                ),
            )));
        }
        queue.send(Queued { op, bytes }).map_err(|_| Refused::Ended)
    }

    /// Closes the queue and waits for the thread to apply what is queued (at
    /// most the queue's wait). The thread then drops whatever was not
    /// committed. Returns the thread's error, if any; a thread that does not
    /// end in time is an error only for a sync that is `finishing` (otherwise
    /// the sync's own error is the one to report). Stopping twice returns
    /// nothing the second time.
    pub(super) fn stop(&mut self, finishing: bool) -> Option<SinkError> {
        self.queue = None;
        let thread = self.thread.take()?;
        if !self.budget.wait_closed(self.wait) {
            // Stuck in a call: leave the thread behind. It holds only this
            // sync's uncommitted window, and whatever it commits later still
            // keeps state behind data.
            let secs = self.wait.as_secs();
            tracing::error!(
                "the destination did not finish within {secs} s; leaving its thread behind"
            );
            return finishing.then(|| {
                SinkError::new(
                    SinkErrorKind::Stuck,
                    format!(
                        "the destination did not finish the queued rows and its last commit within \
                         {secs} s; is its file locked by another process, or its disk full or \
                         failing? The next run resumes from the last checkpoint it committed"
                    ),
                )
            });
        }
        match thread.join() {
            Ok(()) => self.error.get().cloned(),
            Err(panic) => Some(SinkError::new(
                SinkErrorKind::Internal,
                format!("the destination crashed: {}", panic_message(&*panic)),
            )),
        }
    }
}

/// The error for a call made after the sink thread was told to stop.
pub(super) fn stopped() -> SinkError {
    SinkError::new(
        SinkErrorKind::Internal,
        "the destination was already closed for this sync",
    )
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
fn run(
    mut sink: Box<dyn Sink>,
    job: &str,
    ops: Receiver<Queued>,
    progress: &Progress,
    error: &OnceLock<SinkError>,
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
    for Queued { op, bytes } in ops.iter() {
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
            let _ = error.set(e);
        }
    }
    sink.abort();
    count(&*sink, false);
}
