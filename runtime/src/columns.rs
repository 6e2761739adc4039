//! Rows laid out by column: the plain-Rust mirror of the contract's
//! `column-batch`, its checks against a table, and its conversion to rows.
//!
//! A bulk load crosses the sandbox boundary this way because lifting a
//! `list<s64>` or a byte buffer is a copy, where a `list<row>` costs an
//! allocation per row and per string on both sides.

#[cfg(doc)]
use crate::schema::rows_bytes;
use crate::schema::{Column, ColumnType, Row, SchemaError, SchemaErrorKind, TableSchema, Value};

/// Rows of one table, by column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBatch {
    /// How many rows; every column holds this many cells.
    pub rows: usize,
    /// One per table column, in the table's order.
    pub columns: Vec<ColumnCells>,
}

/// The cells of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnCells {
    /// Empty when no cell is null; otherwise one flag per row, `false` where
    /// the cell is null.
    pub valid: Vec<bool>,
    /// One slot per row (ignored where `valid` says null).
    pub data: ColumnData,
}

/// A column's slots, one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Every cell is null.
    Null,
    /// Booleans.
    Boolean(Vec<bool>),
    /// 64-bit integers.
    Int(Vec<i64>),
    /// 64-bit floats.
    Float(Vec<f64>),
    /// UTF-8 texts.
    Text(Blobs),
    /// Byte strings.
    Bytes(Blobs),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(Vec<i64>),
    /// Days since the Unix epoch.
    Date(Vec<i32>),
    /// Decimals in plain notation.
    Decimal(Blobs),
    /// JSON texts.
    Json(Blobs),
}

/// Variable-length cells end to end: cell `i` is `data[ends[i-1]..ends[i]]`,
/// the first starting at 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blobs {
    /// Every cell's bytes, in row order.
    pub data: Vec<u8>,
    /// Where each cell ends in `data`.
    pub ends: Vec<u32>,
}

impl Blobs {
    /// Cell `i`'s bytes. Only valid on blobs that passed [`ColumnBatch::check`].
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// Cell `i` as text. Only valid on text blobs that passed [`ColumnBatch::check`].
    pub(crate) fn str(&self, i: usize) -> &str {
        std::str::from_utf8(self.get(i)).expect("checked to be UTF-8 at cell boundaries")
    }
}

impl ColumnData {
    /// The kind of value this holds, named as [`Value::kind`] names it.
    pub fn kind(&self) -> &'static str {
        match self {
            ColumnData::Null => "null",
            ColumnData::Boolean(_) => "boolean",
            ColumnData::Int(_) => "int",
            ColumnData::Float(_) => "float",
            ColumnData::Text(_) => "text",
            ColumnData::Bytes(_) => "bytes",
            ColumnData::Timestamp(_) => "timestamp",
            ColumnData::Date(_) => "date",
            ColumnData::Decimal(_) => "decimal",
            ColumnData::Json(_) => "json",
        }
    }

    /// Whether these slots may be stored in a column of type `ty`.
    fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (ColumnData::Null, _)
                | (ColumnData::Boolean(_), ColumnType::Boolean)
                | (ColumnData::Int(_), ColumnType::Int)
                | (ColumnData::Float(_), ColumnType::Float)
                | (ColumnData::Text(_), ColumnType::Text)
                | (ColumnData::Bytes(_), ColumnType::Bytes)
                | (ColumnData::Timestamp(_), ColumnType::Timestamp)
                | (ColumnData::Date(_), ColumnType::Date)
                | (ColumnData::Decimal(_), ColumnType::Decimal { .. })
                | (ColumnData::Json(_), ColumnType::Json)
        )
    }

    /// How many slots it holds (`None` for [`ColumnData::Null`], which has none).
    fn len(&self) -> Option<usize> {
        Some(match self {
            ColumnData::Null => return None,
            ColumnData::Boolean(v) => v.len(),
            ColumnData::Int(v) | ColumnData::Timestamp(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::Text(b)
            | ColumnData::Bytes(b)
            | ColumnData::Decimal(b)
            | ColumnData::Json(b) => b.ends.len(),
        })
    }

    /// Bytes of text and byte strings the slots carry.
    fn payload(&self) -> u64 {
        match self {
            ColumnData::Text(b)
            | ColumnData::Bytes(b)
            | ColumnData::Decimal(b)
            | ColumnData::Json(b) => b.data.len() as u64,
            _ => 0,
        }
    }
}

impl ColumnCells {
    /// Whether row `i`'s cell is null.
    pub fn is_null(&self, i: usize) -> bool {
        matches!(self.data, ColumnData::Null) || self.valid.get(i) == Some(&false)
    }

    /// Row `i`'s cell as a [`Value`] (copying text and bytes).
    pub fn value(&self, i: usize) -> Value {
        if self.is_null(i) {
            return Value::Null;
        }
        match &self.data {
            ColumnData::Null => Value::Null,
            ColumnData::Boolean(v) => Value::Boolean(v[i]),
            ColumnData::Int(v) => Value::Int(v[i]),
            ColumnData::Float(v) => Value::Float(v[i]),
            ColumnData::Text(b) => Value::Text(b.str(i).to_owned()),
            ColumnData::Bytes(b) => Value::Bytes(b.get(i).to_vec()),
            ColumnData::Timestamp(v) => Value::Timestamp(v[i]),
            ColumnData::Date(v) => Value::Date(v[i]),
            ColumnData::Decimal(b) => Value::Decimal(b.str(i).to_owned()),
            ColumnData::Json(b) => Value::Json(b.str(i).to_owned()),
        }
    }
}

impl ColumnBatch {
    /// Bytes the batch's rows would take as rows ([`rows_bytes`] of
    /// [`ColumnBatch::into_rows`]): what the host-call limit and the writer's
    /// queue count, so a batch cannot pass them small and grow once it becomes
    /// rows (a column of nulls carries no bytes at all).
    pub fn bytes(&self) -> u64 {
        let cell = std::mem::size_of::<Value>() as u64;
        let cells = (self.rows as u64).saturating_mul(self.columns.len() as u64);
        let payload: u64 = self.columns.iter().map(|c| c.data.payload()).sum();
        cells.saturating_mul(cell).saturating_add(payload)
    }

    /// Checks that the batch is well formed (every column of `rows` cells,
    /// cell ends in order, text in UTF-8) and matches `table` as
    /// [`TableSchema::check_row`] checks rows: one cell per column, of its
    /// type, null only where allowed, reporting the first bad cell in row
    /// order with the same message.
    pub fn check(&self, table: &TableSchema) -> Result<(), SchemaError> {
        let name = &table.name;
        let mismatch =
            |message: String| Err(SchemaError::new(SchemaErrorKind::Mismatch, name, message));
        if self.columns.len() != table.columns.len() {
            return mismatch(format!(
                "table `{name}` row 0: expected {} values, got {}",
                table.columns.len(),
                self.columns.len()
            ));
        }
        for (c, cells) in table.columns.iter().zip(&self.columns) {
            self.check_shape(name, c, cells)?;
        }
        let bad = (table.columns.iter().zip(&self.columns).enumerate())
            .filter_map(|(j, (c, cells))| self.first_bad(c, cells).map(|(i, why)| (i, j, c, why)))
            .min_by_key(|&(i, j, ..)| (i, j));
        match bad {
            Some((i, _, c, why)) => {
                mismatch(format!("table `{name}` row {i} column `{}`: {why}", c.name))
            }
            None => Ok(()),
        }
    }

    /// The first row whose cell column `c` refuses, and why.
    fn first_bad(&self, c: &Column, cells: &ColumnCells) -> Option<(usize, String)> {
        let null = (!c.nullable)
            .then(|| (0..self.rows).find(|&i| cells.is_null(i)))
            .flatten()
            .map(|i| (i, "null in a non-nullable column".to_owned()));
        let kind = (!cells.data.fits(c.ty))
            .then(|| (0..self.rows).find(|&i| !cells.is_null(i)))
            .flatten()
            .map(|i| (i, format!("expected {}, got {}", c.ty, cells.data.kind())));
        [null, kind].into_iter().flatten().min_by_key(|b| b.0)
    }

    /// Checks that a column is well formed.
    fn check_shape(&self, table: &str, c: &Column, cells: &ColumnCells) -> Result<(), SchemaError> {
        let malformed = |what: String| {
            let message = format!(
                "table `{table}` column `{}`: a malformed column batch ({what}); this is a bug in \
                 the connector or its sdk",
                c.name
            );
            SchemaError::new(SchemaErrorKind::Malformed, table, message)
        };
        if !cells.valid.is_empty() && cells.valid.len() != self.rows {
            let n = cells.valid.len();
            return Err(malformed(format!("{n} null flags for {} rows", self.rows)));
        }
        if let Some(n) = cells.data.len()
            && n != self.rows
        {
            return Err(malformed(format!("{n} cells for {} rows", self.rows)));
        }
        let (blobs, text) = match &cells.data {
            ColumnData::Text(b) | ColumnData::Decimal(b) | ColumnData::Json(b) => (b, true),
            ColumnData::Bytes(b) => (b, false),
            _ => return Ok(()),
        };
        let mut start = 0;
        for (i, &end) in blobs.ends.iter().enumerate() {
            if end < start || end as usize > blobs.data.len() {
                return Err(malformed(format!("cell {i} ends at {end}, out of order")));
            }
            start = end;
        }
        if start as usize != blobs.data.len() {
            let after = blobs.data.len() - start as usize;
            return Err(malformed(format!("{after} bytes after the last cell")));
        }
        if text {
            let Ok(all) = std::str::from_utf8(&blobs.data) else {
                return Err(malformed("text that is not UTF-8".into()));
            };
            if let Some(i) = (blobs.ends.iter()).position(|&e| !all.is_char_boundary(e as usize)) {
                return Err(malformed(format!("cell {i} ends inside a UTF-8 character")));
            }
        }
        Ok(())
    }

    /// `rows` of a table of `types` laid out by column, as the SDK lays them
    /// out (for tests of what takes batches).
    #[cfg(test)]
    pub(crate) fn from_rows(types: &[ColumnType], rows: &[Row]) -> ColumnBatch {
        let column = |(i, &ty): (usize, &ColumnType)| {
            let cells = || rows.iter().map(move |r| &r[i]);
            let valid: Vec<bool> = cells().map(|v| *v != Value::Null).collect();
            let blobs = |f: fn(&Value) -> &[u8]| {
                let mut b = Blobs::default();
                for v in cells() {
                    b.data
                        .extend_from_slice(if *v == Value::Null { &[] } else { f(v) });
                    b.ends.push(b.data.len() as u32);
                }
                b
            };
            fn text(v: &Value) -> &[u8] {
                match v {
                    Value::Text(s) | Value::Decimal(s) | Value::Json(s) => s.as_bytes(),
                    Value::Bytes(b) => b.as_slice(),
                    _ => unreachable!("a value of the column's kind"),
                }
            }
            macro_rules! fixed {
                ($variant:ident, $zero:expr) => {
                    cells()
                        .map(|v| match v {
                            Value::$variant(x) => *x,
                            _ => $zero,
                        })
                        .collect()
                };
            }
            let data = match ty {
                _ if valid.iter().all(|v| !v) => ColumnData::Null,
                ColumnType::Boolean => ColumnData::Boolean(fixed!(Boolean, false)),
                ColumnType::Int => ColumnData::Int(fixed!(Int, 0)),
                ColumnType::Float => ColumnData::Float(fixed!(Float, 0.0)),
                ColumnType::Timestamp => ColumnData::Timestamp(fixed!(Timestamp, 0)),
                ColumnType::Date => ColumnData::Date(fixed!(Date, 0)),
                ColumnType::Text => ColumnData::Text(blobs(text)),
                ColumnType::Bytes => ColumnData::Bytes(blobs(text)),
                ColumnType::Decimal { .. } => ColumnData::Decimal(blobs(text)),
                ColumnType::Json => ColumnData::Json(blobs(text)),
            };
            let valid = match valid.iter().all(|v| *v) || data == ColumnData::Null {
                true => Vec::new(),
                false => valid,
            };
            ColumnCells { valid, data }
        };
        ColumnBatch {
            rows: rows.len(),
            columns: types.iter().enumerate().map(column).collect(),
        }
    }

    /// The batch as rows (copying text and bytes), for destinations that take rows.
    pub fn into_rows(self) -> Vec<Row> {
        (0..self.rows)
            .map(|i| self.columns.iter().map(|c| c.value(i)).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableSchema {
        let col = |name: &str, ty, nullable| Column {
            name: name.into(),
            ty,
            nullable,
        };
        TableSchema {
            name: "t".into(),
            columns: vec![
                col("id", ColumnType::Int, false),
                col("name", ColumnType::Text, true),
                col("raw", ColumnType::Bytes, true),
            ],
            primary_key: vec!["id".into()],
        }
    }

    fn blobs(cells: &[&str]) -> Blobs {
        let mut b = Blobs::default();
        for c in cells {
            b.data.extend_from_slice(c.as_bytes());
            b.ends.push(b.data.len() as u32);
        }
        b
    }

    fn batch() -> ColumnBatch {
        ColumnBatch {
            rows: 3,
            columns: vec![
                ColumnCells {
                    valid: vec![],
                    data: ColumnData::Int(vec![1, 2, 3]),
                },
                ColumnCells {
                    valid: vec![true, false, true],
                    data: ColumnData::Text(blobs(&["a", "", "héllo"])),
                },
                ColumnCells {
                    valid: vec![],
                    data: ColumnData::Null,
                },
            ],
        }
    }

    #[test]
    fn a_batch_becomes_the_rows_it_lays_out() {
        let b = batch();
        b.check(&table()).unwrap();
        let cell = std::mem::size_of::<Value>() as u64;
        assert_eq!(b.bytes(), 9 * cell + 7);
        assert_eq!(b.bytes(), crate::schema::rows_bytes(&b.clone().into_rows()));
        let rows = b.into_rows();
        assert_eq!(
            rows,
            vec![
                vec![Value::Int(1), Value::Text("a".into()), Value::Null],
                vec![Value::Int(2), Value::Null, Value::Null],
                vec![Value::Int(3), Value::Text("héllo".into()), Value::Null],
            ]
        );
    }

    #[test]
    fn rows_laid_out_by_column_come_back_as_they_were() {
        let b = batch();
        let types: Vec<ColumnType> = table().columns.iter().map(|c| c.ty).collect();
        let again = ColumnBatch::from_rows(&types, &b.clone().into_rows());
        assert_eq!(again, b);
    }

    #[test]
    fn checks_say_what_row_checks_say() {
        let t = table();
        let mut b = batch();
        b.columns[0].data = ColumnData::Text(blobs(&["1", "2", "3"]));
        let e = b.check(&t).unwrap_err().to_string();
        assert_eq!(e, "table `t` row 0 column `id`: expected int, got text");
        let mut b = batch();
        b.columns[0].valid = vec![true, true, false];
        let e = b.check(&t).unwrap_err().to_string();
        assert_eq!(
            e,
            "table `t` row 2 column `id`: null in a non-nullable column"
        );
        let mut b = batch();
        b.columns.pop();
        assert!(
            b.check(&t)
                .unwrap_err()
                .to_string()
                .contains("expected 3 values, got 2")
        );
        // The first bad cell in row order, as a row-by-row check finds it.
        let mut t2 = table();
        t2.columns[1].nullable = false;
        let mut b = batch();
        b.columns[0].valid = vec![true, true, false];
        let e = b.check(&t2).unwrap_err().to_string();
        assert_eq!(
            e,
            "table `t` row 1 column `name`: null in a non-nullable column"
        );
        // Nulls fit any column, whatever kind of slots carry them.
        let mut b = batch();
        b.columns[2] = ColumnCells {
            valid: vec![false; 3],
            data: ColumnData::Int(vec![0; 3]),
        };
        b.check(&t).unwrap();
    }

    #[test]
    fn malformed_batches_are_refused() {
        let t = table();
        type Spoil = fn(&mut ColumnBatch);
        let cases: [(Spoil, &str); 5] = [
            (
                |b| b.columns[0].data = ColumnData::Int(vec![1]),
                "1 cells for 3 rows",
            ),
            (
                |b| b.columns[1].valid.pop().map(drop).unwrap(),
                "2 null flags",
            ),
            (
                |b| {
                    b.columns[1].data = ColumnData::Text(Blobs {
                        data: b"ab".to_vec(),
                        ends: vec![2, 1, 2],
                    })
                },
                "cell 1 ends at 1",
            ),
            (
                |b| {
                    b.columns[1].data = ColumnData::Text(Blobs {
                        data: vec![0xc3, 0xa9, b'x'],
                        ends: vec![1, 2, 3],
                    })
                },
                "cell 0 ends inside",
            ),
            (
                |b| {
                    b.columns[1].data = ColumnData::Text(Blobs {
                        data: vec![0xff, 1, 2],
                        ends: vec![1, 2, 3],
                    })
                },
                "not UTF-8",
            ),
        ];
        for (spoil, want) in cases {
            let mut b = batch();
            spoil(&mut b);
            let e = b.check(&t).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("column batch"), "{e}");
        }
        // Bytes need not be UTF-8.
        let mut b = batch();
        b.columns[2] = ColumnCells {
            valid: vec![],
            data: ColumnData::Bytes(Blobs {
                data: vec![0xff, 0, 1],
                ends: vec![1, 1, 3],
            }),
        };
        b.check(&t).unwrap();
        assert_eq!(b.into_rows()[2][2], Value::Bytes(vec![0, 1]));
    }
}
