//! What tables there are, from `pg_catalog`: columns, types, primary keys,
//! and the destination name each table gets.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::error::PgError;
use crate::sql;
use crate::types::{self, Mapping};
use crate::wire::Session;

/// A source table as the catalog describes it.
#[derive(Clone, Debug)]
pub struct PgTable {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Whether the connector's user may `SELECT` from it.
    pub readable: bool,
    /// Its columns in `attnum` order.
    pub columns: Vec<PgColumn>,
    /// Indices into `columns` of the primary key, in key order; empty if none.
    pub primary_key: Vec<usize>,
}

impl PgTable {
    /// `schema.table`, how the config and the state name it.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// A column as the catalog describes it.
#[derive(Clone, Debug)]
pub struct PgColumn {
    /// Its name.
    pub name: String,
    /// `attnotnull`.
    pub not_null: bool,
    /// `format_type(atttypid, atttypmod)`, e.g. `numeric(12,2)`: for messages.
    pub type_name: String,
    /// `format_type(atttypid, NULL)`, e.g. `numeric`: for casting parameters.
    pub cast_type: String,
    /// What it becomes in the destination.
    pub mapping: Mapping,
}

/// Which tables to describe.
pub enum Selection<'a> {
    /// Every table (and partitioned table) of these schemas.
    Schemas(&'a [String]),
    /// Exactly these `(schema, table)`s, views and foreign tables included.
    Tables(&'a [(String, String)]),
}

const TABLES_IN_SCHEMAS: &str = "\
SELECT c.oid::text, n.nspname, c.relname, \
       has_table_privilege(c.oid, 'SELECT') \
FROM pg_catalog.pg_class c \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
  AND n.nspname = ANY($1::text[]) \
ORDER BY n.nspname, c.relname";

const NAMED_TABLES: &str = "\
SELECT c.oid::text, n.nspname, c.relname, \
       has_table_privilege(c.oid, 'SELECT') \
FROM unnest($1::text[], $2::text[]) AS w(nspname, relname) \
JOIN pg_catalog.pg_namespace n ON n.nspname = w.nspname \
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.relname \
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
ORDER BY n.nspname, c.relname";

/// Columns with their domain's base type (one level) for the type mapping.
/// (Results come in text format: booleans read `t`/`f`.)
const COLUMNS: &str = "\
SELECT a.attrelid::text, a.attname, a.attnotnull, bt.oid::text, \
       (CASE WHEN t.typbasetype <> 0 THEN t.typtypmod ELSE a.atttypmod END)::text, \
       bt.typtype = 'e', \
       format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL) \
FROM pg_catalog.pg_attribute a \
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
JOIN pg_catalog.pg_type bt ON bt.oid = COALESCE(NULLIF(t.typbasetype, 0), a.atttypid) \
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped \
ORDER BY a.attrelid, a.attnum";

const PRIMARY_KEYS: &str = "\
SELECT i.indrelid::text, a.attname \
FROM pg_catalog.pg_index i \
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
WHERE i.indisprimary AND i.indrelid = ANY($1::oid[]) \
ORDER BY i.indrelid, k.ord";

/// Describes the selected tables, in `(schema, name)` order.
pub fn tables<S: Read + Write>(
    session: &mut Session<S>,
    selection: &Selection<'_>,
) -> Result<Vec<PgTable>, PgError> {
    let rows = match selection {
        Selection::Schemas(schemas) => {
            let schemas = sql::text_array(schemas.iter().map(String::as_str));
            session.query(TABLES_IN_SCHEMAS, &[Some(&schemas)])?
        }
        Selection::Tables(names) => {
            let schemas = sql::text_array(names.iter().map(|(s, _)| s.as_str()));
            let tables = sql::text_array(names.iter().map(|(_, t)| t.as_str()));
            session.query(NAMED_TABLES, &[Some(&schemas), Some(&tables)])?
        }
    };
    let mut by_oid = BTreeMap::new();
    let mut order = Vec::new();
    for r in rows {
        let [oid, schema, name, readable] = fields(r)?;
        order.push(oid.clone());
        by_oid.insert(
            oid,
            PgTable {
                schema,
                name,
                readable: readable == "t",
                columns: Vec::new(),
                primary_key: Vec::new(),
            },
        );
    }
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let oids = format!("{{{}}}", order.join(","));
    for r in session.query(COLUMNS, &[Some(&oids)])? {
        let [
            rel,
            name,
            not_null,
            base,
            typmod,
            is_enum,
            type_name,
            cast_type,
        ] = fields(r)?;
        let Some(t) = by_oid.get_mut(&rel) else {
            continue;
        };
        let base: u32 = base.parse().map_err(|_| bad("type oid", &base))?;
        let typmod: i32 = typmod.parse().map_err(|_| bad("typmod", &typmod))?;
        t.columns.push(PgColumn {
            name,
            not_null: not_null == "t",
            type_name,
            cast_type,
            mapping: types::map_type(base, typmod, is_enum == "t"),
        });
    }
    for r in session.query(PRIMARY_KEYS, &[Some(&oids)])? {
        let [rel, column] = fields(r)?;
        if let Some(t) = by_oid.get_mut(&rel)
            && let Some(i) = t.column(&column)
        {
            t.primary_key.push(i);
        }
    }
    Ok(order.iter().filter_map(|oid| by_oid.remove(oid)).collect())
}

/// A catalog row's fields; every one of these queries returns no NULLs.
fn fields<const N: usize>(row: Vec<Option<String>>) -> Result<[String; N], PgError> {
    let got = row.len();
    let values: Option<Vec<String>> = row.into_iter().collect();
    values.and_then(|v| v.try_into().ok()).ok_or_else(|| {
        PgError::Protocol(format!(
            "a catalog row of {got} fields, some NULL; expected {N}"
        ))
    })
}

fn bad(what: &str, value: &str) -> PgError {
    PgError::Protocol(format!("the catalog returned {what} `{value}`"))
}

/// The destination table name: the bare table name for schema `public`,
/// `schema__table` otherwise (e.g. `sales.orders` → `sales__orders`).
pub fn destination_name(schema: &str, table: &str) -> String {
    if schema == "public" {
        table.to_owned()
    } else {
        format!("{schema}__{table}")
    }
}

/// The first two tables whose destination names collide, compared without
/// case as DuckDB compares identifiers (`public.a__b` and `a.b`, or `public.T`
/// and `public.t`).
pub fn name_collision(tables: &[(String, String)]) -> Option<(usize, usize)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (schema, table)) in tables.iter().enumerate() {
        let key = destination_name(schema, table).to_lowercase();
        if let Some(&j) = seen.get(&key) {
            return Some((j, i));
        }
        seen.insert(key, i);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_names() {
        assert_eq!(destination_name("public", "users"), "users");
        assert_eq!(destination_name("sales", "orders"), "sales__orders");
        assert_eq!(
            destination_name("Sales", "Order Lines"),
            "Sales__Order Lines"
        );
    }

    #[test]
    fn collisions_are_found_case_insensitively() {
        let t = |s: &str, n: &str| (s.to_owned(), n.to_owned());
        assert_eq!(name_collision(&[t("public", "a"), t("s", "a")]), None);
        assert_eq!(
            name_collision(&[t("a", "b"), t("public", "x"), t("public", "a__b")]),
            Some((0, 2))
        );
        assert_eq!(
            name_collision(&[t("public", "Users"), t("public", "users")]),
            Some((0, 1))
        );
    }

    #[test]
    fn catalog_rows_need_every_field() {
        let r: [String; 2] = fields(vec![Some("a".into()), Some("b".into())]).unwrap();
        assert_eq!(r, ["a".to_owned(), "b".to_owned()]);
        assert!(fields::<2>(vec![Some("a".into()), None]).is_err());
        assert!(fields::<3>(vec![Some("a".into())]).is_err());
    }
}
