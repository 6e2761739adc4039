//! The direct road: new-key rows of a full sync in key order, gathered into
//! chunks and appended straight to the target in the open transaction, as
//! Arrow columns where every value allows it.

use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, TimestampMicrosecondArray};
use duckdb::{Connection, appender_params_from_iter};

use super::arrow::{self, Cells};
use super::cell::{Cell, FALSE, now};
use super::context::Context;
use super::table::{Gathered, Table, lookup};
use super::{DIRECT_BYTES, DIRECT_CHUNK, DuckDbSink};
use crate::columns::{ColumnBatch, ColumnData};
use crate::schema::{Row, Value};
use crate::sink::{SinkError, SinkErrorKind, SinkResult};

#[cfg(doc)]
use crate::schema::rows_bytes;

impl DuckDbSink {
    /// Gathers `n` new-key rows (`bytes` as [`rows_bytes`] counts them) for
    /// `table` with `add`, raising its bound to `below`, and appends what is
    /// gathered once it makes a chunk.
    pub(super) fn gather(
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
    pub(super) fn append_gathered(&mut self, table: &str) -> SinkResult<()> {
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
    pub(super) fn append_all_gathered(&mut self) -> SinkResult<()> {
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
}

/// Appends a table's gathered new-key rows to the target, inside the caller's
/// transaction (see [`Table::direct`]).
pub(super) fn append_direct(conn: &Connection, t: &mut Table, at: i64) -> SinkResult<()> {
    if t.direct.is_empty() {
        return Ok(());
    }
    let mut app = conn.appender(&t.name).ctx(&t.name, "appending rows")?;
    let with_ours = |mut cols: Vec<ArrayRef>, n: usize| {
        cols.push(Arc::new(TimestampMicrosecondArray::from_value(at, n)));
        cols.push(arrow::flags((0..n).map(|_| Some(false))));
        arrow::batch(cols)
    };
    let rows = &t.direct.rows;
    let cells: Vec<Cells> = rows.iter().map(Cells::Full).collect();
    if let Some(cols) = (!rows.is_empty())
        .then(|| arrow::columns(&t.types, &t.key, &cells))
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
        let cols = arrow::concat(std::mem::take(&mut t.direct.batches)).map_err(|e| {
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
pub(super) fn new_keys(t: &Table, rows: &[Row]) -> Option<i64> {
    let [k] = t.key[..] else { return None };
    let keys = rows.iter().map(|row| match row[k] {
        Value::Int(key) => Some(key),
        _ => None,
    });
    ascending_from(t.keys_below?, keys)
}

/// [`new_keys`] for a column batch.
pub(super) fn new_column_keys(t: &Table, batch: &ColumnBatch) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_as_new_only_while_they_ascend_from_the_bound() {
        let keys = |k: &[i64]| k.iter().map(|&k| Some(k)).collect::<Vec<_>>().into_iter();
        assert_eq!(ascending_from(5, keys(&[5, 6, 9])), Some(10));
        assert_eq!(ascending_from(5, keys(&[])), Some(5));
        assert_eq!(ascending_from(5, keys(&[4])), None, "below the bound");
        assert_eq!(ascending_from(5, keys(&[7, 7])), None, "a key twice");
        assert_eq!(ascending_from(5, keys(&[8, 6])), None, "not ascending");
        assert_eq!(ascending_from(0, [Some(1), None].into_iter()), None);
        assert_eq!(
            ascending_from(0, keys(&[i64::MAX])),
            None,
            "no bound after it"
        );
    }
}
