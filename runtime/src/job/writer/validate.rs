//! Records checked against the tables the connector declared, on the
//! connector's side of the queue, so an error names the row and reaches the
//! call that sent it.

use std::collections::HashMap;

use super::WriteError;
use crate::columns::ColumnBatch;
use crate::schema::{Row, TableSchema};

/// The declared tables, by name.
pub(super) struct Tables(HashMap<String, TableSchema>);

impl Tables {
    pub(super) fn new(tables: Vec<TableSchema>) -> Tables {
        Tables(tables.into_iter().map(|t| (t.name.clone(), t)).collect())
    }

    /// The table called `table`, or an error listing the declared ones.
    pub(super) fn get(&self, table: &str) -> Result<&TableSchema, WriteError> {
        self.0.get(table).ok_or_else(|| {
            let mut known: Vec<String> = self.0.keys().cloned().collect();
            known.sort_unstable();
            WriteError::UnknownTable {
                table: table.to_owned(),
                known,
            }
        })
    }
}

/// Checks every row against `schema` (arity, types, nullability).
pub(super) fn rows(schema: &TableSchema, rows: &[Row]) -> Result<(), WriteError> {
    for (i, row) in rows.iter().enumerate() {
        schema.check_row(row, i)?;
    }
    Ok(())
}

/// Checks every key against `schema`'s primary key.
pub(super) fn keys(schema: &TableSchema, keys: &[Row]) -> Result<(), WriteError> {
    for (i, key) in keys.iter().enumerate() {
        schema.check_key(key, i)?;
    }
    Ok(())
}

/// Checks a column batch: well formed, and every cell as [`rows`] checks it.
pub(super) fn batch(schema: &TableSchema, batch: &ColumnBatch) -> Result<(), WriteError> {
    Ok(batch.check(schema)?)
}
