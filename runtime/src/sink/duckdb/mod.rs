//! The DuckDB destination: one database file holding the connector's tables and
//! airlock's `_airlock_state` table.
//!
//! Upserts and deletes are kept in memory per table, in the order they arrived
//! (the job's writer bounds how many), and land in one short transaction per
//! flush or checkpoint: the batch is appended with DuckDB's appender (never a
//! statement per row; as Arrow columns, so a data chunk at a time, unless a
//! value needs DuckDB's own conversion, see [`arrow`]) to a TEMP staging
//! table that records each row's operation, then folded into the target with
//! a few set-based statements that honour that order (the last operation on a
//! key wins; [`merge`]). Connectors that interleave deletes
//! with upserts, as change-data-capture does, thus cost no more than those that
//! don't.
//!
//! A full sync in key order takes a faster road ([`append`]). A batch of
//! upserts whose single integer keys ascend from above every key stored so
//! far cannot collide with a stored row: it is gathered and appended straight
//! to the target as it arrives, in the open transaction, so DuckDB works while
//! the connector reads. And while a window holds nothing else, its checkpoints
//! are folded into one transaction for up to [`FOLD_FOR`] ([`window`]): DuckDB
//! writes a transaction of a row group (122,880 rows) or more straight to the
//! file as compressed row groups, where small ones go through its WAL and are
//! compressed again at the next checkpoint, which doubles its work. The open
//! transaction is committed at least every [`FOLD_FOR`] (with the latest
//! folded state, rows after it included). A sync whose connector fails still
//! keeps every checkpoint it reached ([`Sink::abort`]); a killed process, or a
//! destination error, leaves exactly the last committed rows and state, at
//! most [`FOLD_FOR`] behind.
//!
//! Rows laid out by column ([`Sink::upsert_columns`]) take the fast road as
//! Arrow arrays built from their buffers ([`arrow::from_batch`]); on any
//! other road they become rows.
//!
//! The other files: [`ddl`] brings tables in line with their declarations,
//! [`sql`] holds every statement's text, [`table`] what is kept per table,
//! [`cell`] values as DuckDB takes them, [`context`] DuckDB's errors as
//! [`SinkError`]s.

mod append;
mod arrow;
mod cell;
mod context;
mod ddl;
mod merge;
mod sql;
mod table;
#[cfg(test)]
mod tests;
mod window;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use duckdb::{Connection, OptionalExt};

pub use self::cell::Cell;
use self::context::{Context, is_locked};
use self::table::{Pending, Table, lookup};
use self::window::Held;
use super::{Sink, SinkError, SinkErrorKind, SinkResult};
use crate::columns::ColumnBatch;
use crate::schema::{Row, TableSchema, rows_bytes};

/// How long checkpoints of a window of direct appends may be folded into one
/// transaction. Long enough for a bulk load to commit row groups of a few
/// hundred thousand rows; short enough that a killed process re-reads little.
const FOLD_FOR: Duration = Duration::from_secs(5);
/// Rows gathered for a direct append: DuckDB's appender costs about twice as
/// much per row in batches of an SDK call (1,024 rows) as in batches of this.
const DIRECT_CHUNK: usize = 16_384;
/// Or this many bytes of rows, whichever comes first: wide rows make a chunk
/// early, which keeps a gathered text column far below Arrow's 2 GiB.
const DIRECT_BYTES: u64 = 64 << 20;

/// A [`Sink`] writing to a DuckDB database file.
///
/// DuckDB allows one writing process per file, so a destination file is owned
/// by one airlock run at a time.
pub struct DuckDbSink {
    conn: Connection,
    tables: HashMap<String, Table>,
    /// Whether a transaction is open (a direct append or a truncate opens one
    /// until the next commit).
    in_tx: bool,
    next_stage: usize,
    /// When the open window (everything since the last commit) began.
    window: Option<Instant>,
    /// A truncate is in the open transaction: an abort could not take it out
    /// again, so checkpoints are committed, not folded.
    truncated: bool,
    /// The latest checkpoint folded into the open transaction.
    held: Option<Held>,
    /// See [`FOLD_FOR`]; zero commits every checkpoint at once.
    fold_for: Duration,
    /// Checkpoints made durable so far (see [`Sink::durable`]).
    durable: u64,
}

impl DuckDbSink {
    /// Opens (creating if needed) the database file at `path`. Its directory must exist.
    pub fn open(path: &Path) -> SinkResult<Self> {
        let conn = Connection::open(path).map_err(|e| {
            let msg = e.to_string();
            let kind = match is_locked(&msg) {
                true => SinkErrorKind::Locked,
                false => SinkErrorKind::Unavailable,
            };
            SinkError::new(
                kind,
                format!(
                    "cannot open DuckDB destination {}: {msg}. Check that its directory exists and is \
                     writable and that no other process (another airlock run, a DuckDB shell) has it open",
                    path.display()
                ),
            )
        })?;
        Self::init(conn)
    }

    /// Opens a private in-memory database (nothing survives the process; for tests).
    pub fn open_in_memory() -> SinkResult<Self> {
        Self::init(Connection::open_in_memory().ctx("*", "opening an in-memory DuckDB")?)
    }

    fn init(conn: Connection) -> SinkResult<Self> {
        (conn.execute_batch(sql::CREATE_STATE)).ctx("_airlock_state", "creating")?;
        (conn.execute_batch(sql::WAL_THRESHOLD)).ctx("*", "configuring DuckDB")?;
        Ok(Self {
            conn,
            tables: HashMap::new(),
            in_tx: false,
            next_stage: 0,
            window: None,
            truncated: false,
            held: None,
            fold_for: FOLD_FOR,
            durable: 0,
        })
    }
}

impl Sink for DuckDbSink {
    fn state(&mut self, job: &str) -> SinkResult<Option<String>> {
        let state = (self.conn)
            .query_row(sql::SELECT_STATE, [job], |r| r.get(0))
            .optional();
        state.ctx(
            "_airlock_state",
            &format!("reading the state of job `{job}`"),
        )
    }

    fn prepare(&mut self, tables: &[TableSchema]) -> SinkResult<()> {
        // Keeps DDL out of any open transaction.
        self.close()?;
        tables.iter().try_for_each(|t| self.prepare_table(t))
    }

    fn upsert(&mut self, table: &str, rows: Vec<Row>) -> SinkResult<()> {
        self.open_window()?;
        let t = lookup(&mut self.tables, table)?;
        if t.pending.is_empty()
            && let Some(below) = append::new_keys(t, &rows)
        {
            let (n, bytes) = (rows.len(), rows_bytes(&rows));
            return self.gather(table, below, n, bytes, |g| g.rows.extend(rows));
        }
        // Rows gathered before this batch land before it.
        self.append_gathered(table)?;
        let t = lookup(&mut self.tables, table)?;
        t.pending.extend(rows.into_iter().map(Pending::Upsert));
        Ok(())
    }

    fn upsert_columns(&mut self, table: &str, batch: ColumnBatch) -> SinkResult<()> {
        self.open_window()?;
        let t = lookup(&mut self.tables, table)?;
        if t.pending.is_empty()
            && let Some(below) = append::new_column_keys(t, &batch)
            && let Some(cols) = arrow::from_batch(&t.types, &batch)
        {
            let (n, bytes) = (batch.rows, batch.bytes());
            return self.gather(table, below, n, bytes, |g| g.batches.push(cols));
        }
        self.upsert(table, batch.into_rows())
    }

    fn delete(&mut self, table: &str, keys: Vec<Row>) -> SinkResult<()> {
        if lookup(&mut self.tables, table)?.key.is_empty() {
            return Err(SinkError::new(
                SinkErrorKind::Refused,
                format!(
                    "table `{table}` has no primary key, so rows cannot be deleted; declare a primary key or truncate"
                ),
            )
            .in_table(table));
        }
        self.window.get_or_insert_with(Instant::now);
        self.append_gathered(table)?;
        let t = lookup(&mut self.tables, table)?;
        t.deletes_pending |= !keys.is_empty();
        t.pending.extend(keys.into_iter().map(Pending::Delete));
        Ok(())
    }

    fn truncate(&mut self, table: &str) -> SinkResult<()> {
        let t = lookup(&mut self.tables, table)?;
        t.pending.clear();
        t.direct.clear();
        self.truncate_table(table)
    }

    fn flush(&mut self) -> SinkResult<()> {
        // Gathered rows are bounded by `DIRECT_CHUNK`, and DuckDB spills a
        // large transaction to disk itself: only staged operations need it,
        // or a transaction open for longer than folding allows.
        if self.tables.values().all(|t| t.pending.is_empty()) {
            return self.commit_if_due();
        }
        self.commit_held()
    }

    fn commit(&mut self, job: &str, state: &str) -> SinkResult<()> {
        self.checkpoint(job, state)
    }

    fn close(&mut self) -> SinkResult<()> {
        self.commit_held()
    }

    fn durable(&self) -> u64 {
        self.durable
    }

    fn abort(&mut self) {
        self.abort_window()
    }

    fn reset(&mut self, job: &str) -> SinkResult<bool> {
        let deleted = self.conn.execute(sql::DELETE_STATE, [job]);
        Ok(deleted.ctx("_airlock_state", &format!("resetting job `{job}`"))? > 0)
    }
}
