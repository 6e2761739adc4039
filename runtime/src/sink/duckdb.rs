//! The DuckDB destination: one database file holding the connector's tables and
//! airlock's `_airlock_state` table.
//!
//! Upserts and deletes are kept in memory per table, in the order they arrived
//! (the job's writer bounds how many), and land in one short transaction per
//! flush or checkpoint: the batch is appended with DuckDB's appender (never a
//! statement per row; as Arrow columns, so a data chunk at a time, unless a
//! value needs DuckDB's own conversion, see [`columns`]) to a TEMP staging
//! table that records each row's operation, then folded into the target with
//! a few set-based statements that honour that order (the last operation on a
//! key wins). Connectors that interleave deletes
//! with upserts, as change-data-capture does, thus cost no more than those that
//! don't.
//!
//! A full sync in key order takes a faster road. A batch of upserts whose
//! single integer keys ascend from above every key stored so far cannot
//! collide with a stored row: it is gathered and appended straight to the
//! target as it arrives, in the open transaction, so DuckDB works while the
//! connector reads. And while a window holds nothing else, its checkpoints are
//! folded into one transaction for up to [`FOLD_FOR`]: DuckDB writes a
//! transaction of a row group (122,880 rows) or more straight to the file as
//! compressed row groups, where small ones go through its WAL and are
//! compressed again at the next checkpoint, which doubles its work. The open
//! transaction is committed at least every [`FOLD_FOR`] (with the latest
//! folded state, rows after it included). A sync whose connector fails still
//! keeps every checkpoint it reached ([`Sink::abort`]); a killed process, or a
//! destination error, leaves exactly the last committed rows and state, at
//! most [`FOLD_FOR`] behind.
//!
//! Rows laid out by column ([`Sink::upsert_columns`]) take the fast road as
//! Arrow arrays built from their buffers ([`columns::from_batch`]); on any
//! other road they become rows.

mod columns;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use duckdb::arrow::array::{ArrayRef, TimestampMicrosecondArray};
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::{Connection, OptionalExt, ToSql, appender_params_from_iter};

use self::columns::Cells;
use super::{Sink, SinkError, SinkErrorKind, SinkResult};
use crate::columns::{ColumnBatch, ColumnData};
use crate::schema::{Column, ColumnType, Row, TableSchema, Value, rows_bytes};

const SYNCED_AT: &str = "_airlock_synced_at";
const DELETED: &str = "_airlock_deleted";
/// Staging column: true for a delete (key columns set, the rest NULL).
const IS_DELETE: &str = "_airlock_is_delete";
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

/// A checkpoint folded into the open transaction: every row before it is in
/// the transaction, and each table's rows after it lie at or above its
/// [`Table::mark`]. A later commit, [`Sink::close`], [`Sink::abort`], a
/// truncate, or the end of [`FOLD_FOR`] commits it.
struct Held {
    job: String,
    state: String,
    /// Checkpoints folded into this one, itself included.
    count: u64,
}

/// A prepared table: its pending operations, staging table and statements.
struct Table {
    name: String,
    stage: String,
    /// The declared column types, in order.
    types: Vec<ColumnType>,
    key: Vec<usize>,
    /// Operations since the last flush, in arrival order: (is delete, row or key).
    pending: Vec<(bool, Row)>,
    deletes_pending: bool,
    /// Set when the target's columns are exactly the declared ones (none JSON,
    /// which needs the validating cast) plus airlock's two, and the key is one
    /// integer column: every row in the target has a key below this. A batch
    /// of new rows whose keys are all at or above it cannot collide with a
    /// stored row, so it is appended straight to the target, skipping the
    /// staging table and `INSERT OR REPLACE` (a full sync in key order).
    /// Only ever raised, so a rolled-back append leaves it safely high.
    keys_below: Option<i64>,
    /// New-key rows in ascending key order, gathered for a direct append
    /// (fewer than [`DIRECT_CHUNK`]; non-empty only while `pending` is empty).
    direct: Gathered,
    /// `keys_below` when the held checkpoint was folded: the rows after it
    /// have keys at or above it.
    mark: Option<i64>,
    /// Deletes the rows at or above a key (`mark`), for a single integer key.
    past_mark_sql: Option<String>,
    /// Folds staged upserts into the target (used when no delete is pending).
    upsert_sql: String,
    /// Same without the last-write-wins pass, for batches resolved on the host
    /// to one row per key; `IS_DELETE` carries the row's deleted flag, and a
    /// NULL marks a key deleted without an upsert in the batch.
    unique_sql: String,
    /// Marks deleted the target rows of the NULL-flagged keys of a resolved batch.
    resolved_delete_sql: String,
    /// Folds staged upserts and deletes: the last upsert of each key, marked
    /// deleted when the key's last operation was a delete.
    merge_sql: String,
    /// Marks deleted the target rows whose last operation was a delete.
    delete_sql: String,
}

/// New-key rows gathered for a direct append: rows as they came, and column
/// batches already turned into Arrow. Their keys never collide, so the two
/// may be appended in either order.
#[derive(Default)]
struct Gathered {
    rows: Vec<Row>,
    /// The declared columns only; airlock's two are added when appending.
    batches: Vec<Vec<ArrayRef>>,
    /// Rows in `rows` and `batches` together.
    len: usize,
    /// Their size as [`rows_bytes`] counts it.
    bytes: u64,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.batches.is_empty()
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.batches.clear();
        (self.len, self.bytes) = (0, 0);
    }
}

/// Borrows a [`Value`] as a DuckDB value without copying strings or bytes
/// (for DuckDB's appender and statement parameters).
pub struct Cell<'a>(pub &'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Int(i) => ValueRef::BigInt(*i),
            Value::Float(f) => ValueRef::Double(*f),
            // The appender casts text to DECIMAL and throws on bad input; JSON
            // is staged as VARCHAR and cast during the merge, which validates it.
            Value::Text(s) | Value::Decimal(s) | Value::Json(s) => ValueRef::Text(s.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
            Value::Timestamp(t) => ValueRef::Timestamp(TimeUnit::Microsecond, *t),
            Value::Date(d) => ValueRef::Date32(*d),
        }))
    }
}

const NULL: Value = Value::Null;
const TRUE: Value = Value::Boolean(true);
const FALSE: Value = Value::Boolean(false);

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn sql_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::Int => "BIGINT".into(),
        ColumnType::Float => "DOUBLE".into(),
        ColumnType::Text => "VARCHAR".into(),
        ColumnType::Bytes => "BLOB".into(),
        ColumnType::Timestamp => "TIMESTAMP".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
        ColumnType::Json => "JSON".into(),
    }
}

fn stage_type(ty: ColumnType) -> String {
    // The appender stores text into a JSON column unchecked; VARCHAR plus a cast
    // at merge time makes DuckDB validate every document.
    if ty == ColumnType::Json {
        "VARCHAR".into()
    } else {
        sql_type(ty)
    }
}

/// The current time in microseconds since the Unix epoch.
fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_micros() as i64
}

/// Attaches a table and action to DuckDB errors.
trait Context<T> {
    /// For statements without row data: DuckDB's message is safe and useful.
    fn ctx(self, table: &str, action: &str) -> SinkResult<T>;
    /// For statements over row data. DuckDB quotes offending values in its
    /// messages and values can be secrets, so only the error class is kept
    /// (I/O and memory errors name files and sizes, not values, so they stay).
    fn data_ctx(self, table: &str, action: &str) -> SinkResult<T>;
}

impl<T> Context<T> for duckdb::Result<T> {
    fn ctx(self, table: &str, action: &str) -> SinkResult<T> {
        self.map_err(|e| {
            let msg = e.to_string();
            let kind = class(&msg).map_or(SinkErrorKind::Database, kind);
            SinkError::new(kind, format!("table `{table}`: {action} failed: {msg}")).in_table(table)
        })
    }

    fn data_ctx(self, table: &str, action: &str) -> SinkResult<T> {
        self.map_err(|e| {
            let msg = e.to_string();
            let class = class(&msg).unwrap_or("DuckDB error");
            let detail = match class == "IO Error" || class.contains("Memory") {
                true => msg.clone(),
                false => format!("{class}; details withheld as they may contain row values"),
            };
            let message = format!(
                "table `{table}`: {action} failed ({detail}). The rows since the last checkpoint \
                 were dropped: check that the connector's values fit their declared types \
                 (decimal precision and scale, valid JSON), then resume from the last checkpoint"
            );
            // Row data that fails is, short of a storage failure, a value that
            // does not fit its column.
            let kind = match kind(class) {
                SinkErrorKind::Database => SinkErrorKind::BadValue,
                other => other,
            };
            SinkError::new(kind, message).in_table(table)
        })
    }
}

/// DuckDB's error class, the words before the first `": "` of its message
/// (`Conversion Error`, `IO Error`), if the message has one.
fn class(msg: &str) -> Option<&str> {
    (msg.split_once(": ").map(|(c, _)| c)).filter(|c| {
        c.ends_with("Error") && c.chars().all(|ch| ch.is_ascii_alphabetic() || ch == ' ')
    })
}

/// The kind of failure a DuckDB error class stands for.
fn kind(class: &str) -> SinkErrorKind {
    match class {
        "IO Error" => SinkErrorKind::Io,
        c if c.contains("Memory") => SinkErrorKind::Io,
        "Conversion Error" | "Invalid Input Error" | "Constraint Error" | "Out of Range Error" => {
            SinkErrorKind::BadValue
        }
        _ => SinkErrorKind::Database,
    }
}

/// Whether a DuckDB message says another process holds the file's lock.
fn is_locked(msg: &str) -> bool {
    msg.contains("Could not set lock")
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
        let sql = "CREATE TABLE IF NOT EXISTS _airlock_state (job VARCHAR PRIMARY KEY, \
                   state VARCHAR NOT NULL, checkpoints BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL)";
        conn.execute_batch(sql).ctx("_airlock_state", "creating")?;
        // DuckDB folds its WAL into the file (compressing every column of each
        // touched row group anew) once the WAL passes this size. At the 16 MB
        // default a sync rewrites its open row group many times over; a larger
        // WAL costs only disk and replay time after a crash.
        conn.execute_batch("SET checkpoint_threshold = '256MB'")
            .ctx("*", "configuring DuckDB")?;
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

    fn begin(&mut self) -> SinkResult<()> {
        if !self.in_tx {
            self.conn
                .execute_batch("BEGIN TRANSACTION")
                .ctx("*", "BEGIN")?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// Commits the window: gathered rows, every pending operation and, if
    /// given, a state. On failure everything uncommitted is dropped.
    fn transact(&mut self, state: Option<&Held>) -> SinkResult<()> {
        let result = self.begin().and_then(|()| {
            let at = now();
            for t in self.tables.values_mut() {
                append_direct(&self.conn, t, at)?;
                merge(&self.conn, t, at)?;
            }
            if let Some(h) = state {
                save_state(&self.conn, h)?;
            }
            self.conn.execute_batch("COMMIT").ctx("*", "COMMIT")
        });
        match result {
            Ok(()) => {
                self.durable += state.map_or(0, |h| h.count);
                self.ended();
            }
            Err(_) => self.rollback(),
        }
        result
    }

    /// Commits the open transaction if it is older than `fold_for`, with the
    /// held checkpoint if any (the rows after it become durable ahead of the
    /// state, which replays them harmlessly).
    fn commit_if_due(&mut self) -> SinkResult<()> {
        match self.window.is_some_and(|w| w.elapsed() >= self.fold_for) {
            true => self.commit_held(),
            false => Ok(()),
        }
    }

    /// Commits the held checkpoint, and whatever else the window holds.
    fn commit_held(&mut self) -> SinkResult<()> {
        let held = self.held.take();
        let idle = self
            .tables
            .values()
            .all(|t| t.pending.is_empty() && t.direct.is_empty());
        if !self.in_tx && held.is_none() && idle {
            return Ok(());
        }
        self.transact(held.as_ref())
    }

    /// Called before an upsert: a folded checkpoint waits for no later one
    /// past its time, and the window opens if it is not open.
    fn open_window(&mut self) -> SinkResult<()> {
        if self.held.is_some() {
            self.commit_if_due()?;
        }
        self.window.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Gathers `n` new-key rows (`bytes` as [`rows_bytes`] counts them) for
    /// `table` with `add`, raising its bound to `below`, and appends what is
    /// gathered once it makes a chunk.
    fn gather(
        &mut self,
        table: &str,
        below: i64,
        n: usize,
        bytes: u64,
        add: impl FnOnce(&mut Gathered),
    ) -> SinkResult<()> {
        let t = lookup(&mut self.tables, table)?;
        t.keys_below = Some(below);
        t.direct.len += n;
        t.direct.bytes += bytes;
        add(&mut t.direct);
        match t.direct.len >= DIRECT_CHUNK || t.direct.bytes >= DIRECT_BYTES {
            true => self.append_gathered(table),
            false => Ok(()),
        }
    }

    /// Appends `table`'s gathered rows to the open transaction.
    fn append_gathered(&mut self, table: &str) -> SinkResult<()> {
        if lookup(&mut self.tables, table)?.direct.is_empty() {
            return Ok(());
        }
        self.begin()?;
        let t = lookup(&mut self.tables, table)?;
        let appended = append_direct(&self.conn, t, now());
        if appended.is_err() {
            self.rollback();
        }
        appended
    }

    /// Appends every table's gathered rows to the open transaction.
    fn append_all_gathered(&mut self) -> SinkResult<()> {
        if self.tables.values().all(|t| t.direct.is_empty()) {
            return Ok(());
        }
        self.begin()?;
        let at = now();
        let appended =
            (self.tables.values_mut()).try_for_each(|t| append_direct(&self.conn, t, at));
        if appended.is_err() {
            self.rollback();
        }
        appended
    }

    /// Forgets the window once it is committed or rolled back.
    fn ended(&mut self) {
        (self.in_tx, self.truncated, self.window, self.held) = (false, false, None, None);
        for t in self.tables.values_mut() {
            t.mark = None;
        }
    }

    /// Drops everything uncommitted, folded checkpoints included.
    fn rollback(&mut self) {
        if self.in_tx {
            // Errors only if DuckDB already ended the transaction itself.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        for t in self.tables.values_mut() {
            t.pending.clear();
            t.deletes_pending = false;
            t.direct.clear();
        }
        self.ended();
    }

    /// Commits the held checkpoint without what came after it: gathered and
    /// pending rows are dropped, and rows appended after it (at or above each
    /// table's mark) deleted.
    fn keep_held(&mut self, held: &Held) -> SinkResult<()> {
        self.begin()?;
        for t in self.tables.values_mut() {
            t.pending.clear();
            t.deletes_pending = false;
            t.direct.clear();
            if let (Some(mark), Some(sql)) = (t.mark, &t.past_mark_sql) {
                (self.conn.execute(sql, [mark]))
                    .ctx(&t.name, "dropping rows after the checkpoint")?;
            }
        }
        save_state(&self.conn, held)?;
        self.conn.execute_batch("COMMIT").ctx("*", "COMMIT")
    }

    /// Rows of a catalog query about `table` (DuckDB folds identifier case).
    fn catalog<T>(&self, table: &str, sql: &str, f: RowFn<T>) -> SinkResult<Vec<T>> {
        let sql = format!(
            "{sql} WHERE database_name = current_database() AND schema_name = 'main' \
             AND lower(table_name) = lower(?)"
        );
        let mut stmt = self.conn.prepare(&sql).ctx(table, "reading the catalog")?;
        let rows = stmt
            .query_map([table], f)
            .ctx(table, "reading the catalog")?;
        rows.collect::<duckdb::Result<_>>()
            .ctx(table, "reading the catalog")
    }

    /// The DDL that brings the target table in line with `schema`, or why it cannot.
    fn plan_table(&self, schema: &TableSchema) -> SinkResult<Vec<String>> {
        let (name, target) = (&schema.name, quote(&schema.name));
        let sql = "SELECT column_name, data_type, is_nullable FROM duckdb_columns()";
        let existing: Vec<(String, String, bool)> =
            self.catalog(name, sql, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if existing.is_empty() {
            let null = |c: &Column| if c.nullable { "" } else { " NOT NULL" };
            let cols = list(&schema.columns, |c| {
                format!("{} {}{}", quote(&c.name), sql_type(c.ty), null(c))
            });
            let key = match schema.primary_key.is_empty() {
                true => String::new(),
                false => format!(
                    ", PRIMARY KEY ({})",
                    list(&schema.primary_key, |k| quote(k))
                ),
            };
            return Ok(vec![format!(
                "CREATE TABLE {target} ({cols}, {SYNCED_AT} TIMESTAMP NOT NULL, \
                 {DELETED} BOOLEAN NOT NULL DEFAULT false{key})"
            )]);
        }
        let fix = "airlock does not convert existing data: drop the table in the destination \
                   (or use a new destination file) and run a full sync";
        let sql = "SELECT unnest(constraint_column_names) \
                   FROM (FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY')";
        let key: Vec<String> = self.catalog(name, sql, |r| r.get(0))?;
        if key.join("\0").to_lowercase() != schema.primary_key.join("\0").to_lowercase() {
            return Err(SinkError::new(
                SinkErrorKind::SchemaConflict,
                format!(
                    "table `{name}`: the destination's primary key is ({}) but the connector declares ({}); {fix}",
                    key.join(", "),
                    schema.primary_key.join(", ")
                ),
            )
            .in_table(name));
        }
        let mut ddl = Vec::new();
        for c in &schema.columns {
            let (col, want) = (quote(&c.name), sql_type(c.ty));
            match existing.iter().find(|e| e.0.eq_ignore_ascii_case(&c.name)) {
                None => ddl.push(format!("ALTER TABLE {target} ADD COLUMN {col} {want}")),
                Some(e) if e.1 != want => {
                    return Err(SinkError::new(
                        SinkErrorKind::SchemaConflict,
                        format!(
                            "table `{name}` column `{}`: the destination column is {} but the connector declares {}; {fix}",
                            c.name, e.1, c.ty
                        ),
                    )
                    .in_table(name));
                }
                Some(e) if !e.2 && c.nullable => {
                    ddl.push(format!("ALTER TABLE {target} ALTER {col} DROP NOT NULL"))
                }
                Some(_) => {}
            }
        }
        // A column the connector no longer declares gets NULLs from now on.
        for (col, _, nullable) in &existing {
            let declared = schema
                .columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(col));
            if !declared && !nullable && !col.starts_with("_airlock") && !key.contains(col) {
                ddl.push(format!(
                    "ALTER TABLE {target} ALTER {} DROP NOT NULL",
                    quote(col)
                ));
            }
        }
        Ok(ddl)
    }

    /// The bound for [`Table::keys_below`] of a table just brought in line
    /// with `schema`, or `None` if its rows cannot be appended directly.
    fn keys_below(&self, schema: &TableSchema) -> SinkResult<Option<i64>> {
        let [k] = schema.key_indices()[..] else {
            return Ok(None);
        };
        let key = &schema.columns[k];
        if key.ty != ColumnType::Int || schema.columns.iter().any(|c| c.ty == ColumnType::Json) {
            return Ok(None);
        }
        let (name, target) = (&schema.name, quote(&schema.name));
        let mut columns = self.catalog(
            name,
            "SELECT column_index, column_name FROM duckdb_columns()",
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )?;
        columns.sort_unstable();
        let columns: Vec<String> = columns.into_iter().map(|(_, c)| c).collect();
        let declared = schema.columns.iter().map(|c| c.name.as_str());
        if !columns
            .iter()
            .map(String::as_str)
            .eq(declared.chain([SYNCED_AT, DELETED]))
        {
            return Ok(None);
        }
        let sql = format!("SELECT max({}) FROM {target}", quote(&key.name));
        let max: Option<i64> =
            (self.conn.query_row(&sql, [], |r| r.get(0))).ctx(name, "reading the largest key")?;
        Ok(match max {
            None => Some(i64::MIN),
            Some(m) => m.checked_add(1),
        })
    }

    fn prepare_table(&mut self, schema: &TableSchema) -> SinkResult<()> {
        let (name, target) = (&schema.name, quote(&schema.name));
        schema.validate()?;
        for sql in self.plan_table(schema)? {
            self.conn
                .execute_batch(&sql)
                .ctx(name, "creating or altering the table")?;
        }
        // Fresh names per prepare: a re-prepared table may have different columns.
        self.next_stage += 1;
        let stage = format!("_airlock_stage_{}", self.next_stage);
        let defs = list(&schema.columns, |c| {
            format!("{} {}", quote(&c.name), stage_type(c.ty))
        });
        let ddl = format!("CREATE OR REPLACE TEMP TABLE {stage} ({defs}, {IS_DELETE} BOOLEAN)");
        self.conn
            .execute_batch(&ddl)
            .ctx(name, "creating the staging table")?;

        let key: Vec<&Column> = schema
            .key_indices()
            .into_iter()
            .map(|i| &schema.columns[i])
            .collect();
        let value = |c: &Column, alias: &str| match c.ty {
            ColumnType::Json => format!("CAST({alias}.{} AS JSON)", quote(&c.name)),
            _ => format!("{alias}.{}", quote(&c.name)),
        };
        let cols = list(&schema.columns, |c| quote(&c.name));
        let values = |alias: &str| list(&schema.columns, |c| value(c, alias));
        let into = format!("INTO {target} ({cols}, {SYNCED_AT}, {DELETED})");
        let stage_ref = format!("temp.main.{stage}");
        let stage = &stage_ref;
        let insert = format!(
            "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), s.{IS_DELETE} FROM {stage} s \
             WHERE s.{IS_DELETE} IS NOT NULL",
            values("s")
        );
        let resolved_delete_sql = format!(
            "UPDATE {target} t SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) FROM {stage} d \
             WHERE d.{IS_DELETE} IS NULL AND {} AND NOT t.{DELETED}",
            key.iter()
                .map(|c| format!("t.{q} = d.{q}", q = quote(&c.name)))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        let (upsert_sql, merge_sql, delete_sql) = if key.is_empty() {
            (
                format!(
                    "INSERT {into} SELECT {}, CAST(? AS TIMESTAMP), false FROM {stage} s",
                    values("s")
                ),
                String::new(),
                String::new(),
            )
        } else {
            // rowid follows append order, which is arrival order: the last one wins.
            let by = list(&key, |c| quote(&c.name));
            let last =
                format!("QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY rowid DESC) = 1");
            let on = |a: &str, b: &str| {
                key.iter()
                    .map(|c| format!("{a}.{q} = {b}.{q}", q = quote(&c.name)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            };
            (
                format!(
                    "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), false FROM {stage} s {last}",
                    values("s")
                ),
                format!(
                    "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), l.{IS_DELETE} \
                     FROM (SELECT * FROM {stage} WHERE NOT {IS_DELETE} {last}) u \
                     JOIN (SELECT {by}, {IS_DELETE} FROM {stage} {last}) l ON {}",
                    values("u"),
                    on("u", "l")
                ),
                format!(
                    "UPDATE {target} t SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) \
                     FROM (SELECT {by}, {IS_DELETE} FROM {stage} {last}) d \
                     WHERE d.{IS_DELETE} AND {} AND NOT t.{DELETED}",
                    on("t", "d")
                ),
            )
        };
        let keys_below = self.keys_below(schema)?;
        let past_mark_sql = match (keys_below, &key[..]) {
            (Some(_), [k]) => Some(format!(
                "DELETE FROM {target} WHERE {} >= ?",
                quote(&k.name)
            )),
            _ => None,
        };
        let t = Table {
            name: name.clone(),
            stage: stage_ref.clone(),
            types: schema.columns.iter().map(|c| c.ty).collect(),
            key: schema.key_indices(),
            pending: Vec::new(),
            deletes_pending: false,
            keys_below,
            direct: Gathered::default(),
            mark: None,
            past_mark_sql,
            unique_sql: if key.is_empty() {
                upsert_sql.clone()
            } else {
                insert
            },
            resolved_delete_sql,
            upsert_sql,
            merge_sql,
            delete_sql,
        };
        self.tables.insert(name.clone(), t);
        Ok(())
    }
}

/// Maps a catalog row.
type RowFn<T> = fn(&duckdb::Row<'_>) -> duckdb::Result<T>;

/// `items` mapped and joined with commas.
fn list<T>(items: impl IntoIterator<Item = T>, f: impl FnMut(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(", ")
}

fn lookup<'a>(tables: &'a mut HashMap<String, Table>, name: &str) -> SinkResult<&'a mut Table> {
    tables.get_mut(name).ok_or_else(|| {
        SinkError::new(
            SinkErrorKind::Refused,
            format!("table `{name}` was not prepared; declare it in the connector's schema"),
        )
        .in_table(name)
    })
}

/// Appends a table's gathered new-key rows to the target, inside the caller's
/// transaction (see [`Table::direct`]).
fn append_direct(conn: &Connection, t: &mut Table, at: i64) -> SinkResult<()> {
    if t.direct.is_empty() {
        return Ok(());
    }
    let mut app = conn.appender(&t.name).ctx(&t.name, "appending rows")?;
    let with_ours = |mut cols: Vec<ArrayRef>, n: usize| {
        cols.push(Arc::new(TimestampMicrosecondArray::from_value(at, n)));
        cols.push(columns::flags((0..n).map(|_| Some(false))));
        columns::batch(cols)
    };
    let rows = &t.direct.rows;
    let cells: Vec<Cells> = rows.iter().map(Cells::Full).collect();
    if let Some(cols) = (!rows.is_empty())
        .then(|| columns::columns(&t.types, &t.key, &cells))
        .flatten()
    {
        let batch = with_ours(cols, rows.len());
        app.append_record_batch(batch)
            .data_ctx(&t.name, "appending rows")?;
    } else {
        let at = Value::Timestamp(at);
        for row in rows {
            let row = row.iter().chain([&at, &FALSE]);
            (app.append_row(appender_params_from_iter(row.map(Cell))))
                .data_ctx(&t.name, "appending rows")?;
        }
    }
    if !t.direct.batches.is_empty() {
        // One batch of them all: the appender's cost per row falls with its size.
        let cols = columns::concat(std::mem::take(&mut t.direct.batches)).map_err(|e| {
            SinkError::new(
                SinkErrorKind::Database,
                format!("table `{}`: gathering rows: {e}", t.name),
            )
            .in_table(&t.name)
        })?;
        let n = cols[0].len();
        (app.append_record_batch(with_ours(cols, n))).data_ctx(&t.name, "appending rows")?;
    }
    app.flush().data_ctx(&t.name, "appending rows")?;
    t.direct.clear();
    Ok(())
}

/// For a batch of upserts whose single integer keys ascend from at or above
/// [`Table::keys_below`], the bound after them; `None` for any other batch.
fn new_keys(t: &Table, rows: &[Row]) -> Option<i64> {
    let [k] = t.key[..] else { return None };
    let keys = rows.iter().map(|row| match row[k] {
        Value::Int(key) => Some(key),
        _ => None,
    });
    ascending_from(t.keys_below?, keys)
}

/// [`new_keys`] for a column batch.
fn new_column_keys(t: &Table, batch: &ColumnBatch) -> Option<i64> {
    let [k] = t.key[..] else { return None };
    match &batch.columns[k].data {
        // A key column is never null (checked by the writer).
        ColumnData::Int(keys) => ascending_from(t.keys_below?, keys.iter().map(|&k| Some(k))),
        _ => None,
    }
}

/// The bound after `keys` if they ascend from at or above `below`.
fn ascending_from(mut below: i64, keys: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    for key in keys {
        match key {
            Some(key) if key >= below => below = key.checked_add(1)?,
            _ => return None,
        }
    }
    Some(below)
}

/// Saves a job's state, counting the checkpoints it stands for.
fn save_state(conn: &Connection, h: &Held) -> SinkResult<()> {
    let sql = "INSERT OR REPLACE INTO _airlock_state \
               SELECT ?, ?, coalesce((SELECT checkpoints FROM _airlock_state WHERE job = ?), 0) + ?, \
               CAST(? AS TIMESTAMP)";
    let (job, count) = (h.job.as_str(), h.count as i64);
    let params: [&dyn ToSql; 5] = [
        &job,
        &h.state,
        &job,
        &count,
        &Cell(&Value::Timestamp(now())),
    ];
    (conn.execute(sql, params))
        .ctx(
            "_airlock_state",
            &format!("saving the state of job `{job}`"),
        )
        .map(drop)
}

/// Appends a table's pending operations to its staging table, then folds them
/// into the target. Runs inside the caller's transaction.
fn merge(conn: &Connection, t: &mut Table, at: i64) -> SinkResult<()> {
    if t.pending.is_empty() {
        return Ok(());
    }
    let at_value = Value::Timestamp(at);
    // For a single integer key the host resolves the batch to one row per key
    // (cheap with a hash map), so the database skips sorting by key.
    let resolved = resolve_int_keys(t);
    {
        let mut app = conn
            .appender_to_catalog_and_db(t.stage.trim_start_matches("temp.main."), "temp", "main")
            .ctx(&t.name, "staging rows")?;
        // Each staged row with its operation flag (see `IS_DELETE`).
        let staged: Vec<(Cells, Option<bool>)> = match &resolved {
            Some(Resolved { rows, .. }) => (rows.iter())
                .map(|&(i, deleted)| {
                    let row = &t.pending[i].1;
                    (
                        deleted.map_or(Cells::Key(row), |_| Cells::Full(row)),
                        deleted,
                    )
                })
                .collect(),
            None => (t.pending.iter())
                .map(|(is_delete, row)| match is_delete {
                    true => (Cells::Key(row), Some(true)),
                    false => (Cells::Full(row), Some(false)),
                })
                .collect(),
        };
        let cells: Vec<Cells> = staged.iter().map(|s| s.0).collect();
        if let Some(mut cols) = columns::columns(&t.types, &t.key, &cells) {
            cols.push(columns::flags(staged.iter().map(|s| s.1)));
            (app.append_record_batch(columns::batch(cols))).data_ctx(&t.name, "staging rows")?;
        } else {
            let (width, key) = (t.types.len(), &t.key[..]);
            for &(cells, flag) in &staged {
                let flag = match flag {
                    None => &NULL,
                    Some(true) => &TRUE,
                    Some(false) => &FALSE,
                };
                let appended = match cells {
                    Cells::Full(row) => app.append_row(appender_params_from_iter(
                        row.iter().chain([flag]).map(Cell),
                    )),
                    Cells::Key(row) => app.append_row(appender_params_from_iter(
                        key_cells(width, key, row, flag).map(Cell),
                    )),
                };
                appended.data_ctx(&t.name, "staging rows")?;
            }
        }
        app.flush().data_ctx(&t.name, "staging rows")?;
    }
    if let Some(Resolved { rows, .. }) = &resolved {
        conn.execute(&t.unique_sql, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
        if rows.iter().any(|(_, d)| d.is_none()) {
            conn.execute(&t.resolved_delete_sql, [Cell(&at_value)])
                .data_ctx(&t.name, "deleting rows")?;
        }
    } else if t.deletes_pending {
        conn.execute(&t.merge_sql, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
        conn.execute(&t.delete_sql, [Cell(&at_value)])
            .data_ctx(&t.name, "deleting rows")?;
    } else {
        conn.execute(&t.upsert_sql, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
    }
    conn.execute_batch(&format!("DELETE FROM {}", t.stage))
        .ctx(&t.name, "clearing staged rows")?;
    // Keys outside a resolved batch are not tracked: give up on appending directly.
    t.keys_below = match (t.keys_below, &resolved) {
        (Some(below), Some(r)) => r.max.checked_add(1).map(|m| m.max(below)),
        _ => None,
    };
    t.pending.clear();
    t.deletes_pending = false;
    Ok(())
}

/// A key row widened to the staging table: key values in their columns, NULL
/// elsewhere, then `flag` in the operation column.
fn key_cells<'a>(
    width: usize,
    key: &'a [usize],
    row: &'a Row,
    flag: &'a Value,
) -> impl Iterator<Item = &'a Value> {
    (0..width)
        .map(move |i| key.iter().position(|&k| k == i).map_or(&NULL, |j| &row[j]))
        .chain([flag])
}

/// A batch of a table keyed by one integer column, resolved to one operation
/// per key (see [`resolve_int_keys`]).
struct Resolved {
    /// `(index, Some(deleted))` stages that upsert with its deleted flag (a
    /// delete after it sets the flag), `(index, None)` a key deleted with no
    /// upsert in the batch; in arrival order.
    rows: Vec<(usize, Option<bool>)>,
    /// The largest key of the batch.
    max: i64,
}

/// For a table keyed by one integer column: the pending operations resolved to
/// one per key, last operation wins. `None` for other keys.
fn resolve_int_keys(t: &Table) -> Option<Resolved> {
    let [k] = t.key[..] else { return None };
    let mut max = i64::MIN;
    // key -> (index of its last upsert, index of its last delete, last op is a delete)
    let mut last: HashMap<i64, (Option<usize>, usize, bool)> =
        HashMap::with_capacity(t.pending.len());
    for (i, (is_delete, row)) in t.pending.iter().enumerate() {
        // Upserts carry every column, deletes only the key.
        let at = if *is_delete { 0 } else { k };
        let Value::Int(key) = row[at] else {
            return None;
        };
        max = max.max(key);
        let e = last.entry(key).or_insert((None, i, false));
        if *is_delete {
            (e.1, e.2) = (i, true);
        } else {
            (e.0, e.2) = (Some(i), false);
        }
    }
    let mut rows: Vec<(usize, Option<bool>)> = last
        .into_values()
        .map(|(upsert, delete, deleted)| match upsert {
            Some(i) => (i, Some(deleted)),
            None => (delete, None),
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.0);
    Some(Resolved { rows, max })
}

impl Sink for DuckDbSink {
    fn state(&mut self, job: &str) -> SinkResult<Option<String>> {
        let sql = "SELECT state FROM _airlock_state WHERE job = ?";
        let state = self.conn.query_row(sql, [job], |r| r.get(0)).optional();
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
            && let Some(below) = new_keys(t, &rows)
        {
            let (n, bytes) = (rows.len(), rows_bytes(&rows));
            return self.gather(table, below, n, bytes, |g| g.rows.extend(rows));
        }
        // Rows gathered before this batch land before it.
        self.append_gathered(table)?;
        let t = lookup(&mut self.tables, table)?;
        t.pending.extend(rows.into_iter().map(|r| (false, r)));
        Ok(())
    }

    fn upsert_columns(&mut self, table: &str, batch: ColumnBatch) -> SinkResult<()> {
        self.open_window()?;
        let t = lookup(&mut self.tables, table)?;
        if t.pending.is_empty()
            && let Some(below) = new_column_keys(t, &batch)
            && let Some(cols) = columns::from_batch(&t.types, &batch)
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
        t.pending.extend(keys.into_iter().map(|k| (true, k)));
        Ok(())
    }

    fn truncate(&mut self, table: &str) -> SinkResult<()> {
        let t = lookup(&mut self.tables, table)?;
        t.pending.clear();
        t.direct.clear();
        // An abort cannot take a truncate back out of the transaction, so a
        // folded checkpoint commits before it.
        if self.held.is_some() {
            self.commit_held()?;
        }
        self.window.get_or_insert_with(Instant::now);
        self.truncated = true;
        self.begin()?;
        let sql = format!(
            "UPDATE {} SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) WHERE NOT {DELETED}",
            quote(table)
        );
        let done = self
            .conn
            .execute(&sql, [Cell(&Value::Timestamp(now()))])
            .ctx(table, "truncating")
            .map(drop);
        if done.is_err() {
            self.rollback();
        }
        done
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
        // Another job's folded checkpoint is not replaced by this one.
        if self.held.as_ref().is_some_and(|h| h.job != job) {
            self.commit_held()?;
        }
        let count = 1 + self.held.as_ref().map_or(0, |h| h.count);
        let held = Held {
            job: job.to_owned(),
            state: state.to_owned(),
            count,
        };
        let fold = !self.truncated
            && self.tables.values().all(|t| t.pending.is_empty())
            && self.window.is_some_and(|w| w.elapsed() < self.fold_for);
        if !fold {
            return self.transact(Some(&held));
        }
        // Every row before the checkpoint goes into the transaction now, and
        // each table's bound marks where the rows after it begin.
        self.append_all_gathered()?;
        for t in self.tables.values_mut() {
            t.mark = t.keys_below;
        }
        self.held = Some(held);
        Ok(())
    }

    fn close(&mut self) -> SinkResult<()> {
        self.commit_held()
    }

    fn durable(&self) -> u64 {
        self.durable
    }

    fn abort(&mut self) {
        if let Some(held) = self.held.take()
            && self.keep_held(&held).is_ok()
        {
            self.durable += held.count;
            self.ended();
        } else {
            self.rollback();
        }
    }

    fn reset(&mut self, job: &str) -> SinkResult<bool> {
        let deleted = self
            .conn
            .execute("DELETE FROM _airlock_state WHERE job = ?", [job]);
        Ok(deleted.ctx("_airlock_state", &format!("resetting job `{job}`"))? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: ColumnType, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            nullable,
        }
    }

    fn table(name: &str, columns: Vec<Column>, key: &[&str]) -> TableSchema {
        let primary_key = key.iter().map(|k| k.to_string()).collect();
        TableSchema {
            name: name.into(),
            columns,
            primary_key,
        }
    }

    fn users() -> TableSchema {
        let cols = vec![
            col("id", ColumnType::Int, false),
            col("name", ColumnType::Text, true),
        ];
        table("users", cols, &["id"])
    }

    /// `users` rows from "id=name" pairs.
    fn rows(spec: &str) -> Vec<Row> {
        let row = |p: &str| {
            let (id, name) = p.split_once('=').unwrap();
            vec![Value::Int(id.parse().unwrap()), Value::Text(name.into())]
        };
        spec.split_whitespace().map(row).collect()
    }

    fn keys(ids: &[i64]) -> Vec<Row> {
        ids.iter().map(|&i| vec![Value::Int(i)]).collect()
    }

    /// A sink on a fresh file with `users` prepared; the directory must outlive it.
    fn sink() -> (tempfile::TempDir, DuckDbSink) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
        s.prepare(&[users()]).unwrap();
        (dir, s)
    }

    fn query(s: &DuckDbSink, sql: &str) -> Vec<String> {
        let mut stmt = s.conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    fn live(s: &DuckDbSink) -> String {
        let sql = "SELECT id || '=' || coalesce(name, '-') FROM users WHERE NOT _airlock_deleted ORDER BY id";
        query(s, sql).join(" ")
    }

    /// One column type of each kind, JSON last.
    const EVERY_TYPE: [ColumnType; 9] = [
        ColumnType::Boolean,
        ColumnType::Int,
        ColumnType::Float,
        ColumnType::Text,
        ColumnType::Bytes,
        ColumnType::Timestamp,
        ColumnType::Date,
        ColumnType::Decimal {
            precision: 10,
            scale: 2,
        },
        ColumnType::Json,
    ];

    #[test]
    fn classes_map_to_kinds() {
        let of = |m: &str| class(m).map_or(SinkErrorKind::Database, kind);
        assert_eq!(of("IO Error: No space left on device"), SinkErrorKind::Io);
        assert_eq!(of("Out of Memory Error: failed"), SinkErrorKind::Io);
        let bad = "Conversion Error: Could not convert string 'x' to DECIMAL(4,1)";
        assert_eq!(of(bad), SinkErrorKind::BadValue);
        assert_eq!(
            of("Catalog Error: Table x does not exist"),
            SinkErrorKind::Database
        );
        assert_eq!(of("no class here"), SinkErrorKind::Database);
        assert_eq!(class("Not an: error class"), None);
        assert!(is_locked(
            "IO Error: Could not set lock on file \"x.duckdb\": Conflicting lock is held"
        ));
    }

    #[test]
    fn all_types_round_trip() {
        let (_dir, mut s) = sink();
        let types = EVERY_TYPE;
        let cols = types
            .iter()
            .map(|&t| col(&format!("c {t}"), t, t != ColumnType::Int));
        let t = table("all \"types\"", cols.collect(), &["c int"]);
        s.prepare(std::slice::from_ref(&t)).unwrap();
        s.prepare(&[t]).unwrap(); // an unchanged schema passes as is
        let full = vec![
            Value::Boolean(true),
            Value::Int(1),
            Value::Float(1.5),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(1_700_000_000_123_456),
            Value::Date(19_000),
            Value::Decimal("-12.50".into()),
            Value::Json(r#"{"a":[1,2]}"#.into()),
        ];
        let mut nulls = vec![Value::Null; 9];
        nulls[1] = Value::Int(2);
        s.upsert("all \"types\"", vec![full, nulls]).unwrap();
        s.commit("job", "{}").unwrap();
        let sql = r#"SELECT concat_ws('|', "c boolean", "c float", "c text", hex("c bytes"),
            "c timestamp", "c date", "c decimal(10,2)", "c json" -> '$.a[1]', typeof("c json"))
            FROM "all ""types""" ORDER BY "c int""#;
        let want = "true|1.5|héllo|00FF|2023-11-14 22:13:20.123456|2022-01-08|-12.50|2|JSON";
        assert_eq!(query(&s, sql), [want, "JSON"]);
    }

    #[test]
    fn bad_values_fail_at_commit_without_leaking_them_and_drop_the_window() {
        let (_dir, mut s) = sink();
        let amount = col(
            "amount",
            ColumnType::Decimal {
                precision: 4,
                scale: 1,
            },
            true,
        );
        let cols = vec![
            col("id", ColumnType::Int, false),
            amount,
            col("doc", ColumnType::Json, true),
        ];
        s.prepare(&[table("pay", cols, &["id"])]).unwrap();
        let good = vec![
            Value::Int(1),
            Value::Decimal("1.5".into()),
            Value::Json("[]".into()),
        ];
        let bad = |v: Value, doc: Value| vec![vec![Value::Int(2), v, doc]];
        for row in [
            bad(Value::Decimal("secret".into()), Value::Null),
            bad(Value::Decimal("99999.9".into()), Value::Null),
            bad(Value::Null, Value::Json("{secret".into())),
        ] {
            s.upsert("pay", vec![good.clone()]).unwrap();
            s.upsert("pay", row).unwrap();
            let e = s.commit("job", "s").unwrap_err().to_string();
            assert!(
                e.contains("table `pay`") && !e.contains("secret") && !e.contains("9999"),
                "{e}"
            );
            assert_eq!(s.state("job").unwrap(), None);
            assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["0"]);
        }
        s.upsert("pay", vec![good]).unwrap();
        s.commit("job", "s").unwrap();
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["1"]);
    }

    #[test]
    fn last_write_wins_within_a_window() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a 2=b")).unwrap();
        s.upsert("users", rows("1=c 3=d 1=e")).unwrap();
        s.flush().unwrap();
        assert_eq!(live(&s), "1=e 2=b 3=d");
        s.upsert("users", rows("2=f 2=g")).unwrap();
        s.commit("job", "s1").unwrap();
        assert_eq!(live(&s), "1=e 2=g 3=d");
    }

    #[test]
    fn deletes_are_ordered_with_upserts_and_ignore_unknown_keys() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a 2=b")).unwrap();
        s.delete("users", keys(&[1, 99])).unwrap();
        s.upsert("users", rows("1=c")).unwrap();
        s.delete("users", keys(&[2, 2])).unwrap();
        s.upsert("users", rows("1=d")).unwrap();
        s.commit("job", "s1").unwrap();
        assert_eq!(live(&s), "1=d");
        let all = "SELECT id || ':' || _airlock_deleted FROM users ORDER BY id";
        assert_eq!(query(&s, all), ["1:false", "2:true"]);
    }

    #[test]
    fn non_integer_keys_take_the_sql_path_with_the_same_results() {
        let (_dir, mut s) = sink();
        let cols = vec![
            col("code", ColumnType::Text, false),
            col("v", ColumnType::Int, true),
        ];
        s.prepare(&[table("codes", cols, &["code"])]).unwrap();
        let r = |c: &str, v: i64| vec![Value::Text(c.into()), Value::Int(v)];
        let k = |c: &str| vec![Value::Text(c.into())];
        s.upsert("codes", vec![r("a", 1), r("b", 2), r("a", 3)])
            .unwrap();
        s.delete("codes", vec![k("b"), k("zz")]).unwrap();
        s.upsert("codes", vec![r("c", 4)]).unwrap();
        s.delete("codes", vec![k("c")]).unwrap();
        s.upsert("codes", vec![r("c", 5)]).unwrap();
        s.commit("job", "s").unwrap();
        let all = "SELECT code || '=' || v || ':' || _airlock_deleted FROM codes ORDER BY code";
        assert_eq!(query(&s, all), ["a=3:false", "b=2:true", "c=5:false"]);
        s.delete("codes", vec![k("a")]).unwrap();
        s.commit("job", "s2").unwrap();
        assert_eq!(query(&s, all), ["a=3:true", "b=2:true", "c=5:false"]);
    }

    #[test]
    fn truncate_drops_pending_rows_and_marks_the_rest_deleted() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a 2=b")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("3=c")).unwrap();
        s.truncate("users").unwrap();
        s.upsert("users", rows("4=d 1=e")).unwrap();
        s.commit("job", "s2").unwrap();
        assert_eq!(live(&s), "1=e 4=d");
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM users"), ["3"]);
    }

    #[test]
    fn abort_keeps_only_committed_rows_and_state() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("2=b 1=x")).unwrap();
        s.delete("users", keys(&[1])).unwrap();
        s.upsert("users", rows("3=c")).unwrap();
        s.abort();
        assert_eq!(live(&s), "1=a");
        assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
        s.upsert("users", rows("4=d")).unwrap();
        s.commit("job", "s2").unwrap();
        assert_eq!(live(&s), "1=a 4=d");
    }

    #[test]
    fn state_round_trips_counts_checkpoints_and_resets() {
        let (_dir, mut s) = sink();
        assert_eq!(s.state("job").unwrap(), None);
        s.commit("job", "s1").unwrap();
        s.commit("job", "s2").unwrap();
        s.commit("other", "o1").unwrap();
        assert_eq!(s.state("job").unwrap().as_deref(), Some("s2"));
        let n = "SELECT checkpoints::VARCHAR FROM _airlock_state ORDER BY job";
        assert_eq!(query(&s, n), ["2", "1"]);
        assert!(s.reset("job").unwrap());
        assert!(!s.reset("job").unwrap());
        assert_eq!(s.state("job").unwrap(), None);
        assert_eq!(s.state("other").unwrap().as_deref(), Some("o1"));
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s3").unwrap();
        s.close().unwrap(); // the checkpoint was folded: it commits here
        assert_eq!(query(&s, n), ["1", "1"]);
    }

    #[test]
    fn prepare_adds_columns_and_refuses_incompatible_changes() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        let mut t = users();
        t.columns.push(col("Email", ColumnType::Text, false));
        s.prepare(&[t.clone()]).unwrap(); // flushes the pending row first
        let row = vec![Value::Int(2), Value::Null, Value::Text("e".into())];
        s.upsert("users", vec![row]).unwrap();
        s.commit("job", "s1").unwrap();
        let email = r#"SELECT coalesce("Email", '-') FROM users ORDER BY id"#;
        assert_eq!(query(&s, email), ["-", "e"]);
        t.columns[1].ty = ColumnType::Int;
        let e = s.prepare(&[t.clone()]).unwrap_err().to_string();
        assert!(
            e.contains("table `users` column `name`") && e.contains("VARCHAR"),
            "{e}"
        );
        assert!(e.contains("drop the table"), "{e}");
        (t.columns[1].ty, t.columns[1].nullable) = (ColumnType::Text, false);
        t.primary_key.push("name".into());
        let e = s.prepare(&[t]).unwrap_err().to_string();
        assert!(
            e.contains("table `users`") && e.contains("primary key is (id)"),
            "{e}"
        );
    }

    #[test]
    fn append_only_tables_keep_every_row() {
        let (_dir, mut s) = sink();
        s.prepare(&[table("log", vec![col("msg", ColumnType::Text, true)], &[])])
            .unwrap();
        let msg = vec![Value::Text("m".into())];
        s.upsert("log", vec![msg.clone(), msg.clone()]).unwrap();
        s.flush().unwrap();
        s.upsert("log", vec![msg, vec![Value::Null]]).unwrap();
        assert!(
            s.delete("log", vec![vec![]])
                .unwrap_err()
                .to_string()
                .contains("no primary key")
        );
        s.abort();
        s.upsert("log", vec![vec![Value::Null]]).unwrap();
        s.commit("job", "s1").unwrap();
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM log"), ["3"]);
    }

    #[test]
    fn a_large_interleaved_window_merges_in_one_pass() {
        // CDC-like: every key upserted, every third deleted right after, some re-upserted.
        let (_dir, mut s) = sink();
        for id in 0..3000 {
            s.upsert("users", rows(&format!("{id}=v{id}"))).unwrap();
            if id % 3 == 0 {
                s.delete("users", keys(&[id])).unwrap();
            }
            if id % 9 == 0 {
                s.upsert("users", rows(&format!("{id}=again"))).unwrap();
            }
        }
        s.commit("job", "s").unwrap();
        let n = |sql: &str| query(&s, sql)[0].clone();
        assert_eq!(n("SELECT count(*)::VARCHAR FROM users"), "3000");
        assert_eq!(
            n("SELECT count(*)::VARCHAR FROM users WHERE _airlock_deleted"),
            "666"
        );
        assert_eq!(
            n("SELECT count(*)::VARCHAR FROM users WHERE name = 'again' AND NOT _airlock_deleted"),
            "334"
        );
    }

    #[test]
    fn decimals_append_as_columns_exactly_as_duckdb_casts_them() {
        // Every storage width DuckDB uses for DECIMAL, over more rows than one
        // data chunk; rows appended directly as columns must equal DuckDB's
        // own cast of the same text. The second batch needs rounding, so it
        // takes the row-by-row path and still lands.
        let (_dir, mut s) = sink();
        let dec = |name: &str, precision, scale| {
            col(name, ColumnType::Decimal { precision, scale }, true)
        };
        let cols = vec![
            col("id", ColumnType::Int, false),
            col("s", ColumnType::Text, true),
            dec("d4", 4, 1),
            dec("d9", 9, 2),
            dec("d18", 18, 3),
            dec("d38", 38, 10),
        ];
        s.prepare(&[table("dec", cols, &["id"])]).unwrap();
        let row = |id: i64, text: String| {
            let d = |t: &str| Value::Decimal(t.into());
            let mut r = vec![Value::Int(id), Value::Text(text.clone())];
            r.extend([d(&text), d(&text), d(&text), d(&text)]);
            r
        };
        let batch = (0..5000)
            .map(|i| row(i, format!("{}.{}", i / 10 - 250, i % 10)))
            .collect();
        s.upsert("dec", batch).unwrap();
        s.commit("job", "1").unwrap();
        s.upsert("dec", vec![row(9000, "-1.25".into())]).unwrap();
        s.commit("job", "2").unwrap();
        let sql = "SELECT count(*)::VARCHAR FROM dec WHERE d4 = s::DECIMAL(4,1) \
                   AND d9 = s::DECIMAL(9,2) AND d18 = s::DECIMAL(18,3) AND d38 = s::DECIMAL(38,10)";
        assert_eq!(query(&s, sql), ["5001"]);
        let sql =
            "SELECT concat_ws('|', d4, d18, d38) FROM dec WHERE id IN (0, 4999, 9000) ORDER BY id";
        let want = [
            "-250.0|-250.000|-250.0000000000",
            "249.9|249.900|249.9000000000",
            "-1.3|-1.250|-1.2500000000",
        ];
        assert_eq!(query(&s, sql), want);
    }

    #[test]
    fn truncate_and_later_rows_commit_together() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.truncate("users").unwrap();
        s.abort();
        assert_eq!(live(&s), "1=a");
        s.truncate("users").unwrap();
        s.upsert("users", rows("1=b")).unwrap();
        s.commit("job", "s2").unwrap();
        assert_eq!(live(&s), "1=b");
    }

    #[test]
    fn new_keys_append_directly_and_known_keys_still_replace() {
        let (dir, mut s) = sink();
        let below = |s: &DuckDbSink| s.tables["users"].keys_below;
        assert_eq!(below(&s), Some(i64::MIN));
        s.upsert("users", rows("2=a 1=b 2=c")).unwrap();
        s.commit("job", "s1").unwrap(); // not ascending: staged
        assert_eq!(below(&s), Some(3));
        s.upsert("users", rows("2=x 5=e")).unwrap();
        s.commit("job", "s2").unwrap(); // 2 is stored: staged and replaced
        assert_eq!(below(&s), Some(6));
        s.upsert("users", rows("4=d 6=f")).unwrap();
        s.delete("users", keys(&[4])).unwrap();
        s.commit("job", "s3").unwrap(); // a delete: staged
        assert_eq!(live(&s), "1=b 2=x 5=e 6=f");
        drop(s);
        let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
        s.prepare(&[users()]).unwrap();
        assert_eq!(
            below(&s),
            Some(7),
            "from the stored rows, deleted ones included"
        );
        s.upsert("users", rows("7=g 8=h")).unwrap();
        s.commit("job", "s4").unwrap();
        assert_eq!(below(&s), Some(9));
        assert_eq!(live(&s), "1=b 2=x 5=e 6=f 7=g 8=h");
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM users"), ["7"]);
        let mut t = users();
        t.columns.push(col("email", ColumnType::Text, true));
        s.prepare(&[t]).unwrap();
        assert_eq!(
            below(&s),
            None,
            "an added column sits after airlock's: positions differ"
        );
    }

    /// The types of `t`'s columns.
    fn types(t: &TableSchema) -> Vec<ColumnType> {
        t.columns.iter().map(|c| c.ty).collect()
    }

    #[test]
    fn column_batches_land_exactly_as_their_rows_do() {
        // Every type, nulls, a decimal DuckDB must round, new keys and known
        // ones: one sink takes rows, the other the same rows laid out by
        // column. Without a JSON column new keys append directly; with one,
        // everything is staged (JSON needs DuckDB's validating cast).
        for json in [false, true] {
            same_by_rows_and_by_columns(json);
        }
    }

    fn same_by_rows_and_by_columns(json: bool) {
        // Every type but the key's, JSON last.
        let all: Vec<ColumnType> = (EVERY_TYPE.into_iter())
            .filter(|&t| t != ColumnType::Int && (json || t != ColumnType::Json))
            .collect();
        let mut cols = vec![col("id", ColumnType::Int, false)];
        cols.extend(all.iter().map(|&t| col(&format!("c {t}"), t, true)));
        let t = table("t", cols, &["id"]);
        let row = |id: i64, decimal: &str| {
            let mut row = vec![
                Value::Int(id),
                Value::Boolean(id % 2 == 0),
                Value::Float(id as f64 / 4.0),
                Value::Text(format!("héllo {id}")),
                Value::Bytes(vec![0, id as u8]),
                Value::Timestamp(1_700_000_000_123_456 + id),
                Value::Date(19_000 + id as i32),
                Value::Decimal(decimal.into()),
                Value::Json(format!(r#"{{"id":{id}}}"#)),
            ];
            row.truncate(1 + all.len());
            row
        };
        let mut with_nulls = row(3, "1");
        with_nulls[1..].fill(Value::Null);
        let batches = [
            vec![row(1, "-12.50"), row(2, "0.1"), with_nulls],
            // Not plain notation: DuckDB's own cast, row by row.
            vec![row(4, "1e2")],
            // Known keys: staged and replaced.
            vec![row(2, "7"), row(5, "8.125")],
        ];
        let names = list(&t.columns, |c| format!("{}::VARCHAR", quote(&c.name)));
        let sql = format!("SELECT concat_ws('|', {names}, {DELETED}) FROM t ORDER BY id");
        let dump = |s: &DuckDbSink| query(s, &sql);
        let (_d1, mut by_rows) = sink();
        let (_d2, mut by_columns) = sink();
        for s in [&mut by_rows, &mut by_columns] {
            s.prepare(std::slice::from_ref(&t)).unwrap();
        }
        for (i, rows) in batches.iter().enumerate() {
            by_rows.upsert("t", rows.clone()).unwrap();
            let batch = ColumnBatch::from_rows(&types(&t), rows);
            by_columns.upsert_columns("t", batch).unwrap();
            if i == 0 {
                let gathered = &by_columns.tables["t"].direct;
                let want = if json { (0, 0) } else { (1, 3) };
                assert_eq!((gathered.batches.len(), gathered.len), want);
            }
            by_rows.commit("job", "s").unwrap();
            by_columns.commit("job", "s").unwrap();
        }
        by_rows.close().unwrap();
        by_columns.close().unwrap();
        let want = dump(&by_rows);
        assert_eq!(want.len(), 5);
        assert!(want[1].contains("|7.00|"), "{want:?}");
        assert!(want[3].contains("|100.00|"), "{want:?}");
        assert_eq!(dump(&by_columns), want);
    }

    #[test]
    fn gathered_batches_append_in_chunks_and_abort_keeps_the_folded_checkpoint() {
        let (_dir, mut s) = sink();
        let t = users();
        let batch = |ids: std::ops::Range<i64>| ColumnBatch::from_rows(&types(&t), &ascending(ids));
        s.upsert_columns("users", batch(0..10)).unwrap();
        s.upsert("users", ascending(10..20)).unwrap();
        s.commit("job", "s1").unwrap();
        // Past a chunk: appended to the open transaction, then dropped by the abort.
        let end = 20 + DIRECT_CHUNK as i64;
        for start in (20..end).step_by(1024) {
            s.upsert_columns("users", batch(start..end.min(start + 1024)))
                .unwrap();
        }
        assert!(s.tables["users"].direct.is_empty(), "appended");
        s.upsert_columns("users", batch(end..end + 5)).unwrap();
        assert_eq!(s.tables["users"].direct.len, 5, "gathered");
        s.abort();
        let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(committed(&s), (Some("s1".into()), 1, ids.join(" ")));
        assert!(s.tables["users"].direct.is_empty());
    }

    #[test]
    fn reopening_sees_only_committed_rows_and_state() {
        let (dir, mut s) = sink();
        s.fold_for = Duration::ZERO; // every checkpoint commits at once
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("2=b")).unwrap();
        s.delete("users", keys(&[1])).unwrap();
        drop(s); // like a kill: the open window never commits
        let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
        assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
        assert_eq!(live(&s), "1=a");
        s.prepare(&[users()]).unwrap();
        let e = DuckDbSink::open(&dir.path().join("no/dest.duckdb"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no/dest.duckdb") && e.contains("directory exists"),
            "{e}"
        );
    }

    /// What another process would see: the committed state of `job` and its
    /// checkpoint count, and the committed live ids.
    fn committed(s: &DuckDbSink) -> (Option<String>, i64, String) {
        let other = s.conn.try_clone().unwrap();
        let state = other
            .query_row(
                "SELECT state, checkpoints FROM _airlock_state WHERE job = 'job'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap();
        let mut stmt = other
            .prepare("SELECT id::VARCHAR FROM users WHERE NOT _airlock_deleted ORDER BY id")
            .unwrap();
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let (state, n) = state.map_or((None, 0), |(s, n)| (Some(s), n));
        (state, n, ids.join(" "))
    }

    fn ascending(ids: std::ops::Range<i64>) -> Vec<Row> {
        ids.map(|i| vec![Value::Int(i), Value::Text(format!("n{i}"))])
            .collect()
    }

    #[test]
    fn checkpoints_of_a_bulk_load_fold_into_one_commit_at_close() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a 2=b")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("3=c")).unwrap();
        s.commit("job", "s2").unwrap();
        assert_eq!(
            committed(&s),
            (None, 0, String::new()),
            "folded, not yet durable"
        );
        assert_eq!(s.durable(), 0);
        assert_eq!(live(&s), "1=a 2=b 3=c", "in the open transaction");
        s.close().unwrap();
        assert_eq!(committed(&s), (Some("s2".into()), 2, "1 2 3".into()));
        assert_eq!(s.durable(), 2);
    }

    #[test]
    fn an_open_bulk_transaction_commits_once_folding_time_is_up() {
        let (_dir, mut s) = sink();
        s.fold_for = Duration::from_millis(50);
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("2=b")).unwrap();
        s.flush().unwrap();
        assert_eq!(committed(&s).0, None, "young: still folded");
        std::thread::sleep(Duration::from_millis(60));
        s.upsert("users", rows("3=c")).unwrap(); // commits the folded checkpoint
        assert_eq!(committed(&s), (Some("s1".into()), 1, "1 2".into()));
        assert_eq!(s.durable(), 1);
        // With none folded, a flush bounds how long rows stay uncommitted.
        std::thread::sleep(Duration::from_millis(60));
        s.flush().unwrap();
        assert_eq!(committed(&s), (Some("s1".into()), 1, "1 2 3".into()));
    }

    #[test]
    fn another_jobs_checkpoint_does_not_replace_a_folded_one() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.commit("other", "o1").unwrap();
        assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
        s.close().unwrap();
        assert_eq!(s.state("other").unwrap().as_deref(), Some("o1"));
        assert_eq!(s.durable(), 2);
    }

    #[test]
    fn a_bad_value_after_a_folded_checkpoint_drops_it_and_says_so() {
        let (_dir, mut s) = sink();
        let cols = vec![
            col("id", ColumnType::Int, false),
            col(
                "amount",
                ColumnType::Decimal {
                    precision: 4,
                    scale: 1,
                },
                true,
            ),
        ];
        s.prepare(&[table("pay", cols, &["id"])]).unwrap();
        let pay = |id: i64, v: &str| vec![Value::Int(id), Value::Decimal(v.into())];
        s.upsert("pay", vec![pay(1, "1.5"), pay(2, "2.5")]).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("pay", vec![pay(3, "99999.9")]).unwrap();
        let e = s.commit("job", "s2").unwrap_err().to_string();
        assert!(e.contains("table `pay`") && !e.contains("9999"), "{e}");
        s.abort();
        assert_eq!(s.durable(), 0, "the folded checkpoint went with the window");
        assert_eq!(s.state("job").unwrap(), None);
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["0"]);
    }

    #[test]
    fn a_staged_operation_or_the_fold_time_ends_folding() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", rows("1=b")).unwrap(); // a known key: staged
        s.commit("job", "s2").unwrap();
        assert_eq!(committed(&s), (Some("s2".into()), 2, "1".into()));
        assert_eq!(live(&s), "1=b");
        s.fold_for = Duration::ZERO;
        s.upsert("users", rows("2=c")).unwrap();
        s.commit("job", "s3").unwrap();
        assert_eq!(committed(&s), (Some("s3".into()), 3, "1 2".into()));
    }

    #[test]
    fn abort_commits_the_folded_checkpoint_without_the_rows_after_it() {
        let (_dir, mut s) = sink();
        s.upsert("users", ascending(0..10)).unwrap();
        s.commit("job", "s1").unwrap();
        s.upsert("users", ascending(10..20)).unwrap();
        s.commit("job", "s2").unwrap();
        // After the checkpoint: more than a chunk (appended to the
        // transaction), then a few gathered rows and a staged delete.
        let after = 20 + DIRECT_CHUNK as i64 + 5;
        s.upsert("users", ascending(20..after)).unwrap();
        s.upsert("users", ascending(after..after + 3)).unwrap();
        s.delete("users", keys(&[3])).unwrap();
        s.abort();
        let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(committed(&s), (Some("s2".into()), 2, ids.join(" ")));
        // The bound stays high, so the next rows still append directly.
        s.upsert("users", rows("99=z")).unwrap();
        s.commit("job", "s3").unwrap();
        s.close().unwrap();
        assert_eq!(committed(&s).1, 3);
        assert!(live(&s).ends_with(" 99=z"));
    }

    #[test]
    fn a_truncate_commits_the_folded_checkpoint_first() {
        let (_dir, mut s) = sink();
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.truncate("users").unwrap();
        assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
        s.abort(); // the truncate is not committed; the checkpoint before it is
        assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
    }

    #[test]
    fn a_killed_process_loses_only_the_folded_checkpoints() {
        let (dir, mut s) = sink();
        s.fold_for = Duration::ZERO;
        s.upsert("users", rows("1=a")).unwrap();
        s.commit("job", "s1").unwrap();
        s.fold_for = FOLD_FOR;
        s.upsert("users", rows("2=b")).unwrap();
        s.commit("job", "s2").unwrap();
        drop(s); // like a kill
        let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
        assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
        assert_eq!(live(&s), "1=a");
    }
}
