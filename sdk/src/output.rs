//! Where [`Connector::sync`](crate::Connector::sync) writes: batches rows per table
//! and hands them to the host.

use std::marker::PhantomData;

use serde::Serialize;

use crate::bindings::airlock::connector::records;
use crate::columns::Columns;
use crate::{Cell, Result, Row, Value};

/// A table's pending batch is sent to the host once it holds this many rows.
pub const MAX_BATCH_ROWS: usize = 1024;

/// A table's pending batch is sent to the host once its rows carry about this many
/// bytes (see [`Output`]), whichever of this and [`MAX_BATCH_ROWS`] comes first.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Upsert,
    Delete,
}

/// The rows of one table not yet sent, all for the same operation.
struct Batch {
    table: String,
    op: Op,
    /// Upserts, by column.
    upserts: Columns,
    /// Delete keys.
    keys: Vec<Row>,
    bytes: usize,
}

impl Batch {
    fn rows(&self) -> usize {
        self.upserts.rows() + self.keys.len()
    }
}

/// The sink a connector writes rows, deletes and checkpoints to during a sync.
///
/// Rows are buffered per table, laid out by column, and sent to the host in
/// batches of up to [`MAX_BATCH_ROWS`] rows or about [`MAX_BATCH_BYTES`] of text
/// and bytes. A column takes one kind of value (the one its type takes, or
/// null): a row that breaks that, or has another number of values than the
/// rows before it, is sent on its own so the host can say what is wrong (as
/// row 0, of a batch of one). Order is
/// kept within each table: switching a table between [`upsert`](Output::upsert) and
/// [`delete`](Output::delete) first sends what it has pending; [`truncate`](Output::truncate)
/// and [`checkpoint`](Output::checkpoint) first send everything pending for every
/// table. When `sync` returns `Ok` the sdk sends whatever is left, and the host
/// commits it.
///
/// Nothing is committed until a checkpoint (or the end of a successful sync): if the
/// run fails, the next one starts from the last checkpointed state.
///
/// Errors the host reports (a row that does not match its table's schema, a table
/// that `discover` did not return, ...) come back as [`Error`](crate::Error)s from
/// the call that sent the batch, which may be a later call than the one that
/// buffered the faulty row; return them from `sync` with `?`.
pub struct Output<S> {
    batches: Vec<Batch>,
    rows_emitted: u64,
    state: PhantomData<fn(&S)>,
}

impl<S: Serialize> Output<S> {
    pub(crate) fn new() -> Self {
        Output {
            batches: Vec::new(),
            rows_emitted: 0,
            state: PhantomData,
        }
    }

    /// Inserts or replaces `row` (one value per column, in column order) by primary
    /// key; on a table without a primary key, appends it.
    pub fn upsert(&mut self, table: &str, row: Row) -> Result<()> {
        let cells: Vec<Cell<'_>> = row.iter().map(Cell::from).collect();
        self.upsert_cells(table, &cells)
    }

    /// [`upsert`](Output::upsert) for a row of borrowed cells: the same
    /// result, without an allocation per row and string. For connectors that
    /// parse rows out of their own buffers at volume.
    pub fn upsert_cells(&mut self, table: &str, row: &[Cell<'_>]) -> Result<()> {
        self.rows_emitted += 1;
        let batch = self.batch(table, Op::Upsert)?;
        batch.bytes += row.iter().map(Cell::payload_size).sum::<usize>();
        if !batch.upserts.push(row) {
            // A row of another shape than the rows before it is wrong: sent
            // on its own, as a row, the host says what is wrong with it.
            send(batch)?;
            let row: Row = row.iter().map(|&c| Value::from(c)).collect();
            records::upsert(&batch.table, &[row])?;
        }
        send_if_full(batch)
    }

    /// Marks the row whose primary key is `key` (the key's values, in primary-key
    /// order) deleted.
    pub fn delete(&mut self, table: &str, key: Row) -> Result<()> {
        self.rows_emitted += 1;
        let batch = self.batch(table, Op::Delete)?;
        batch.bytes += key.iter().map(|v| v.payload_size()).sum::<usize>();
        batch.keys.push(key);
        send_if_full(batch)
    }

    /// Marks every row of `table` deleted (e.g. before a full re-sync). Sends every
    /// pending batch first.
    pub fn truncate(&mut self, table: &str) -> Result<()> {
        self.flush_all()?;
        records::truncate(table)?;
        Ok(())
    }

    /// Commits everything emitted so far together with `state`: a later run starts
    /// from the last state committed. Sends every pending batch first.
    pub fn checkpoint(&mut self, state: &S) -> Result<()> {
        self.flush_all()?;
        let json = serde_json::to_string(state)?;
        records::checkpoint(&json)?;
        Ok(())
    }

    /// How many rows this run has passed to [`upsert`](Output::upsert),
    /// [`upsert_cells`](Output::upsert_cells) and [`delete`](Output::delete) so
    /// far, sent or still buffered.
    pub fn rows_emitted(&self) -> u64 {
        self.rows_emitted
    }

    /// Sends every pending batch to the host (without committing it).
    pub(crate) fn flush_all(&mut self) -> Result<()> {
        for batch in &mut self.batches {
            send(batch)?;
        }
        Ok(())
    }

    /// `table`'s batch, emptied first if it holds the other operation.
    fn batch(&mut self, table: &str, op: Op) -> Result<&mut Batch> {
        let batch = match self.batches.iter().position(|b| b.table == table) {
            Some(i) => &mut self.batches[i],
            None => {
                self.batches.push(Batch {
                    table: table.to_owned(),
                    op,
                    upserts: Columns::new(),
                    keys: Vec::new(),
                    bytes: 0,
                });
                self.batches.last_mut().expect("just pushed")
            }
        };
        if batch.op != op {
            send(batch)?;
            batch.op = op;
        }
        Ok(batch)
    }
}

/// Sends a batch that reached [`MAX_BATCH_ROWS`] or [`MAX_BATCH_BYTES`].
fn send_if_full(batch: &mut Batch) -> Result<()> {
    if batch.rows() >= MAX_BATCH_ROWS || batch.bytes >= MAX_BATCH_BYTES {
        send(batch)?;
    }
    Ok(())
}

/// Hands a batch's rows to the host and empties it (keeping its allocations).
fn send(batch: &mut Batch) -> Result<()> {
    if batch.rows() == 0 {
        return Ok(());
    }
    let sent = match batch.op {
        Op::Upsert => records::upsert_columns(&batch.table, batch.upserts.batch()),
        Op::Delete => records::delete(&batch.table, &batch.keys),
    };
    batch.upserts.clear();
    batch.keys.clear();
    batch.bytes = 0;
    sent.map_err(Into::into)
}
