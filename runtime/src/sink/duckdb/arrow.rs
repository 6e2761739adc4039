//! Pending rows turned into Arrow columns, so DuckDB's appender takes a whole
//! batch per data chunk instead of binding every value of every row.
//!
//! Every column is built with the exact physical type of its destination
//! column, so DuckDB copies vectors without casting. Anything that would need
//! DuckDB's own conversion (a value of another kind than its column, decimal
//! text outside the plain notation the contract promises, or a decimal that
//! does not fit) makes [`columns`] return `None`: the caller then appends that
//! batch row by row as before, so such values keep exactly today's semantics
//! and error messages.

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder, Date32Array,
    Date32Builder, Decimal128Array, Decimal128Builder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder, new_null_array,
};
use duckdb::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use duckdb::arrow::compute::concat as arrow_concat;
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;

use crate::columns::{Blobs, ColumnBatch, ColumnCells, ColumnData};
use crate::schema::{ColumnType, Row, Value};

const NULL: Value = Value::Null;

/// One row to append: a full row, or a key row (the key columns only, in key
/// order) widened with NULLs to the table's columns.
#[derive(Clone, Copy)]
pub(super) enum Cells<'a> {
    /// Every column, in the table's order.
    Full(&'a Row),
    /// Only the key columns, in the order of the table's key.
    Key(&'a Row),
}

/// The declared columns of `rows` as Arrow arrays typed like DuckDB columns of
/// `types` (JSON as VARCHAR, as it is staged), or `None` if some value needs
/// DuckDB's own conversion. `key` holds the indices of the key columns.
pub(super) fn columns(
    types: &[ColumnType],
    key: &[usize],
    rows: &[Cells],
) -> Option<Vec<ArrayRef>> {
    (types.iter().enumerate())
        .map(|(i, &ty)| {
            let at = key.iter().position(|&k| k == i);
            let cells = rows.iter().map(move |r| match *r {
                Cells::Full(row) => &row[i],
                Cells::Key(row) => at.map_or(&NULL, |j| &row[j]),
            });
            column(ty, rows.len(), cells)
        })
        .collect()
}

/// A checked column batch as Arrow arrays typed like DuckDB columns of
/// `types`, or `None` if some value needs DuckDB's own conversion (a decimal
/// outside plain notation or its precision, JSON). Fixed-width slots and bytes are
/// copied a buffer at a time; only decimals are parsed cell by cell.
pub(super) fn from_batch(types: &[ColumnType], batch: &ColumnBatch) -> Option<Vec<ArrayRef>> {
    (types.iter().zip(&batch.columns))
        .map(|(&ty, cells)| from_cells(ty, batch.rows, cells))
        .collect()
}

fn from_cells(ty: ColumnType, rows: usize, cells: &ColumnCells) -> Option<ArrayRef> {
    let nulls = (!cells.valid.is_empty()).then(|| NullBuffer::from(cells.valid.as_slice()));
    let offsets = |b: &Blobs| -> Option<OffsetBuffer<i32>> {
        i32::try_from(b.data.len()).ok()?;
        let ends = b.ends.iter().map(|&e| e as i32);
        Some(OffsetBuffer::new(std::iter::once(0).chain(ends).collect()))
    };
    let bytes = |b: &Blobs| Buffer::from(b.data.as_slice());
    Some(match &cells.data {
        ColumnData::Null => new_null_array(&arrow_type(ty), rows),
        ColumnData::Boolean(v) => {
            Arc::new(BooleanArray::new(BooleanBuffer::from(v.as_slice()), nulls))
        }
        ColumnData::Int(v) => Arc::new(Int64Array::new(ScalarBuffer::from(v.clone()), nulls)),
        ColumnData::Float(v) => Arc::new(Float64Array::new(ScalarBuffer::from(v.clone()), nulls)),
        ColumnData::Timestamp(v) => Arc::new(TimestampMicrosecondArray::new(
            ScalarBuffer::from(v.clone()),
            nulls,
        )),
        ColumnData::Date(v) => Arc::new(Date32Array::new(ScalarBuffer::from(v.clone()), nulls)),
        ColumnData::Text(b) => Arc::new(StringArray::try_new(offsets(b)?, bytes(b), nulls).ok()?),
        // JSON goes through DuckDB's validating cast (tables with a JSON column
        // are never appended directly).
        ColumnData::Json(_) => return None,
        ColumnData::Bytes(b) => Arc::new(BinaryArray::try_new(offsets(b)?, bytes(b), nulls).ok()?),
        ColumnData::Decimal(b) => {
            let ColumnType::Decimal { precision, scale } = ty else {
                return None;
            };
            let values = (0..rows)
                .map(|i| match cells.is_null(i) {
                    true => Some(0),
                    false => decimal(b.str(i), precision, scale),
                })
                .collect::<Option<Vec<i128>>>()?;
            let array = Decimal128Array::new(ScalarBuffer::from(values), nulls);
            Arc::new(
                array
                    .with_precision_and_scale(precision, scale as i8)
                    .ok()?,
            )
        }
    })
}

/// The Arrow type a DuckDB column of `ty` takes without a cast (JSON as text).
fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Text | ColumnType::Json => DataType::Utf8,
        ColumnType::Bytes => DataType::Binary,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Date => DataType::Date32,
        ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
    }
}

/// A record batch of `columns`, named by position (the appender matches
/// columns by position, not name).
pub(super) fn batch(columns: Vec<ArrayRef>) -> RecordBatch {
    let fields: Vec<Field> = (columns.iter().enumerate())
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("columns of equal length with nullable fields of their own types")
}

/// Batches of the same columns as one (copying each column's buffers once).
/// Fails only past Arrow's limits (2 GiB of text in a column).
pub(super) fn concat(mut batches: Vec<Vec<ArrayRef>>) -> Result<Vec<ArrayRef>, ArrowError> {
    if batches.len() == 1 {
        return Ok(batches.pop().expect("one batch"));
    }
    (0..batches[0].len())
        .map(|c| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b[c].as_ref()).collect();
            arrow_concat(&parts)
        })
        .collect()
}

/// A column of BOOLEAN flags (`None` for NULL).
pub(super) fn flags(flags: impl IntoIterator<Item = Option<bool>>) -> ArrayRef {
    Arc::new(flags.into_iter().collect::<BooleanArray>())
}

/// One column, or `None` if a value is not of the column's kind.
fn column<'a>(
    ty: ColumnType,
    len: usize,
    cells: impl Iterator<Item = &'a Value>,
) -> Option<ArrayRef> {
    // Each arm maps a cell to Some(Some(v)) for a value, Some(None) for NULL,
    // and None for a value of another kind.
    macro_rules! build {
        ($builder:expr, |$v:ident| $value:expr) => {{
            let mut b = $builder;
            for cell in cells {
                b.append_option(match cell {
                    Value::Null => None,
                    $v => Some($value?),
                });
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Some(match ty {
        ColumnType::Boolean => build!(BooleanBuilder::with_capacity(len), |v| match v {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }),
        ColumnType::Int => build!(Int64Builder::with_capacity(len), |v| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }),
        ColumnType::Float => build!(Float64Builder::with_capacity(len), |v| match v {
            Value::Float(f) => Some(*f),
            _ => None,
        }),
        ColumnType::Text => build!(StringBuilder::with_capacity(len, len * 16), |v| match v {
            Value::Text(s) => Some(s),
            _ => None,
        }),
        ColumnType::Json => build!(StringBuilder::with_capacity(len, len * 16), |v| match v {
            Value::Json(s) => Some(s),
            _ => None,
        }),
        ColumnType::Bytes => build!(BinaryBuilder::with_capacity(len, len * 16), |v| match v {
            Value::Bytes(b) => Some(b),
            _ => None,
        }),
        ColumnType::Timestamp => build!(TimestampMicrosecondBuilder::with_capacity(len), |v| {
            match v {
                Value::Timestamp(t) => Some(*t),
                _ => None,
            }
        }),
        ColumnType::Date => build!(Date32Builder::with_capacity(len), |v| match v {
            Value::Date(d) => Some(*d),
            _ => None,
        }),
        ColumnType::Decimal { precision, scale } => {
            let b = Decimal128Builder::with_capacity(len)
                .with_precision_and_scale(precision, scale as i8)
                .ok()?;
            build!(b, |v| match v {
                Value::Decimal(s) => decimal(s, precision, scale),
                _ => None,
            })
        }
    })
}

/// `text` as an unscaled DECIMAL(precision, scale) value, if it is in plain
/// notation (`-12.50`), fits the precision, and has no more significant
/// fractional digits than the scale (trailing zeros beyond it are dropped,
/// as DuckDB does). Anything else is left to DuckDB, which rounds or rejects.
fn decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || (digits.contains('.') && frac.is_empty()) {
        return None;
    }
    if !all_digits(frac) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    let scale = usize::from(scale);
    if frac.len() > scale || int.len() > usize::from(precision).saturating_sub(scale) {
        return None;
    }
    // At most 38 digits, which always fit an i128.
    let mut unscaled: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        unscaled = unscaled * 10 + i128::from(b - b'0');
    }
    unscaled *= 10_i128.pow((scale - frac.len()) as u32);
    Some(if negative { -unscaled } else { unscaled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_in_plain_notation_parse_exactly() {
        let d = |s| decimal(s, 5, 2);
        assert_eq!(d("-12.50"), Some(-1250));
        assert_eq!(d("12.5"), Some(1250));
        assert_eq!(d("0"), Some(0));
        assert_eq!(d("-0.00"), Some(0));
        assert_eq!(d("007.10000"), Some(710));
        assert_eq!(d("999.99"), Some(99999));
        assert_eq!(
            decimal("99999999999999999999999999999999999999", 38, 0),
            Some(10_i128.pow(38) - 1)
        );
        assert_eq!(
            decimal("-0.00000000000000000000000000000000000001", 38, 38),
            Some(-1)
        );
    }

    #[test]
    fn other_decimals_are_left_to_duckdb() {
        let d = |s| decimal(s, 5, 2);
        // Too large, or would need rounding.
        for s in ["1000.00", "1.005", "99999.9"] {
            assert_eq!(d(s), None, "{s}");
        }
        // Not plain notation.
        for s in [
            "", "-", ".5", "1.", "+1", " 1", "1e3", "1,5", "--1", "1.-5", "secret",
        ] {
            assert_eq!(d(s), None, "{s}");
        }
    }

    #[test]
    fn key_rows_widen_with_nulls_and_other_kinds_give_up() {
        let types = [ColumnType::Text, ColumnType::Int];
        let full = vec![Value::Text("a".into()), Value::Int(7)];
        let key = vec![Value::Int(8)];
        let cols = columns(&types, &[1], &[Cells::Full(&full), Cells::Key(&key)]).unwrap();
        let b = batch(cols);
        assert_eq!((b.num_rows(), b.column(0).null_count()), (2, 1));
        let bad = vec![Value::Int(1), Value::Int(7)];
        assert!(columns(&types, &[1], &[Cells::Full(&bad)]).is_none());
    }
}
