//! Destinations: where a job's records and state are committed.
//!
//! The contract every destination keeps is **checkpoint = commit**: rows handed
//! over before [`Sink::commit`] and the state passed to it become durable in one
//! transaction, so a reader never sees a state that is ahead of its data. Rows may
//! become durable *earlier* (a forced [`Sink::flush`]); replaying them after a crash
//! is harmless because upserts are idempotent by primary key. A destination may
//! fold a few consecutive checkpoints into one transaction (a bulk load is much
//! cheaper in large ones): the last of them is committed with every row before it
//! by a later commit, [`Sink::close`] or [`Sink::abort`], and [`Sink::durable`]
//! counts a checkpoint only then. A destination error drops folded checkpoints
//! with the rest of the uncommitted window.
//!
//! [`open`] builds any destination from its config. Adding one is a module
//! here (its [`Sink`] and an `open`), a variant of
//! [`config::Destination`](crate::config::Destination), and its arm in [`open`]
//! and [`describe`]. A destination that is a network service dials its server
//! in [`open`] through the job's [`Dialer`] (the operator's egress policy, the
//! endpoint's route and host TLS, as for a connector's endpoints), then runs
//! its blocking protocol on the sink thread the job's writer gives it: it
//! keeps the [`tokio::runtime::Handle`] it was opened on and drives the
//! connection with `handle.block_on(..)` from there.

mod duckdb;
mod error;

pub use self::duckdb::{Cell as DuckDbCell, DuckDbSink};
pub use self::error::{SinkError, SinkErrorKind};

use crate::columns::ColumnBatch;
use crate::config::Destination;
use crate::net::Dialer;
use crate::schema::{Row, TableSchema};

/// Shorthand for results of sink operations.
pub type SinkResult<T> = Result<T, SinkError>;

/// Opens the destination `destination` describes. A network destination
/// reaches its server through `dialer`; an embedded one (DuckDB) needs none.
pub async fn open(destination: &Destination, dialer: &Dialer) -> SinkResult<Box<dyn Sink>> {
    let _ = dialer;
    match destination {
        Destination::DuckDb(path) => Ok(Box::new(DuckDbSink::open(path)?)),
    }
}

/// The destination as a person reads it, in reports: for DuckDB the file's path.
pub fn describe(destination: &Destination) -> String {
    match destination {
        Destination::DuckDb(path) => path.display().to_string(),
    }
}

/// What a destination must do for a job. Rows arrive already validated against
/// the table's schema (arity, types, nullability), in the order the connector
/// emitted them.
pub trait Sink: Send {
    /// The state last committed for `job`, or `None` if it never committed (or was reset).
    fn state(&mut self, job: &str) -> SinkResult<Option<String>>;

    /// Makes every table exist with at least the declared columns. Creates missing
    /// tables, adds missing columns, and refuses a column whose type changed or a
    /// changed primary key (with a message naming table and column).
    fn prepare(&mut self, tables: &[TableSchema]) -> SinkResult<()>;

    /// Inserts or replaces `rows` by primary key (appends on tables without one).
    /// Within the uncommitted window the last write of a key wins.
    fn upsert(&mut self, table: &str, rows: Vec<Row>) -> SinkResult<()>;

    /// [`Sink::upsert`] for rows laid out by column, a batch that passed
    /// [`ColumnBatch::check`]. Destinations that can take columns whole
    /// override it; by default the batch becomes rows.
    fn upsert_columns(&mut self, table: &str, batch: ColumnBatch) -> SinkResult<()> {
        self.upsert(table, batch.into_rows())
    }

    /// Marks the rows with these primary keys deleted (`_airlock_deleted = true`).
    /// Ordered with the upserts around it: upsert, delete, upsert leaves the row live.
    fn delete(&mut self, table: &str, keys: Vec<Row>) -> SinkResult<()>;

    /// Marks every row of the table deleted, uncommitted upserts of it included.
    fn truncate(&mut self, table: &str) -> SinkResult<()>;

    /// Bounds what the destination holds in memory when a connector checkpoints
    /// rarely: pending rows it keeps itself become durable, without touching
    /// the state.
    fn flush(&mut self) -> SinkResult<()>;

    /// Commits `state` with every row before it in one transaction, now or
    /// folded into a later commit (see the module docs).
    fn commit(&mut self, job: &str, state: &str) -> SinkResult<()>;

    /// Makes every row and folded checkpoint durable (the end of a sync).
    fn close(&mut self) -> SinkResult<()>;

    /// Commits the last checkpoint if it was folded, then drops every row
    /// after it. Durable data and state stay.
    fn abort(&mut self);

    /// How many [`Sink::commit`] calls are durable so far (folded ones count
    /// once they are committed).
    fn durable(&self) -> u64;

    /// Forgets the committed state of `job` (its rows stay). Returns whether there was one.
    fn reset(&mut self, job: &str) -> SinkResult<bool>;
}
