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
use super::table::{Pending, Table};
use crate::schema::{Row, Value};
use crate::sink::SinkResult;

#[cfg(doc)]
use super::sql::IS_DELETE;

/// What a staged row's operation column ([`IS_DELETE`]) says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    /// `false`: the row is upserted live.
    Live,
    /// `true`: a delete in arrival order (its key only), or in a resolved
    /// batch an upsert that a later delete of its key marks deleted.
    Deleted,
    /// `NULL`, in a resolved batch only: a key deleted without an upsert in
    /// the batch (its key only).
    KeyDeleted,
}

impl Flag {
    fn value(self) -> Option<bool> {
        match self {
            Flag::Live => Some(false),
            Flag::Deleted => Some(true),
            Flag::KeyDeleted => None,
        }
    }

    fn cell(self) -> &'static Value {
        match self {
            Flag::Live => &FALSE,
            Flag::Deleted => &TRUE,
            Flag::KeyDeleted => &NULL,
        }
    }
}

/// One row for the staging table: its cells and its operation.
struct Staged<'a> {
    cells: Cells<'a>,
    flag: Flag,
}

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
        let staged: Vec<Staged> = match &resolved {
            Some(Resolved { ops, .. }) => ops.iter().map(|op| op.staged(&t.pending)).collect(),
            None => (t.pending.iter())
                .map(|op| match op {
                    Pending::Upsert(row) => Staged {
                        cells: Cells::Full(row),
                        flag: Flag::Live,
                    },
                    Pending::Delete(key) => Staged {
                        cells: Cells::Key(key),
                        flag: Flag::Deleted,
                    },
                })
                .collect(),
        };
        let cells: Vec<Cells> = staged.iter().map(|s| s.cells).collect();
        if let Some(mut cols) = arrow::columns(&t.types, &t.key, &cells) {
            cols.push(arrow::flags(staged.iter().map(|s| s.flag.value())));
            (app.append_record_batch(arrow::batch(cols))).data_ctx(&t.name, "staging rows")?;
        } else {
            let (width, key) = (t.types.len(), &t.key[..]);
            for s in &staged {
                let flag = s.flag.cell();
                let appended = match s.cells {
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
    if let Some(Resolved { ops, .. }) = &resolved {
        conn.execute(&folds.unique, [Cell(&at_value)])
            .data_ctx(&t.name, "merging rows")?;
        if ops
            .iter()
            .any(|op| matches!(op, Resolution::Deleted { .. }))
        {
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
    /// One per key, in the arrival order of the operation staged for it.
    ops: Vec<Resolution>,
    /// The largest key of the batch.
    max: i64,
}

/// What is left of one key's operations in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// The key's last upsert, pending operation `at`, marked deleted if a
    /// delete of the key came after it.
    Upserted { at: usize, then_deleted: bool },
    /// The key was deleted, last by pending operation `at`, with no upsert
    /// in the batch.
    Deleted { at: usize },
}

impl Resolution {
    /// The pending operation staged for the key.
    fn at(self) -> usize {
        match self {
            Resolution::Upserted { at, .. } | Resolution::Deleted { at } => at,
        }
    }

    /// The staged row: the upsert's cells with its flag, or the deleted key.
    fn staged(self, pending: &[Pending]) -> Staged<'_> {
        let row = match &pending[self.at()] {
            Pending::Upsert(row) | Pending::Delete(row) => row,
        };
        match self {
            Resolution::Upserted { then_deleted, .. } => Staged {
                cells: Cells::Full(row),
                flag: if then_deleted {
                    Flag::Deleted
                } else {
                    Flag::Live
                },
            },
            Resolution::Deleted { .. } => Staged {
                cells: Cells::Key(row),
                flag: Flag::KeyDeleted,
            },
        }
    }
}

/// A key's operations so far while resolving a batch.
struct Last {
    /// Its last upsert.
    upsert: Option<usize>,
    /// Its last delete (its first operation until a delete comes).
    delete: usize,
    /// Whether its last operation is a delete.
    deleted: bool,
}

/// For a table keyed by one integer column: the pending operations resolved to
/// one per key, last operation wins. `None` for other keys.
fn resolve_int_keys(t: &Table) -> Option<Resolved> {
    let [k] = t.key[..] else { return None };
    let mut max = i64::MIN;
    let mut last: HashMap<i64, Last> = HashMap::with_capacity(t.pending.len());
    for (i, op) in t.pending.iter().enumerate() {
        // Upserts carry every column, deletes only the key.
        let (row, at) = match op {
            Pending::Upsert(row) => (row, k),
            Pending::Delete(key) => (key, 0),
        };
        let Value::Int(key) = row[at] else {
            return None;
        };
        max = max.max(key);
        let e = last.entry(key).or_insert(Last {
            upsert: None,
            delete: i,
            deleted: false,
        });
        match op {
            Pending::Upsert(_) => (e.upsert, e.deleted) = (Some(i), false),
            Pending::Delete(_) => (e.delete, e.deleted) = (i, true),
        }
    }
    let mut ops: Vec<Resolution> = last
        .into_values()
        .map(|l| match l.upsert {
            Some(at) => Resolution::Upserted {
                at,
                then_deleted: l.deleted,
            },
            None => Resolution::Deleted { at: l.delete },
        })
        .collect();
    ops.sort_unstable_by_key(|op| op.at());
    Some(Resolved { ops, max })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnType;
    use crate::sink::duckdb::sql::Folds;
    use crate::sink::duckdb::table::Gathered;

    fn table(pending: Vec<Pending>) -> Table {
        Table {
            name: "t".into(),
            stage: "s".into(),
            types: vec![ColumnType::Text, ColumnType::Int],
            key: vec![1],
            pending,
            deletes_pending: true,
            keys_below: None,
            direct: Gathered::default(),
            mark: None,
            past_mark_sql: None,
            folds: Folds {
                upsert: String::new(),
                unique: String::new(),
                resolved_delete: String::new(),
                merge: String::new(),
                delete: String::new(),
                clear: String::new(),
            },
        }
    }

    fn up(key: i64) -> Pending {
        Pending::Upsert(vec![Value::Text(format!("v{key}")), Value::Int(key)])
    }

    fn del(key: i64) -> Pending {
        Pending::Delete(vec![Value::Int(key)])
    }

    #[test]
    fn the_last_operation_of_each_key_wins_in_arrival_order() {
        // 1: upserted twice; 2: upserted, deleted; 3: only deleted; 4: deleted, upserted.
        let t = table(vec![up(1), up(2), del(3), up(1), del(2), del(4), up(4)]);
        let r = resolve_int_keys(&t).unwrap();
        assert_eq!(r.max, 4);
        assert_eq!(
            r.ops,
            [
                Resolution::Upserted {
                    at: 1,
                    then_deleted: true
                },
                Resolution::Deleted { at: 2 },
                Resolution::Upserted {
                    at: 3,
                    then_deleted: false
                },
                Resolution::Upserted {
                    at: 6,
                    then_deleted: false
                },
            ]
        );
        let flags: Vec<Flag> = r.ops.iter().map(|op| op.staged(&t.pending).flag).collect();
        assert_eq!(
            flags,
            [Flag::Deleted, Flag::KeyDeleted, Flag::Live, Flag::Live]
        );
        assert_eq!(Flag::KeyDeleted.value(), None);
    }

    #[test]
    fn other_keys_are_not_resolved_on_the_host() {
        let mut t = table(vec![up(1)]);
        t.key = vec![0];
        assert!(resolve_int_keys(&t).is_none(), "a text key");
        let key = vec![Value::Int(7)];
        let widened: Vec<&Value> = key_cells(3, &[1], &key, &TRUE).collect();
        assert_eq!(
            widened,
            [
                &Value::Null,
                &Value::Int(7),
                &Value::Null,
                &Value::Boolean(true)
            ]
        );
    }
}
