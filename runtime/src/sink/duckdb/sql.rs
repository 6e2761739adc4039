//! The text of every statement the DuckDB destination runs, as pure functions
//! of the declared schema: testable without a database, and in one place to
//! read when a statement's shape matters.

use crate::schema::{Column, ColumnType, TableSchema};

/// When the row was last written.
pub(super) const SYNCED_AT: &str = "_airlock_synced_at";
/// Deletes are soft: the row stays, marked.
pub(super) const DELETED: &str = "_airlock_deleted";
/// Staging column: true for a delete (key columns set, the rest NULL).
pub(super) const IS_DELETE: &str = "_airlock_is_delete";

/// Creates airlock's own table of committed states, one row per job.
pub(super) const CREATE_STATE: &str = "CREATE TABLE IF NOT EXISTS _airlock_state (job VARCHAR PRIMARY KEY, \
     state VARCHAR NOT NULL, checkpoints BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL)";
/// DuckDB folds its WAL into the file (compressing every column of each
/// touched row group anew) once the WAL passes this size. At the 16 MB
/// default a sync rewrites its open row group many times over; a larger WAL
/// costs only disk and replay time after a crash.
pub(super) const WAL_THRESHOLD: &str = "SET checkpoint_threshold = '256MB'";
/// The committed state of a job (`?`: the job).
pub(super) const SELECT_STATE: &str = "SELECT state FROM _airlock_state WHERE job = ?";
/// Saves a job's state, adding the checkpoints it stands for to its count
/// (`?`: job, state, job, count, time).
pub(super) const SAVE_STATE: &str = "INSERT OR REPLACE INTO _airlock_state \
     SELECT ?, ?, coalesce((SELECT checkpoints FROM _airlock_state WHERE job = ?), 0) + ?, \
     CAST(? AS TIMESTAMP)";
/// Forgets a job's state (`?`: the job).
pub(super) const DELETE_STATE: &str = "DELETE FROM _airlock_state WHERE job = ?";

/// Catalog query: a table's columns, their types and nullability.
pub(super) const CATALOG_COLUMNS: &str =
    "SELECT column_name, data_type, is_nullable FROM duckdb_columns()";
/// Catalog query: a table's primary-key columns.
pub(super) const CATALOG_KEY: &str = "SELECT unnest(constraint_column_names) \
     FROM (FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY')";
/// Catalog query: a table's columns by position.
pub(super) const CATALOG_POSITIONS: &str = "SELECT column_index, column_name FROM duckdb_columns()";

/// `query` (one of the `CATALOG_*`) restricted to the table named by its one
/// parameter (DuckDB folds identifier case).
pub(super) fn catalog(query: &str) -> String {
    format!(
        "{query} WHERE database_name = current_database() AND schema_name = 'main' \
         AND lower(table_name) = lower(?)"
    )
}

/// `ident` as a quoted SQL identifier.
pub(super) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The DuckDB type of a column of `ty`.
pub(super) fn sql_type(ty: ColumnType) -> String {
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

/// The type of a column of `ty` in a staging table.
fn stage_type(ty: ColumnType) -> String {
    // The appender stores text into a JSON column unchecked; VARCHAR plus a cast
    // at merge time makes DuckDB validate every document.
    if ty == ColumnType::Json {
        "VARCHAR".into()
    } else {
        sql_type(ty)
    }
}

/// `items` mapped and joined with commas.
pub(super) fn list<T>(items: impl IntoIterator<Item = T>, f: impl FnMut(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(", ")
}

/// Creates the target table of `schema`: its columns, airlock's two, its key.
pub(super) fn create_table(schema: &TableSchema) -> String {
    let target = quote(&schema.name);
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
    format!(
        "CREATE TABLE {target} ({cols}, {SYNCED_AT} TIMESTAMP NOT NULL, \
         {DELETED} BOOLEAN NOT NULL DEFAULT false{key})"
    )
}

/// Adds column `c` to `table`.
pub(super) fn add_column(table: &str, c: &Column) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        quote(table),
        quote(&c.name),
        sql_type(c.ty)
    )
}

/// Lets `column` of `table` hold NULLs.
pub(super) fn drop_not_null(table: &str, column: &str) -> String {
    format!(
        "ALTER TABLE {} ALTER {} DROP NOT NULL",
        quote(table),
        quote(column)
    )
}

/// The largest value of `table`'s `key` column.
pub(super) fn max_key(table: &str, key: &str) -> String {
    format!("SELECT max({}) FROM {}", quote(key), quote(table))
}

/// Creates (or replaces) the TEMP staging table `stage` for `schema`: its
/// columns (JSON as VARCHAR) and the operation flag.
pub(super) fn create_stage(schema: &TableSchema, stage: &str) -> String {
    let defs = list(&schema.columns, |c| {
        format!("{} {}", quote(&c.name), stage_type(c.ty))
    });
    format!("CREATE OR REPLACE TEMP TABLE {stage} ({defs}, {IS_DELETE} BOOLEAN)")
}

/// The staging table `stage` as the folding statements name it.
pub(super) fn stage_ref(stage: &str) -> String {
    format!("temp.main.{stage}")
}

/// Marks every live row of `table` deleted (`?`: the time).
pub(super) fn truncate(table: &str) -> String {
    format!(
        "UPDATE {} SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) WHERE NOT {DELETED}",
        quote(table)
    )
}

/// Deletes the rows of `table` whose `key` is at or above `?` (rows appended
/// after a folded checkpoint).
pub(super) fn delete_past_mark(table: &str, key: &str) -> String {
    format!("DELETE FROM {} WHERE {} >= ?", quote(table), quote(key))
}

/// The statements that fold a table's staging table into its target. Each
/// takes one parameter, the time the rows were written.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Folds {
    /// Folds staged upserts into the target (used when no delete is pending).
    pub upsert: String,
    /// Same without the last-write-wins pass, for batches resolved on the host
    /// to one row per key; `IS_DELETE` carries the row's deleted flag, and a
    /// NULL marks a key deleted without an upsert in the batch.
    pub unique: String,
    /// Marks deleted the target rows of the NULL-flagged keys of a resolved batch.
    pub resolved_delete: String,
    /// Folds staged upserts and deletes: the last upsert of each key, marked
    /// deleted when the key's last operation was a delete (empty without a key).
    pub merge: String,
    /// Marks deleted the target rows whose last operation was a delete (empty
    /// without a key).
    pub delete: String,
    /// Empties the staging table (no parameter).
    pub clear: String,
}

impl Folds {
    /// The statements folding staging table `stage` (as [`stage_ref`] names
    /// it) into the target of `schema`.
    pub(super) fn new(schema: &TableSchema, stage: &str) -> Folds {
        let target = quote(&schema.name);
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
        let on = |a: &str, b: &str| {
            key.iter()
                .map(|c| format!("{a}.{q} = {b}.{q}", q = quote(&c.name)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let insert = format!(
            "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), s.{IS_DELETE} FROM {stage} s \
             WHERE s.{IS_DELETE} IS NOT NULL",
            values("s")
        );
        let resolved_delete = format!(
            "UPDATE {target} t SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) FROM {stage} d \
             WHERE d.{IS_DELETE} IS NULL AND {} AND NOT t.{DELETED}",
            on("t", "d")
        );
        let clear = format!("DELETE FROM {stage}");
        if key.is_empty() {
            let upsert = format!(
                "INSERT {into} SELECT {}, CAST(? AS TIMESTAMP), false FROM {stage} s",
                values("s")
            );
            return Folds {
                unique: upsert.clone(),
                upsert,
                resolved_delete,
                merge: String::new(),
                delete: String::new(),
                clear,
            };
        }
        // rowid follows append order, which is arrival order: the last one wins.
        let by = list(&key, |c| quote(&c.name));
        let last = format!("QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY rowid DESC) = 1");
        Folds {
            upsert: format!(
                "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), false FROM {stage} s {last}",
                values("s")
            ),
            unique: insert,
            resolved_delete,
            merge: format!(
                "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), l.{IS_DELETE} \
                 FROM (SELECT * FROM {stage} WHERE NOT {IS_DELETE} {last}) u \
                 JOIN (SELECT {by}, {IS_DELETE} FROM {stage} {last}) l ON {}",
                values("u"),
                on("u", "l")
            ),
            delete: format!(
                "UPDATE {target} t SET {DELETED} = true, {SYNCED_AT} = CAST(? AS TIMESTAMP) \
                 FROM (SELECT {by}, {IS_DELETE} FROM {stage} {last}) d \
                 WHERE d.{IS_DELETE} AND {} AND NOT t.{DELETED}",
                on("t", "d")
            ),
            clear,
        }
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

    fn orders() -> TableSchema {
        TableSchema {
            name: "Orders".into(),
            columns: vec![
                col("id", ColumnType::Int, false),
                col("note \"x\"", ColumnType::Text, true),
                col("doc", ColumnType::Json, true),
                col(
                    "amount",
                    ColumnType::Decimal {
                        precision: 12,
                        scale: 2,
                    },
                    false,
                ),
            ],
            primary_key: vec!["id".into()],
        }
    }

    #[test]
    fn identifiers_are_quoted_and_types_named() {
        assert_eq!(quote("a \"b\""), "\"a \"\"b\"\"\"");
        let decimal = ColumnType::Decimal {
            precision: 38,
            scale: 10,
        };
        assert_eq!(sql_type(decimal), "DECIMAL(38,10)");
        assert_eq!(sql_type(ColumnType::Json), "JSON");
        assert_eq!(stage_type(ColumnType::Json), "VARCHAR");
        assert_eq!(stage_type(ColumnType::Bytes), "BLOB");
    }

    #[test]
    fn tables_are_created_with_airlocks_columns_and_the_key() {
        assert_eq!(
            create_table(&orders()),
            "CREATE TABLE \"Orders\" (\"id\" BIGINT NOT NULL, \"note \"\"x\"\"\" VARCHAR, \
             \"doc\" JSON, \"amount\" DECIMAL(12,2) NOT NULL, _airlock_synced_at TIMESTAMP NOT NULL, \
             _airlock_deleted BOOLEAN NOT NULL DEFAULT false, PRIMARY KEY (\"id\"))"
        );
        let mut log = orders();
        log.primary_key.clear();
        assert!(create_table(&log).ends_with("DEFAULT false)"));
        assert_eq!(
            create_stage(&orders(), "_airlock_stage_3"),
            "CREATE OR REPLACE TEMP TABLE _airlock_stage_3 (\"id\" BIGINT, \"note \"\"x\"\"\" VARCHAR, \
             \"doc\" VARCHAR, \"amount\" DECIMAL(12,2), _airlock_is_delete BOOLEAN)"
        );
    }

    #[test]
    fn alterations_name_table_and_column() {
        let email = col("Email", ColumnType::Text, true);
        assert_eq!(
            add_column("users", &email),
            "ALTER TABLE \"users\" ADD COLUMN \"Email\" VARCHAR"
        );
        assert_eq!(
            drop_not_null("users", "name"),
            "ALTER TABLE \"users\" ALTER \"name\" DROP NOT NULL"
        );
        assert_eq!(max_key("users", "id"), "SELECT max(\"id\") FROM \"users\"");
        assert_eq!(
            delete_past_mark("users", "id"),
            "DELETE FROM \"users\" WHERE \"id\" >= ?"
        );
        assert_eq!(
            truncate("users"),
            "UPDATE \"users\" SET _airlock_deleted = true, _airlock_synced_at = CAST(? AS TIMESTAMP) \
             WHERE NOT _airlock_deleted"
        );
        assert!(catalog(CATALOG_KEY).ends_with("AND lower(table_name) = lower(?)"));
    }

    #[test]
    fn folds_keep_the_last_operation_per_key_and_validate_json() {
        let f = Folds::new(&orders(), "temp.main.s");
        let cols = "\"id\", \"note \"\"x\"\"\", \"doc\", \"amount\"";
        let into = format!("INTO \"Orders\" ({cols}, _airlock_synced_at, _airlock_deleted)");
        let values = |a: &str| {
            format!("{a}.\"id\", {a}.\"note \"\"x\"\"\", CAST({a}.\"doc\" AS JSON), {a}.\"amount\"")
        };
        let last = "QUALIFY row_number() OVER (PARTITION BY \"id\" ORDER BY rowid DESC) = 1";
        assert_eq!(
            f.upsert,
            format!(
                "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), false FROM temp.main.s s {last}",
                values("s")
            )
        );
        assert_eq!(
            f.unique,
            format!(
                "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), s._airlock_is_delete \
                 FROM temp.main.s s WHERE s._airlock_is_delete IS NOT NULL",
                values("s")
            )
        );
        assert_eq!(
            f.merge,
            format!(
                "INSERT OR REPLACE {into} SELECT {}, CAST(? AS TIMESTAMP), l._airlock_is_delete \
                 FROM (SELECT * FROM temp.main.s WHERE NOT _airlock_is_delete {last}) u \
                 JOIN (SELECT \"id\", _airlock_is_delete FROM temp.main.s {last}) l ON u.\"id\" = l.\"id\"",
                values("u")
            )
        );
        assert_eq!(
            f.delete,
            format!(
                "UPDATE \"Orders\" t SET _airlock_deleted = true, _airlock_synced_at = CAST(? AS TIMESTAMP) \
                 FROM (SELECT \"id\", _airlock_is_delete FROM temp.main.s {last}) d \
                 WHERE d._airlock_is_delete AND t.\"id\" = d.\"id\" AND NOT t._airlock_deleted"
            )
        );
        assert_eq!(
            f.resolved_delete,
            "UPDATE \"Orders\" t SET _airlock_deleted = true, _airlock_synced_at = CAST(? AS TIMESTAMP) \
             FROM temp.main.s d WHERE d._airlock_is_delete IS NULL AND t.\"id\" = d.\"id\" \
             AND NOT t._airlock_deleted"
        );
        assert_eq!(f.clear, "DELETE FROM temp.main.s");
    }

    #[test]
    fn an_append_only_table_inserts_everything_and_folds_no_deletes() {
        let mut log = orders();
        log.primary_key.clear();
        log.columns[0].nullable = true;
        let f = Folds::new(&log, "temp.main.s");
        assert!(
            f.upsert.starts_with("INSERT INTO \"Orders\""),
            "{}",
            f.upsert
        );
        assert!(
            f.upsert.ends_with("false FROM temp.main.s s"),
            "{}",
            f.upsert
        );
        assert_eq!(f.unique, f.upsert);
        assert_eq!((f.merge.as_str(), f.delete.as_str()), ("", ""));
    }
}
