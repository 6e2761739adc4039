//! What the destination keeps per prepared table: its pending operations, the
//! rows gathered for a direct append, the bounds that make direct appends
//! safe, and its statements.

use std::collections::HashMap;

use duckdb::arrow::array::ArrayRef;

use super::sql::Folds;
use crate::schema::{ColumnType, Row};
use crate::sink::{SinkError, SinkErrorKind, SinkResult};

/// A prepared table: its pending operations, staging table and statements.
pub(super) struct Table {
    pub name: String,
    /// The staging table's name (in the TEMP catalog).
    pub stage: String,
    /// The declared column types, in order.
    pub types: Vec<ColumnType>,
    pub key: Vec<usize>,
    /// Operations since the last flush, in arrival order.
    pub pending: Vec<Pending>,
    pub deletes_pending: bool,
    /// Set when the target's columns are exactly the declared ones (none JSON,
    /// which needs the validating cast) plus airlock's two, and the key is one
    /// integer column: every row in the target has a key below this. A batch
    /// of new rows whose keys are all at or above it cannot collide with a
    /// stored row, so it is appended straight to the target, skipping the
    /// staging table and `INSERT OR REPLACE` (a full sync in key order).
    /// Only ever raised, so a rolled-back append leaves it safely high.
    pub keys_below: Option<i64>,
    /// New-key rows in ascending key order, gathered for a direct append
    /// (fewer than [`DIRECT_CHUNK`](super::DIRECT_CHUNK); non-empty only while `pending` is empty).
    pub direct: Gathered,
    /// `keys_below` when the held checkpoint was folded: the rows after it
    /// have keys at or above it.
    pub mark: Option<i64>,
    /// Deletes the rows at or above a key (`mark`), for a single integer key.
    pub past_mark_sql: Option<String>,
    /// Folds the staging table into the target.
    pub folds: Folds,
}

/// One pending operation of a table, in the order the connector sent it.
pub(super) enum Pending {
    /// An upserted row: every column.
    Upsert(Row),
    /// A deleted row: its key columns only, in key order.
    Delete(Row),
}

impl Table {
    /// Drops every operation and gathered row not yet in the transaction.
    pub fn clear_pending(&mut self) {
        self.pending.clear();
        self.deletes_pending = false;
        self.direct.clear();
    }

    /// Whether the table holds nothing the transaction does not have yet.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.direct.is_empty()
    }
}

/// New-key rows gathered for a direct append: rows as they came, and column
/// batches already turned into Arrow. Their keys never collide, so the two
/// may be appended in either order.
#[derive(Default)]
pub(super) struct Gathered {
    pub rows: Vec<Row>,
    /// The declared columns only; airlock's two are added when appending.
    pub batches: Vec<Vec<ArrayRef>>,
    /// Rows in `rows` and `batches` together.
    pub len: usize,
    /// Their size as [`rows_bytes`](crate::schema::rows_bytes) counts it.
    pub bytes: u64,
}

impl Gathered {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.batches.is_empty()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.batches.clear();
        (self.len, self.bytes) = (0, 0);
    }
}

/// The prepared table `name`, or an error saying it was not prepared.
pub(super) fn lookup<'a>(
    tables: &'a mut HashMap<String, Table>,
    name: &str,
) -> SinkResult<&'a mut Table> {
    tables.get_mut(name).ok_or_else(|| {
        SinkError::new(
            SinkErrorKind::Refused,
            format!("table `{name}` was not prepared; declare it in the connector's schema"),
        )
        .in_table(name)
    })
}
