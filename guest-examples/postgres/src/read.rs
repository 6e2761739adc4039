//! Reading one table into the output: the resume position, the streamed
//! portal, the row conversion, and the checkpoints.

use airlock_sdk::{Error, Output, Result, Value};
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::DataRowBody;

use crate::error::{Context, PgError};
use crate::sql::{self, Col, Start};
use crate::types::{self, BadValue};
use crate::wire::Fetched;
use crate::{Config, Mode, Plan, Position, Source, State, TableState};

/// Where to start reading `plan`'s table given its committed state, and the
/// bind parameters of that start. A state for another cursor column or key
/// means the config or the table changed: the table is read from the start.
pub(crate) fn resume(plan: &Plan, saved: Option<&TableState>) -> (Start, Vec<Option<String>>) {
    let cursor_column = match plan.mode {
        Mode::Incremental(i) => Some(plan.table.columns[i].name.as_str()),
        Mode::Full => None,
        Mode::Snapshot => return (Start::Beginning, Vec::new()),
    };
    let Some(saved) = saved else {
        return (Start::Beginning, Vec::new());
    };
    let Some(after) = &saved.after else {
        return (Start::Beginning, Vec::new());
    };
    if saved.cursor_column.as_deref() != cursor_column
        || after.key.len() != plan.table.primary_key.len()
        || (cursor_column.is_none() && after.cursor.is_some())
    {
        airlock_sdk::log::info!(
            "`{}`: its cursor column or primary key changed since the last run; reading it from \
             the start",
            plan.qualified
        );
        return (Start::Beginning, Vec::new());
    }
    let keys = after.key.iter().cloned().map(Some);
    match (cursor_column, &after.cursor) {
        (Some(_), None) => (Start::AfterNullCursor, keys.collect()),
        (Some(_), Some(c)) => (
            Start::After,
            std::iter::once(Some(c.clone())).chain(keys).collect(),
        ),
        (None, _) => (Start::After, keys.collect()),
    }
}

/// The raw text of the position columns of the last row read, in buffers
/// reused from row to row so tracking it allocates nothing.
pub(crate) struct LastRow {
    /// For each column of the table: its slot in `values`, if it is a position column.
    slot_of: Vec<Option<usize>>,
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
        let mut slot_of = vec![None; plan.table.columns.len()];
        for (slot, &c) in columns.iter().enumerate() {
            slot_of[c] = Some(slot);
        }
        LastRow {
            slot_of,
            values: vec![None; columns.len()],
            has_cursor: matches!(plan.mode, Mode::Incremental(_)),
        }
    }

    pub(crate) fn record(&mut self, column: usize, raw: Option<&[u8]>) {
        if let Some(slot) = self.slot_of[column] {
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
    let (start, params) = resume(plan, state.tables.get(&plan.qualified));
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
    let query = sql::select(&t.schema, &t.name, &names, cursor.as_ref(), &key, start);
    let params: Vec<Option<&str>> = params.iter().map(Option::as_deref).collect();
    match (plan.mode, start) {
        (Mode::Snapshot, _) => airlock_sdk::log::info!("`{}`: reading every row", plan.qualified),
        (_, Start::Beginning) => {
            airlock_sdk::log::info!("`{}`: reading from the start", plan.qualified)
        }
        _ => airlock_sdk::log::info!("`{}`: reading after the last committed row", plan.qualified),
    }

    let cursor_column = cursor.as_ref().map(|c| c.name.to_owned());
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
    let mut on_row = |row: &DataRowBody| -> Result<()> {
        let values = convert(plan, &kinds, row, &mut last, &mut noted)?;
        out.upsert(&plan.dest, values)?;
        rows += 1;
        since_checkpoint += 1;
        if since_checkpoint >= checkpoint_every {
            since_checkpoint = 0;
            state.tables.insert(
                plan.qualified.clone(),
                TableState {
                    cursor_column: cursor_column.clone(),
                    after: Some(last.position()),
                },
            );
            out.checkpoint(state)?;
        }
        Ok(())
    };

    let fetch_rows = config.fetch_rows as i32;
    let ctx = Context {
        host: &source.host,
        endpoint: &source.endpoint,
        user: &source.user,
        table: Some(&plan.qualified),
    };
    let session = &mut source.session;
    (|| {
        session.begin_snapshot()?;
        let mut fetched = session.open_portal(&query, &params, fetch_rows, &mut on_row)?;
        while fetched == Fetched::Suspended {
            fetched = session.fetch(fetch_rows, &mut on_row)?;
        }
        session.commit()
    })()
    .map_err(|e: PgError| e.into_error(ctx))?;

    // The table is done: an incremental table keeps its position, a full one
    // starts over next run.
    let done = match plan.mode {
        Mode::Incremental(_) if rows > 0 => Some(TableState {
            cursor_column,
            after: Some(last.position()),
        }),
        Mode::Incremental(_) => state.tables.get(&plan.qualified).cloned(),
        Mode::Full | Mode::Snapshot => None,
    };
    match done {
        Some(s) => state.tables.insert(plan.qualified.clone(), s),
        None => state.tables.remove(&plan.qualified),
    };
    out.checkpoint(state)?;
    airlock_sdk::log::info!("`{}`: {rows} rows → `{}`", plan.qualified, plan.dest);
    Ok(())
}

/// One data row as the destination row, recording its position.
fn convert(
    plan: &Plan,
    kinds: &[types::Kind],
    row: &DataRowBody,
    last: &mut LastRow,
    noted: &mut [bool],
) -> Result<Vec<Value>> {
    let buf = row.buffer();
    let mut values = Vec::with_capacity(kinds.len());
    let mut ranges = row.ranges();
    let malformed_row = |e: std::io::Error| {
        Error::source(format!(
            "`{}`: a malformed row from the server: {e}",
            plan.qualified
        ))
    };
    while let Some(range) = ranges.next().map_err(malformed_row)? {
        let i = values.len();
        let Some(&kind) = kinds.get(i) else {
            return Err(Error::source(format!(
                "`{}`: the server sent more columns than the table has; did it change during \
                 the sync?",
                plan.qualified
            )));
        };
        let raw = range.map(|r| &buf[r]);
        last.record(i, raw);
        let value = match raw {
            None => Value::Null,
            Some(raw) => match types::parse(kind, raw) {
                Ok(v) => v,
                Err(bad) => bad_value(plan, i, bad, noted)?,
            },
        };
        values.push(value);
    }
    if values.len() != kinds.len() {
        return Err(Error::source(format!(
            "`{}`: the server sent {} columns for a table of {}",
            plan.qualified,
            values.len(),
            kinds.len()
        )));
    }
    Ok(values)
}

/// What a value the destination type cannot hold becomes: NULL with a note
/// once per column, or (in a key column, or for text that is not of its type)
/// an error. The value itself is never quoted: it is the user's data.
fn bad_value(plan: &Plan, column: usize, bad: BadValue, noted: &mut [bool]) -> Result<Value> {
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
            Ok(Value::Null)
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
