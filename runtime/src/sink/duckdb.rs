//! The DuckDB destination: one database file holding the connector's tables and
//! airlock's `_airlock_state` table.
//!
//! Rows are appended (DuckDB's appender, never a statement per row) to a
//! connection-local TEMP staging table per target table, and folded into the
//! target with one set-based statement at a delete, flush or commit. Everything
//! between two checkpoints runs in one explicit transaction, so a killed process
//! leaves exactly the last committed rows and state behind.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::{Connection, OptionalExt, ToSql, appender_params_from_iter};

use super::{Sink, SinkError, SinkResult};
use crate::schema::{Column, ColumnType, Row, TableSchema, Value};

const SYNCED_AT: &str = "_airlock_synced_at";
const DELETED: &str = "_airlock_deleted";

/// A [`Sink`] writing to a DuckDB database file.
///
/// DuckDB allows one writing process per file, so a destination file is owned
/// by one airlock run at a time.
pub struct DuckDbSink {
    conn: Connection,
    tables: HashMap<String, Table>,
    /// Whether the explicit transaction holding the uncommitted window is open.
    in_tx: bool,
    /// Set when a write failed: its rows were dropped, so committing a later
    /// state would skip them. Cleared by [`Sink::abort`].
    failed: bool,
    next_stage: usize,
}

/// A prepared table: its staging tables and pre-built statements.
struct Table {
    name: String,
    stage: String,
    keys: String,
    staged: bool,
    merge_sql: String,
    delete_sql: String,
}

/// Borrows a [`Value`] as a DuckDB value without copying strings or bytes.
struct Cell<'a>(&'a Value);

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

fn now() -> Value {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Value::Timestamp(since.as_micros() as i64)
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
        self.map_err(|e| SinkError(format!("table `{table}`: {action} failed: {e}")))
    }

    fn data_ctx(self, table: &str, action: &str) -> SinkResult<T> {
        self.map_err(|e| {
            let msg = e.to_string();
            let class = (msg.split_once(": ").map(|(c, _)| c))
                .filter(|c| {
                    c.ends_with("Error")
                        && c.chars().all(|ch| ch.is_ascii_alphabetic() || ch == ' ')
                })
                .unwrap_or("DuckDB error");
            let detail = match class == "IO Error" || class.contains("Memory") {
                true => msg.clone(),
                false => format!("{class}; details withheld as they may contain row values"),
            };
            SinkError(format!(
                "table `{table}`: {action} failed ({detail}). The rows since the last checkpoint \
                 were dropped: check that the connector's values fit their declared types \
                 (decimal precision and scale, valid JSON), then resume from the last checkpoint"
            ))
        })
    }
}

impl DuckDbSink {
    /// Opens (creating if needed) the database file at `path`. Its directory must exist.
    pub fn open(path: &Path) -> SinkResult<Self> {
        let conn = Connection::open(path).map_err(|e| {
            SinkError(format!(
                "cannot open DuckDB destination {}: {e}. Check that its directory exists and is \
                 writable and that no other process (another airlock run, a DuckDB shell) has it open",
                path.display()
            ))
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
        let (tables, next_stage) = (HashMap::new(), 0);
        Ok(Self {
            conn,
            tables,
            in_tx: false,
            failed: false,
            next_stage,
        })
    }

    /// Runs a write inside the window's transaction. On failure the window is
    /// dropped and writes are refused until `abort`, so a later commit cannot
    /// record a state past rows that were lost.
    fn write(&mut self, f: impl FnOnce(&mut Self) -> SinkResult<()>) -> SinkResult<()> {
        if self.failed {
            return Err(SinkError(
                "an earlier write to the DuckDB destination failed and the rows since the last \
                 checkpoint were dropped; abort and resume from the last checkpoint"
                    .into(),
            ));
        }
        if !self.in_tx {
            self.conn
                .execute_batch("BEGIN TRANSACTION")
                .ctx("*", "BEGIN")?;
            self.in_tx = true;
        }
        let result = f(self);
        if result.is_err() {
            self.abort();
            self.failed = true;
        }
        result
    }

    fn end_window(&mut self) -> SinkResult<()> {
        self.tables
            .values_mut()
            .try_for_each(|t| merge(&self.conn, t))?;
        self.conn.execute_batch("COMMIT").ctx("*", "COMMIT")?;
        self.in_tx = false;
        Ok(())
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
            return Err(SinkError(format!(
                "table `{name}`: the destination's primary key is ({}) but the connector declares ({}); {fix}",
                key.join(", "),
                schema.primary_key.join(", ")
            )));
        }
        let mut ddl = Vec::new();
        for c in &schema.columns {
            let (col, want) = (quote(&c.name), sql_type(c.ty));
            match existing.iter().find(|e| e.0.eq_ignore_ascii_case(&c.name)) {
                None => ddl.push(format!("ALTER TABLE {target} ADD COLUMN {col} {want}")),
                Some(e) if e.1 != want => {
                    return Err(SinkError(format!(
                        "table `{name}` column `{}`: the destination column is {} but the connector declares {}; {fix}",
                        c.name, e.1, c.ty
                    )));
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

    fn prepare_table(&mut self, schema: &TableSchema) -> SinkResult<()> {
        let (name, target) = (&schema.name, quote(&schema.name));
        schema.validate().map_err(SinkError)?;
        for sql in self.plan_table(schema)? {
            self.conn
                .execute_batch(&sql)
                .ctx(name, "creating or altering the table")?;
        }
        // Fresh names per prepare: a re-prepared table may have different columns.
        self.next_stage += 1;
        let (stage, keys) = (
            format!("_airlock_stage_{}", self.next_stage),
            format!("_airlock_keys_{}", self.next_stage),
        );
        let key_cols: Vec<&Column> = schema
            .key_indices()
            .into_iter()
            .map(|i| &schema.columns[i])
            .collect();
        let defs =
            |cols: &[&Column]| list(cols, |c| format!("{} {}", quote(&c.name), stage_type(c.ty)));
        let all: Vec<&Column> = schema.columns.iter().collect();
        let mut ddl = format!("CREATE OR REPLACE TEMP TABLE {stage} ({});", defs(&all));
        if !key_cols.is_empty() {
            ddl += &format!("CREATE OR REPLACE TEMP TABLE {keys} ({});", defs(&key_cols));
        }
        self.conn
            .execute_batch(&ddl)
            .ctx(name, "creating staging tables")?;

        let expr = |c: &Column, alias: &str| match c.ty {
            ColumnType::Json => format!("CAST({alias}.{} AS JSON)", quote(&c.name)),
            _ => format!("{alias}.{}", quote(&c.name)),
        };
        let (cols, values) = (list(&all, |c| quote(&c.name)), list(&all, |c| expr(c, "s")));
        let (verb, mut merge_sql, delete_sql) = match key_cols.is_empty() {
            true => ("INSERT", String::new(), String::new()),
            false => {
                // Last write wins: rowid follows append order within the staging table.
                let by = list(&key_cols, |c| format!("s.{}", quote(&c.name)));
                let dedup = format!(
                    " QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY s.rowid DESC) = 1"
                );
                let on: Vec<String> = key_cols
                    .iter()
                    .map(|c| format!("t.{} = {}", quote(&c.name), expr(c, "k")))
                    .collect();
                let delete = format!(
                    "UPDATE {target} t SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) \
                     FROM (SELECT DISTINCT * FROM temp.main.{keys}) k WHERE {} AND NOT t.{DELETED}",
                    on.join(" AND ")
                );
                ("INSERT OR REPLACE", dedup, delete)
            }
        };
        merge_sql.insert_str(
            0,
            &format!(
                "{verb} INTO {target} ({cols}, {SYNCED_AT}, {DELETED}) \
             SELECT {values}, CAST(? AS TIMESTAMP), false FROM temp.main.{stage} s"
            ),
        );
        let t = Table {
            name: name.clone(),
            stage,
            keys,
            staged: false,
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
        SinkError(format!(
            "table `{name}` was not prepared; declare it in the connector's schema"
        ))
    })
}

/// Appends rows to a staging table: one appender call per row, no SQL per row.
fn append(conn: &Connection, table: &str, stage: &str, rows: &[Row]) -> SinkResult<()> {
    let mut app = conn
        .appender_to_catalog_and_db(stage, "temp", "main")
        .ctx(table, "staging rows")?;
    for row in rows {
        app.append_row(appender_params_from_iter(row.iter().map(Cell)))
            .data_ctx(table, "staging rows")?;
    }
    app.flush().data_ctx(table, "staging rows")
}

/// Empties a staging table.
fn clear(conn: &Connection, table: &str, stage: &str) -> SinkResult<()> {
    conn.execute_batch(&format!("DELETE FROM temp.main.{stage}"))
        .ctx(table, "clearing staged rows")
}

/// Folds a table's staged rows into the target in one statement and empties the stage.
fn merge(conn: &Connection, t: &mut Table) -> SinkResult<()> {
    if t.staged {
        conn.execute(&t.merge_sql, [Cell(&now())])
            .data_ctx(&t.name, "merging rows")?;
        clear(conn, &t.name, &t.stage)?;
        t.staged = false;
    }
    Ok(())
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
        // Keeps DDL out of the window's transaction (rows may become durable early).
        self.flush()?;
        tables.iter().try_for_each(|t| self.prepare_table(t))
    }

    fn upsert(&mut self, table: &str, rows: Vec<Row>) -> SinkResult<()> {
        self.write(|s| {
            let t = lookup(&mut s.tables, table)?;
            append(&s.conn, table, &t.stage, &rows)?;
            t.staged |= !rows.is_empty();
            Ok(())
        })
    }

    fn delete(&mut self, table: &str, keys: Vec<Row>) -> SinkResult<()> {
        self.write(|s| {
            let t = lookup(&mut s.tables, table)?;
            if t.delete_sql.is_empty() {
                return Err(SinkError(format!(
                    "table `{table}` has no primary key, so rows cannot be deleted; declare a primary key or truncate"
                )));
            }
            // Earlier upserts of these keys must land first, or the delete would miss them.
            merge(&s.conn, t)?;
            append(&s.conn, table, &t.keys, &keys)?;
            s.conn.execute(&t.delete_sql, [Cell(&now())]).data_ctx(table, "deleting rows")?;
            clear(&s.conn, table, &t.keys)
        })
    }

    fn truncate(&mut self, table: &str) -> SinkResult<()> {
        self.write(|s| {
            let t = lookup(&mut s.tables, table)?;
            clear(&s.conn, table, &t.stage)?;
            t.staged = false;
            let sql = format!(
                "UPDATE {} SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) WHERE NOT {DELETED}",
                quote(table)
            );
            s.conn.execute(&sql, [Cell(&now())]).ctx(table, "truncating").map(drop)
        })
    }

    fn flush(&mut self) -> SinkResult<()> {
        if !self.in_tx {
            return Ok(());
        }
        self.write(Self::end_window)
    }

    fn commit(&mut self, job: &str, state: &str) -> SinkResult<()> {
        self.write(|s| {
            // Rows merge before the state row, and both commit together.
            s.tables.values_mut().try_for_each(|t| merge(&s.conn, t))?;
            let sql = "INSERT INTO _airlock_state VALUES (?, ?, 1, CAST(? AS TIMESTAMP)) \
                       ON CONFLICT (job) DO UPDATE SET state = excluded.state, \
                       checkpoints = checkpoints + 1, updated_at = excluded.updated_at";
            let params: [&dyn ToSql; 3] = [&job, &state, &Cell(&now())];
            let saved = s.conn.execute(sql, params);
            saved.ctx(
                "_airlock_state",
                &format!("saving the state of job `{job}`"),
            )?;
            s.end_window()
        })
    }

    fn abort(&mut self) {
        if self.in_tx {
            // Errors only if DuckDB already ended the transaction itself.
            let _ = self.conn.execute_batch("ROLLBACK");
            self.in_tx = false;
        }
        for t in self.tables.values_mut() {
            t.staged = false;
        }
        self.failed = false;
    }

    fn reset(&mut self, job: &str) -> SinkResult<bool> {
        if self.in_tx {
            // Deleting then re-inserting a key in one transaction trips DuckDB's
            // eager unique-constraint check, so the state row is never deleted inside one.
            return Err(SinkError(format!(
                "cannot reset job `{job}` while rows are pending; commit or abort first"
            )));
        }
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

    #[test]
    fn all_types_round_trip() {
        let (_dir, mut s) = sink();
        let types = [
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
        let cols = types
            .iter()
            .map(|&t| col(&format!("c {t}"), t, t != ColumnType::Int));
        let t = table("all \"types\"", cols.collect(), &["c int"]);
        s.prepare(&[t.clone()]).unwrap();
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
    fn bad_values_fail_without_leaking_them_and_block_commits_until_abort() {
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
        let bad = |v: Value| vec![vec![Value::Int(2), v, Value::Null]];
        for v in [
            Value::Decimal("secret".into()),
            Value::Decimal("99999.9".into()),
        ] {
            s.upsert("pay", vec![good.clone()]).unwrap();
            let e = s.upsert("pay", bad(v)).unwrap_err().0;
            assert!(
                e.contains("table `pay`") && !e.contains("secret") && !e.contains("9999"),
                "{e}"
            );
            assert!(s.commit("job", "s").unwrap_err().0.contains("abort"));
            s.abort();
        }
        let json = vec![Value::Int(2), Value::Null, Value::Json("{secret".into())];
        s.upsert("pay", vec![json]).unwrap();
        let e = s.commit("job", "s").unwrap_err().0;
        assert!(e.contains("table `pay`") && !e.contains("secret"), "{e}");
        s.abort();
        assert_eq!(s.state("job").unwrap(), None);
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
        s.delete("users", keys(&[1])).unwrap(); // merges inside the window
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
        assert!(s.reset("job").unwrap_err().0.contains("commit or abort"));
        s.commit("job", "s3").unwrap();
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
        let e = s.prepare(&[t.clone()]).unwrap_err().0;
        assert!(
            e.contains("table `users` column `name`") && e.contains("VARCHAR"),
            "{e}"
        );
        assert!(e.contains("drop the table"), "{e}");
        (t.columns[1].ty, t.columns[1].nullable) = (ColumnType::Text, false);
        t.primary_key.push("name".into());
        let e = s.prepare(&[t]).unwrap_err().0;
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
                .0
                .contains("no primary key")
        );
        s.abort();
        s.upsert("log", vec![vec![Value::Null]]).unwrap();
        s.commit("job", "s1").unwrap();
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM log"), ["3"]);
    }

    #[test]
    fn reopening_sees_only_committed_rows_and_state() {
        let (dir, mut s) = sink();
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
            .0;
        assert!(
            e.contains("no/dest.duckdb") && e.contains("directory exists"),
            "{e}"
        );
    }
}
