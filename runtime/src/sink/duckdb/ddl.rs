//! Bringing the destination's tables in line with the declared ones: what
//! the catalog holds, the DDL that closes the gap (or why it cannot), and
//! the staging table and statements of each prepared table.

use super::DuckDbSink;
use super::context::Context;
use super::sql::{self, DELETED, Folds, SYNCED_AT};
use super::table::{Gathered, Table};
use crate::schema::{ColumnType, TableSchema};
use crate::sink::{SinkError, SinkErrorKind, SinkResult};

/// Maps a catalog row.
type RowFn<T> = fn(&duckdb::Row<'_>) -> duckdb::Result<T>;

/// A column of a table in the destination, as the catalog describes it.
struct Existing {
    name: String,
    /// DuckDB's name of its type (`BIGINT`, `DECIMAL(12,2)`).
    ty: String,
    nullable: bool,
}

impl DuckDbSink {
    /// Rows of a catalog query about `table` (see [`sql::catalog`]).
    fn catalog<T>(&self, table: &str, query: &str, f: RowFn<T>) -> SinkResult<Vec<T>> {
        let sql = sql::catalog(query);
        let mut stmt = self.conn.prepare(&sql).ctx(table, "reading the catalog")?;
        let rows = stmt
            .query_map([table], f)
            .ctx(table, "reading the catalog")?;
        rows.collect::<duckdb::Result<_>>()
            .ctx(table, "reading the catalog")
    }

    /// The DDL that brings the target table in line with `schema`, or why it cannot.
    fn plan_table(&self, schema: &TableSchema) -> SinkResult<Vec<String>> {
        let name = &schema.name;
        let existing: Vec<Existing> = self.catalog(name, sql::CATALOG_COLUMNS, |r| {
            Ok(Existing {
                name: r.get(0)?,
                ty: r.get(1)?,
                nullable: r.get(2)?,
            })
        })?;
        if existing.is_empty() {
            return Ok(vec![sql::create_table(schema)]);
        }
        let fix = "airlock does not convert existing data: drop the table in the destination \
                   (or use a new destination file) and run a full sync";
        let conflict =
            |message: String| SinkError::new(SinkErrorKind::SchemaConflict, message).in_table(name);
        let key: Vec<String> = self.catalog(name, sql::CATALOG_KEY, |r| r.get(0))?;
        if key.join("\0").to_lowercase() != schema.primary_key.join("\0").to_lowercase() {
            return Err(conflict(format!(
                "table `{name}`: the destination's primary key is ({}) but the connector declares ({}); {fix}",
                key.join(", "),
                schema.primary_key.join(", ")
            )));
        }
        let mut ddl = Vec::new();
        for c in &schema.columns {
            let want = sql::sql_type(c.ty);
            match existing
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(&c.name))
            {
                None => ddl.push(sql::add_column(name, c)),
                Some(e) if e.ty != want => {
                    return Err(conflict(format!(
                        "table `{name}` column `{}`: the destination column is {} but the connector declares {}; {fix}",
                        c.name, e.ty, c.ty
                    )));
                }
                Some(e) if !e.nullable && c.nullable => ddl.push(sql::drop_not_null(name, &c.name)),
                Some(_) => {}
            }
        }
        // A column the connector no longer declares gets NULLs from now on.
        for e in &existing {
            let declared = schema
                .columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&e.name));
            if !declared && !e.nullable && !e.name.starts_with("_airlock") && !key.contains(&e.name)
            {
                ddl.push(sql::drop_not_null(name, &e.name));
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
        let name = &schema.name;
        let mut columns = self.catalog(name, sql::CATALOG_POSITIONS, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
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
        let max: Option<i64> = (self.conn)
            .query_row(&sql::max_key(name, &key.name), [], |r| r.get(0))
            .ctx(name, "reading the largest key")?;
        Ok(match max {
            None => Some(i64::MIN),
            Some(m) => m.checked_add(1),
        })
    }

    /// Creates or alters the target table of `schema`, and sets up its
    /// staging table and statements.
    pub(super) fn prepare_table(&mut self, schema: &TableSchema) -> SinkResult<()> {
        let name = &schema.name;
        schema.validate()?;
        for ddl in self.plan_table(schema)? {
            self.conn
                .execute_batch(&ddl)
                .ctx(name, "creating or altering the table")?;
        }
        // Fresh names per prepare: a re-prepared table may have different columns.
        self.next_stage += 1;
        let stage = format!("_airlock_stage_{}", self.next_stage);
        self.conn
            .execute_batch(&sql::create_stage(schema, &stage))
            .ctx(name, "creating the staging table")?;
        let folds = Folds::new(schema, &sql::stage_ref(&stage));
        let keys_below = self.keys_below(schema)?;
        let key = schema.key_indices();
        let past_mark_sql = match (keys_below, &key[..]) {
            (Some(_), &[k]) => Some(sql::delete_past_mark(name, &schema.columns[k].name)),
            _ => None,
        };
        let t = Table {
            name: name.clone(),
            stage,
            types: schema.columns.iter().map(|c| c.ty).collect(),
            key,
            pending: Vec::new(),
            deletes_pending: false,
            keys_below,
            direct: Gathered::default(),
            mark: None,
            past_mark_sql,
            folds,
        };
        self.tables.insert(name.clone(), t);
        Ok(())
    }
}
