//! The writer against destinations in memory: what a finish, an abort, a
//! destination error or a stuck destination leave committed, and the queue's
//! bounds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Writer;
use super::queue::{Budget, QUEUE_BYTES, QUEUE_OPS, QUEUE_WAIT};
use crate::columns::ColumnBatch;
use crate::job::progress::Progress;
use crate::schema::{Column, ColumnType, Row, TableSchema, Value};
use crate::sink::{Sink, SinkError, SinkErrorKind, SinkResult};

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
    w.sink.wait = Duration::from_millis(200);
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
