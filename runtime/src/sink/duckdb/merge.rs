//! The staged road: a table's pending operations appended to its staging
//! table, each with its operation, then folded into the target by a few
//! set-based statements that honour arrival order (the last operation on a
//! key wins). For a single integer key the host resolves the batch to one
//! operation per key first, so the database skips sorting by key.

use std::collections::HashMap;

use duckdb::{Connection, appender_params_from_iter};

use super::arrow::{self, Cells};
use super::cell::{Cell, FALSE, NULL, TRUE};
use super::context::Context;
use super::table::Table;
use crate::schema::{Row, Value};
use crate::sink::SinkResult;

/// Appends a table's pending operations to its staging table, then folds them
/// into the target. Runs inside the caller's transaction.
pub(super) fn merge(conn: &Connection, t: &mut Table, at: i64) -> SinkResult<()> {
    if t.pending.is_empty() {
        return Ok(());
    }
    let at_value = Value::Timestamp(at);
    let resolved = resolve_int_keys(t);
    {
        let mut app = conn
            .appender_to_catalog_and_db(&t.stage, "temp", "main")
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
        if let Some(mut cols) = arrow::columns(&t.types, &t.key, &cells) {
            cols.push(arrow::flags(staged.iter().map(|s| s.1)));
            (app.append_record_batch(arrow::batch(cols))).data_ctx(&t.name, "staging rows")?;
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
    let folds = &t.folds;
    if let Some(Resolved { rows, .. }) = &resolved {
        conn.execute(&folds.unique, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
        if rows.iter().any(|(_, d)| d.is_none()) {
            conn.execute(&folds.resolved_delete, [Cell(&at_value)])
                .data_ctx(&t.name, "deleting rows")?;
        }
    } else if t.deletes_pending {
        conn.execute(&folds.merge, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
        conn.execute(&folds.delete, [Cell(&at_value)])
            .data_ctx(&t.name, "deleting rows")?;
    } else {
        conn.execute(&folds.upsert, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
    }
    conn.execute_batch(&folds.clear)
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
