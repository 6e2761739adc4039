//! A table's pending upserts laid out by column, the shape `upsert-columns`
//! sends: the host copies whole columns instead of lifting every cell, and
//! the guest lowers a few buffers instead of a list per row.

use crate::Cell;
use crate::bindings::airlock::connector::types::{Blobs, ColumnBatch, ColumnCells, ColumnData};

/// Rows pushed one at a time into per-column buffers, which are kept (and
/// their capacity with them) from batch to batch.
pub(crate) struct Columns {
    batch: ColumnBatch,
}

impl Columns {
    pub(crate) fn new() -> Columns {
        Columns {
            batch: ColumnBatch {
                rows: 0,
                columns: Vec::new(),
            },
        }
    }

    /// Rows pushed since the last [`Columns::clear`].
    pub(crate) fn rows(&self) -> usize {
        self.batch.rows as usize
    }

    /// The batch to send.
    pub(crate) fn batch(&self) -> &ColumnBatch {
        &self.batch
    }

    /// Empties the batch. Each column keeps the kind of its values: a
    /// connector sends one kind per column (or the host refuses it).
    pub(crate) fn clear(&mut self) {
        self.batch.rows = 0;
        for c in &mut self.batch.columns {
            c.valid.clear();
            match &mut c.data {
                ColumnData::Null => {}
                ColumnData::Boolean(v) => v.clear(),
                ColumnData::Int(v) | ColumnData::Timestamp(v) => v.clear(),
                ColumnData::Float(v) => v.clear(),
                ColumnData::Date(v) => v.clear(),
                ColumnData::Text(b)
                | ColumnData::Bytes(b)
                | ColumnData::Decimal(b)
                | ColumnData::Json(b) => {
                    b.data.clear();
                    b.ends.clear();
                }
            }
        }
    }

    /// Adds `row` and returns true, or returns false and adds nothing if it
    /// does not have the batch's shape (another number of cells, or a cell
    /// of another kind than its column's): such a row is wrong, and the
    /// caller sends it as a row so the host says how.
    pub(crate) fn push(&mut self, row: &[Cell<'_>]) -> bool {
        if self.batch.rows == 0 && self.batch.columns.len() != row.len() {
            self.batch.columns = (0..row.len())
                .map(|_| ColumnCells {
                    valid: Vec::new(),
                    data: ColumnData::Null,
                })
                .collect();
        }
        let cols = &self.batch.columns;
        if cols.len() != row.len() || !cols.iter().zip(row).all(|(c, v)| takes(&c.data, v)) {
            return false;
        }
        let before = self.batch.rows as usize;
        for (c, v) in self.batch.columns.iter_mut().zip(row) {
            push(c, before, v);
        }
        self.batch.rows += 1;
        true
    }
}

/// Whether a column holding `data` can take `v`.
fn takes(data: &ColumnData, v: &Cell<'_>) -> bool {
    matches!(
        (data, v),
        (_, Cell::Null)
            | (ColumnData::Null, _)
            | (ColumnData::Boolean(_), Cell::Boolean(_))
            | (ColumnData::Int(_), Cell::Int(_))
            | (ColumnData::Float(_), Cell::Float(_))
            | (ColumnData::Text(_), Cell::Text(_))
            | (ColumnData::Bytes(_), Cell::Bytes(_))
            | (ColumnData::Timestamp(_), Cell::Timestamp(_))
            | (ColumnData::Date(_), Cell::Date(_))
            | (ColumnData::Decimal(_), Cell::Decimal(_))
            | (ColumnData::Json(_), Cell::Json(_))
    )
}

/// Appends `v` (which the column [`takes`]) to a column of `before` cells.
fn push(c: &mut ColumnCells, before: usize, v: &Cell<'_>) {
    let null = matches!(v, Cell::Null);
    if let ColumnData::Null = c.data {
        if null {
            // Still all null: nothing to store.
            return;
        }
        c.data = empty_like(v);
        for _ in 0..before {
            push_slot(&mut c.data, &Cell::Null);
        }
        c.valid.resize(before, false);
    }
    match (null, c.valid.is_empty()) {
        (true, true) => {
            c.valid.resize(before, true);
            c.valid.push(false);
        }
        (true, false) => c.valid.push(false),
        (false, true) => {}
        (false, false) => c.valid.push(true),
    }
    push_slot(&mut c.data, v);
}

/// Empty slots of `v`'s kind.
fn empty_like(v: &Cell<'_>) -> ColumnData {
    let blobs = || Blobs {
        data: Vec::new(),
        ends: Vec::new(),
    };
    match v {
        Cell::Null => ColumnData::Null,
        Cell::Boolean(_) => ColumnData::Boolean(Vec::new()),
        Cell::Int(_) => ColumnData::Int(Vec::new()),
        Cell::Float(_) => ColumnData::Float(Vec::new()),
        Cell::Text(_) => ColumnData::Text(blobs()),
        Cell::Bytes(_) => ColumnData::Bytes(blobs()),
        Cell::Timestamp(_) => ColumnData::Timestamp(Vec::new()),
        Cell::Date(_) => ColumnData::Date(Vec::new()),
        Cell::Decimal(_) => ColumnData::Decimal(blobs()),
        Cell::Json(_) => ColumnData::Json(blobs()),
    }
}

/// Appends one slot: the cell, or (for a null) a placeholder of the column's kind.
fn push_slot(data: &mut ColumnData, v: &Cell<'_>) {
    let blob = |b: &mut Blobs, bytes: &[u8]| {
        b.data.extend_from_slice(bytes);
        b.ends.push(b.data.len() as u32);
    };
    match (data, *v) {
        (ColumnData::Boolean(d), Cell::Boolean(x)) => d.push(x),
        (ColumnData::Int(d), Cell::Int(x)) => d.push(x),
        (ColumnData::Float(d), Cell::Float(x)) => d.push(x),
        (ColumnData::Timestamp(d), Cell::Timestamp(x)) => d.push(x),
        (ColumnData::Date(d), Cell::Date(x)) => d.push(x),
        (ColumnData::Text(b), Cell::Text(x))
        | (ColumnData::Decimal(b), Cell::Decimal(x))
        | (ColumnData::Json(b), Cell::Json(x)) => blob(b, x.as_bytes()),
        (ColumnData::Bytes(b), Cell::Bytes(x)) => blob(b, x),
        (ColumnData::Boolean(d), _) => d.push(false),
        (ColumnData::Int(d) | ColumnData::Timestamp(d), _) => d.push(0),
        (ColumnData::Float(d), _) => d.push(0.0),
        (ColumnData::Date(d), _) => d.push(0),
        (
            ColumnData::Text(b)
            | ColumnData::Bytes(b)
            | ColumnData::Decimal(b)
            | ColumnData::Json(b),
            _,
        ) => blob(b, &[]),
        (ColumnData::Null, _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn cells(row: &[Value]) -> Vec<Cell<'_>> {
        row.iter().map(Cell::from).collect()
    }

    fn ints(c: &ColumnCells) -> &[i64] {
        match &c.data {
            ColumnData::Int(v) => v,
            _ => panic!("not ints"),
        }
    }

    #[test]
    fn rows_become_columns_with_nulls_flagged() {
        let mut cols = Columns::new();
        let rows = [
            vec![Value::Int(1), Value::Null, Value::Null],
            vec![Value::Int(2), Value::Text("ab".into()), Value::Null],
            vec![Value::Int(3), Value::Null, Value::Null],
            vec![Value::Int(4), Value::Text("é".into()), Value::Null],
        ];
        for r in rows {
            assert!(cols.push(&cells(&r)));
        }
        let b = cols.batch();
        assert_eq!(b.rows, 4);
        assert_eq!(ints(&b.columns[0]), [1, 2, 3, 4]);
        assert!(b.columns[0].valid.is_empty());
        assert_eq!(b.columns[1].valid, [false, true, false, true]);
        match &b.columns[1].data {
            ColumnData::Text(t) => {
                assert_eq!(t.data, "abé".as_bytes());
                assert_eq!(t.ends, [0, 2, 2, 4]);
            }
            _ => panic!("not text"),
        }
        assert!(matches!(b.columns[2].data, ColumnData::Null));
        // A null after values, in a column that had none.
        cols.clear();
        assert!(cols.push(&[Cell::Int(5), Cell::Text("x"), Cell::Null]));
        assert!(cols.push(&[Cell::Null, Cell::Text("y"), Cell::Bytes(&[9])]));
        let b = cols.batch();
        assert_eq!(ints(&b.columns[0]), [5, 0]);
        assert_eq!(b.columns[0].valid, [true, false]);
        assert!(b.columns[1].valid.is_empty());
        assert_eq!(b.columns[2].valid, [false, true]);
    }

    #[test]
    fn a_row_of_another_shape_is_refused() {
        let mut cols = Columns::new();
        assert!(cols.push(&[Cell::Int(1), Cell::Null]));
        assert!(!cols.push(&[Cell::Text("1"), Cell::Null]));
        assert!(!cols.push(&[Cell::Int(1)]));
        assert_eq!(cols.rows(), 1);
        // An empty batch takes a new shape.
        cols.clear();
        assert!(cols.push(&[Cell::Int(1)]));
    }
}
