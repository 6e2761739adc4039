//! Reading one table into the output: the resume position, the streamed
//! portal, the row conversion, and the checkpoints.

use std::ops::Range;

use airlock_sdk::{Cell, Error, Output, Result, Value};
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::DataRowBody;

use crate::error::{Context, PgError};
use crate::sql::{self, Col, Start};
use crate::types::{self, BadValue};
use crate::wire::{Fetched, Session};
use crate::{Config, InitialRead, Mode, Plan, Position, Source, State, TableState};

/// How a run reads an incremental table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Initial {
    /// By the cursor (or not incremental at all).
    No,
    /// Its first read, from the start, in key order: find the position the
    /// incremental reads will start from (see [`InitialRead`]).
    Fresh,
    /// Its first read, resumed after the last committed key; incremental
    /// reads start from this position once it completes.
    Resumed(Option<Position>),
}

/// Where to start reading `plan`'s table given its committed state: how
/// ([`Initial`]), from where, and the bind parameters of that start. A state
/// for another cursor column or key means the config or the table changed:
/// the table is read from the start.
pub(crate) fn resume(
    plan: &Plan,
    saved: Option<&TableState>,
) -> (Start, Vec<Option<String>>, Initial) {
    let cursor_column = match plan.mode {
        Mode::Incremental(i) => Some(plan.table.columns[i].name.as_str()),
        Mode::Full => None,
        Mode::Snapshot => return (Start::Beginning, Vec::new(), Initial::No),
    };
    // A first read of an incremental table goes in key order.
    let from_start = || match cursor_column {
        Some(_) => (Start::Beginning, Vec::new(), Initial::Fresh),
        None => (Start::Beginning, Vec::new(), Initial::No),
    };
    let Some(saved) = saved else {
        return from_start();
    };
    let Some(after) = &saved.after else {
        return from_start();
    };
    let key_len = plan.table.primary_key.len();
    let then = saved.initial.as_ref().map(|i| &i.then);
    if saved.cursor_column.as_deref() != cursor_column
        || after.key.len() != key_len
        || (cursor_column.is_none() && after.cursor.is_some())
        || then
            .and_then(Option::as_ref)
            .is_some_and(|t| t.key.len() != key_len)
    {
        airlock_sdk::log::info!(
            "`{}`: its cursor column or primary key changed since the last run; reading it from \
             the start",
            plan.qualified
        );
        return from_start();
    }
    let keys = after.key.iter().cloned().map(Some);
    match (cursor_column, &after.cursor, then) {
        (Some(_), _, Some(then)) => (Start::After, keys.collect(), Initial::Resumed(then.clone())),
        (Some(_), None, None) => (Start::AfterNullCursor, keys.collect(), Initial::No),
        (Some(_), Some(c), None) => (
            Start::After,
            std::iter::once(Some(c.clone())).chain(keys).collect(),
            Initial::No,
        ),
        (None, _, _) => (Start::After, keys.collect(), Initial::No),
    }
}

/// The raw text of the position columns of the last row read, in buffers
/// reused from row to row so tracking it allocates nothing.
pub(crate) struct LastRow {
    /// For each column of the table: its slots in `values`, if it is a
    /// position column. Two when the cursor column is also a key column
    /// (`cursors = { "t" = "id" }` on an append-only table).
    slot_of: Vec<[Option<usize>; 2]>,
    /// Cursor (if any) then key columns: `None` for NULL.
    values: Vec<Option<Vec<u8>>>,
    has_cursor: bool,
}

impl LastRow {
    pub(crate) fn new(plan: &Plan) -> LastRow {
        let mut columns: Vec<usize> = Vec::new();
        if let Mode::Incremental(i) = plan.mode {
            columns.push(i);
        }
        if plan.mode != Mode::Snapshot {
            columns.extend(&plan.table.primary_key);
        }
        let mut slot_of = vec![[None; 2]; plan.table.columns.len()];
        for (slot, &c) in columns.iter().enumerate() {
            let at = usize::from(slot_of[c][0].is_some());
            slot_of[c][at] = Some(slot);
        }
        LastRow {
            slot_of,
            values: vec![None; columns.len()],
            has_cursor: matches!(plan.mode, Mode::Incremental(_)),
        }
    }

    pub(crate) fn record(&mut self, column: usize, raw: Option<&[u8]>) {
        for slot in self.slot_of[column].into_iter().flatten() {
            let v = &mut self.values[slot];
            match (raw, v.as_mut()) {
                (Some(raw), Some(buf)) => {
                    buf.clear();
                    buf.extend_from_slice(raw);
                }
                (Some(raw), None) => *v = Some(raw.to_vec()),
                (None, _) => *v = None,
            }
        }
    }

    pub(crate) fn position(&self) -> Position {
        let text = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let (cursor, key) = if self.has_cursor {
            (text(&self.values[0]), &self.values[1..])
        } else {
            (None, &self.values[..])
        };
        Position {
            cursor,
            // Key columns are never NULL.
            key: key.iter().map(|v| text(v).unwrap_or_default()).collect(),
        }
    }
}

/// Reads `plan`'s table into `out`, checkpointing `state` as it goes.
pub fn table(
    source: &mut Source,
    config: &Config,
    plan: &Plan,
    state: &mut State,
    out: &mut Output<State>,
) -> Result<()> {
    let t = &plan.table;
    let (start, params, initial) = resume(plan, state.tables.get(&plan.qualified));
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    let col = |i: usize| Col {
        name: &t.columns[i].name,
        cast: &t.columns[i].cast_type,
    };
    let cursor = match plan.mode {
        Mode::Incremental(i) => Some(col(i)),
        _ => None,
    };
    let key: Vec<Col<'_>> = match plan.mode {
        Mode::Snapshot => Vec::new(),
        _ => t.primary_key.iter().map(|&i| col(i)).collect(),
    };
    // A first read goes in key order, which the primary key's index serves:
    // in cursor order the server would sort the whole table first (on disk,
    // for a big one) and again on every resume.
    let order_by = cursor.as_ref().filter(|_| initial == Initial::No);
    let query = sql::select(&t.schema, &t.name, &names, order_by, &key, start);
    let params: Vec<Option<&str>> = params.iter().map(Option::as_deref).collect();
    match (plan.mode, start, &initial) {
        (Mode::Snapshot, _, _) => {
            airlock_sdk::log::info!("`{}`: reading every row", plan.qualified)
        }
        (_, _, Initial::Fresh) => airlock_sdk::log::info!(
            "`{}`: first read, from the start in primary-key order",
            plan.qualified
        ),
        (_, _, Initial::Resumed(_)) => airlock_sdk::log::info!(
            "`{}`: resuming the first read after the last committed key",
            plan.qualified
        ),
        (_, Start::Beginning, _) => {
            airlock_sdk::log::info!("`{}`: reading from the start", plan.qualified)
        }
        _ => airlock_sdk::log::info!("`{}`: reading after the last committed row", plan.qualified),
    }

    let ctx = Context {
        host: &source.host,
        endpoint: &source.endpoint,
        user: &source.user,
        table: Some(&plan.qualified),
    };
    let session = &mut source.session;
    // For a first read: where incremental reads start once it completes,
    // found in the snapshot the read itself uses.
    let then: Option<Option<Position>> = (|| {
        session.begin_snapshot()?;
        Ok(match (&initial, &cursor) {
            (Initial::Fresh, Some(c)) => Some(last_position(session, plan, c, &key)?),
            (Initial::Resumed(then), _) => Some(then.clone()),
            _ => None,
        })
    })()
    .map_err(|e: PgError| e.into_error(ctx))?;

    let cursor_column = cursor.as_ref().map(|c| c.name.to_owned());
    let position = |last: &LastRow| match &then {
        Some(then) => TableState {
            cursor_column: cursor_column.clone(),
            after: Some(Position {
                cursor: None,
                key: last.position().key,
            }),
            initial: Some(InitialRead { then: then.clone() }),
        },
        None => TableState {
            cursor_column: cursor_column.clone(),
            after: Some(last.position()),
            initial: None,
        },
    };
    let kinds: Vec<types::Kind> = t.columns.iter().map(|c| c.mapping.kind).collect();
    let mut noted = vec![false; kinds.len()];
    let mut last = LastRow::new(plan);
    let checkpoint_every = match plan.mode {
        // A partial snapshot cannot be resumed: commit it whole.
        Mode::Snapshot => u64::MAX,
        _ => config.checkpoint_every,
    };
    let (mut rows, mut since_checkpoint) = (0u64, 0u64);

    if plan.mode == Mode::Snapshot {
        out.truncate(&plan.dest)?;
    }
    let mut scratch = Scratch::default();
    let mut on_row = |row: &DataRowBody| -> Result<()> {
        convert(plan, &kinds, row, &mut last, &mut noted, &mut scratch, out)?;
        rows += 1;
        since_checkpoint += 1;
        if since_checkpoint >= checkpoint_every {
            since_checkpoint = 0;
            state.tables.insert(plan.qualified.clone(), position(&last));
            out.checkpoint(state)?;
        }
        Ok(())
    };

    let fetch_rows = config.fetch_rows as i32;
    (|| {
        let mut fetched = session.open_portal(&query, &params, fetch_rows, &mut on_row)?;
        while fetched == Fetched::Suspended {
            fetched = session.fetch(fetch_rows, &mut on_row)?;
        }
        session.commit()
    })()
    .map_err(|e: PgError| e.into_error(ctx))?;

    // The table is done: an incremental table keeps its position (after a
    // first read, the one found when it began), a full one starts over next run.
    let done = match (plan.mode, then) {
        (Mode::Incremental(_), Some(then)) => then.map(|then| TableState {
            cursor_column,
            after: Some(then),
            initial: None,
        }),
        (Mode::Incremental(_), None) if rows > 0 => Some(TableState {
            cursor_column,
            after: Some(last.position()),
            initial: None,
        }),
        (Mode::Incremental(_), None) => state.tables.get(&plan.qualified).cloned(),
        (Mode::Full | Mode::Snapshot, _) => None,
    };
    match done {
        Some(s) => state.tables.insert(plan.qualified.clone(), s),
        None => state.tables.remove(&plan.qualified),
    };
    out.checkpoint(state)?;
    airlock_sdk::log::info!("`{}`: {rows} rows → `{}`", plan.qualified, plan.dest);
    if let Initial::Resumed(_) = initial {
        // The rows behind the resumed key were read as they were then: catch
        // up on every row changed since the first read began, as the next run
        // would, so this run ends in step with the source.
        airlock_sdk::log::info!(
            "`{}`: reading the rows changed since its first read began",
            plan.qualified
        );
        return table(source, config, plan, state, out);
    }
    Ok(())
}

/// The last row of `plan`'s table in `(cursor NULLS FIRST, key)` order, or
/// `None` if the table is empty: what a read in cursor order would have
/// ended at.
fn last_position(
    session: &mut Session<airlock_sdk::Connection>,
    plan: &Plan,
    cursor: &Col<'_>,
    key: &[Col<'_>],
) -> std::result::Result<Option<Position>, PgError> {
    let t = &plan.table;
    for null_cursor in [false, true] {
        let sql = sql::last_position(&t.schema, &t.name, cursor, key, null_cursor);
        if let Some(row) = session.query(&sql, &[])?.pop() {
            let mut values = row.into_iter();
            let cursor = values.next().flatten();
            return Ok(Some(Position {
                cursor,
                // Key columns are never NULL.
                key: values.map(Option::unwrap_or_default).collect(),
            }));
        }
    }
    Ok(None)
}

/// Buffers reused from row to row, so converting a data row allocates nothing.
#[derive(Default)]
struct Scratch {
    /// Each column's value in the row's buffer (`None` for NULL).
    raw: Vec<Option<Range<usize>>>,
    /// An empty vector whose allocation holds the next row's cells.
    cells: Vec<Cell<'static>>,
}

/// An empty vector of cells of any lifetime in `v`'s allocation (a collect
/// into a vector of the same layout reuses it).
fn recycle<'a>(mut v: Vec<Cell<'_>>) -> Vec<Cell<'a>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("empty")).collect()
}

/// Upserts one data row into the destination table, recording its position.
fn convert(
    plan: &Plan,
    kinds: &[types::Kind],
    row: &DataRowBody,
    last: &mut LastRow,
    noted: &mut [bool],
    scratch: &mut Scratch,
    out: &mut Output<State>,
) -> Result<()> {
    let buf = row.buffer();
    let malformed_row = |e: std::io::Error| {
        Error::source(format!(
            "`{}`: a malformed row from the server: {e}",
            plan.qualified
        ))
    };
    scratch.raw.clear();
    let mut ranges = row.ranges();
    while let Some(range) = ranges.next().map_err(malformed_row)? {
        scratch.raw.push(range);
    }
    if scratch.raw.len() != kinds.len() {
        return Err(Error::source(format!(
            "`{}`: the server sent {} columns for a table of {}; did it change during the \
             sync?",
            plan.qualified,
            scratch.raw.len(),
            kinds.len()
        )));
    }
    let raw = |i: usize| scratch.raw[i].clone().map(|r| &buf[r]);
    let mut cells = recycle(std::mem::take(&mut scratch.cells));
    let mut borrowed = true;
    for (i, &kind) in kinds.iter().enumerate() {
        last.record(i, raw(i));
        let cell = match raw(i) {
            None => Cell::Null,
            Some(raw) => match types::cell(kind, raw) {
                Ok(Some(cell)) => cell,
                Ok(None) => {
                    borrowed = false;
                    Cell::Null
                }
                Err(bad) => bad_value(plan, i, bad, noted)?,
            },
        };
        cells.push(cell);
    }
    let sent = match borrowed {
        true => out.upsert_cells(&plan.dest, &cells),
        // A `bytea`, or text that is not UTF-8: the row's values get bytes of
        // their own.
        false => {
            let values = (kinds.iter().enumerate())
                .map(|(i, &kind)| match raw(i) {
                    None => Ok(Value::Null),
                    Some(raw) => types::parse(kind, raw)
                        .or_else(|bad| bad_value(plan, i, bad, noted).map(Value::from)),
                })
                .collect::<Result<Vec<Value>>>()?;
            out.upsert(&plan.dest, values)
        }
    };
    scratch.cells = recycle(cells);
    sent
}

/// What a value the destination type cannot hold becomes: NULL with a note
/// once per column, or (in a key column, or for text that is not of its type)
/// an error. The value itself is never quoted: it is the user's data.
fn bad_value(
    plan: &Plan,
    column: usize,
    bad: BadValue,
    noted: &mut [bool],
) -> Result<Cell<'static>> {
    let c = &plan.table.columns[column];
    let in_key = plan.table.primary_key.contains(&column);
    match bad {
        BadValue::Unrepresentable if !in_key => {
            if !std::mem::replace(&mut noted[column], true) {
                let what = match c.mapping.kind {
                    types::Kind::Decimal => "`NaN` or `Infinity`",
                    _ => "`infinity` or `-infinity`",
                };
                airlock_sdk::log::warn!(
                    "`{}` column `{}` ({}) holds {what}, which the destination type cannot; \
                     such values are written as NULL",
                    plan.qualified,
                    c.name,
                    c.type_name
                );
            }
            Ok(Cell::Null)
        }
        _ => Err(Error::source(format!(
            "`{}` column `{}` ({}): a value the connector cannot convert{}",
            plan.qualified,
            c.name,
            c.type_name,
            if in_key {
                " in a primary-key column"
            } else {
                "; please report it"
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_cells_keep_their_allocation() {
        let text = String::from("x");
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(8);
        cells.extend([Cell::Int(1), Cell::Text(&text)]);
        let ptr = cells.as_ptr() as usize;
        let again: Vec<Cell<'static>> = recycle(cells);
        assert!(again.is_empty() && again.capacity() >= 8);
        assert_eq!(
            again.as_ptr() as usize,
            ptr,
            "the same allocation, no new one per row"
        );
    }
}
