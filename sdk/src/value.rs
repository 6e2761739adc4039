//! Cell values and rows.

use crate::bindings::airlock::connector::types as wit;

/// One cell of a row. It must match its column's [`ColumnType`](crate::ColumnType),
/// or be [`Value::Null`] on a nullable column.
///
/// Build one with `From` (`Value::from(42)`, `"text".into()`, `None::<i64>.into()`
/// for null) or with the constructors for types Rust has no single type for:
/// [`Value::timestamp_micros`], [`Value::date_days`], [`Value::decimal`],
/// [`Value::json`], [`Value::json_text`]. The variants can also be written directly.
///
/// | variant | column type | payload |
/// | --- | --- | --- |
/// | `Null` | any nullable | |
/// | `Boolean` | `boolean` | `bool` |
/// | `Int` | `int` | `i64` |
/// | `Float` | `float` | `f64` |
/// | `Text` | `text` | `String` |
/// | `Bytes` | `bytes` | `Vec<u8>` |
/// | `Timestamp` | `timestamp` | microseconds since the Unix epoch, UTC |
/// | `Date` | `date` | days since the Unix epoch |
/// | `Decimal` | `decimal(p, s)` | plain notation, e.g. `"-1234.50"` |
/// | `Json` | `json` | JSON text |
pub use wit::Value;

/// A row: one [`Value`] per column, in the order of the table's columns (or of its
/// primary key, for [`Output::delete`](crate::Output::delete)). Build one with
/// [`row!`](crate::row).
pub type Row = Vec<Value>;

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar
/// (year 0 is 1 BC; negative years work), as [`Value::Date`] and, times
/// 86,400,000,000, [`Value::Timestamp`] count. Month 1..=12 and day 1..=31 are
/// not checked. Howard Hinnant's era-based `days_from_civil`.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Value {
    /// A `timestamp` cell: microseconds since 1970-01-01T00:00:00Z.
    pub fn timestamp_micros(micros: i64) -> Value {
        Value::Timestamp(micros)
    }

    /// A `date` cell: days since 1970-01-01.
    pub fn date_days(days: i32) -> Value {
        Value::Date(days)
    }

    /// A `decimal` cell in plain notation, e.g. `"-1234.50"` (no exponent). The host
    /// checks it against the column's precision and scale.
    pub fn decimal(plain: impl Into<String>) -> Value {
        Value::Decimal(plain.into())
    }

    /// A `json` cell holding this document.
    pub fn json(doc: &serde_json::Value) -> Value {
        Value::Json(doc.to_string())
    }

    /// A `json` cell from text that already is JSON (not checked here; the host may).
    pub fn json_text(text: impl Into<String>) -> Value {
        Value::Json(text.into())
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Roughly how many bytes this value takes in a host call: its fixed slot plus
    /// any text or bytes it carries. Used to size batches.
    pub(crate) fn payload_size(&self) -> usize {
        Cell::from(self).payload_size()
    }
}

/// One cell borrowed from the connector's own buffers, for
/// [`Output::upsert_cells`](crate::Output::upsert_cells): the same cases as
/// [`Value`], without an allocation per text or byte string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Null.
    Null,
    /// A `boolean` cell.
    Boolean(bool),
    /// An `int` cell.
    Int(i64),
    /// A `float` cell.
    Float(f64),
    /// A `text` cell.
    Text(&'a str),
    /// A `bytes` cell.
    Bytes(&'a [u8]),
    /// A `timestamp` cell: microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A `date` cell: days since the Unix epoch.
    Date(i32),
    /// A `decimal` cell in plain notation, e.g. `"-1234.50"`.
    Decimal(&'a str),
    /// A `json` cell: JSON text.
    Json(&'a str),
}

impl<'a> From<&'a Value> for Cell<'a> {
    fn from(v: &'a Value) -> Cell<'a> {
        match v {
            Value::Null => Cell::Null,
            Value::Boolean(b) => Cell::Boolean(*b),
            Value::Int(i) => Cell::Int(*i),
            Value::Float(f) => Cell::Float(*f),
            Value::Text(s) => Cell::Text(s),
            Value::Bytes(b) => Cell::Bytes(b),
            Value::Timestamp(t) => Cell::Timestamp(*t),
            Value::Date(d) => Cell::Date(*d),
            Value::Decimal(s) => Cell::Decimal(s),
            Value::Json(s) => Cell::Json(s),
        }
    }
}

impl From<Cell<'_>> for Value {
    fn from(c: Cell<'_>) -> Value {
        match c {
            Cell::Null => Value::Null,
            Cell::Boolean(b) => Value::Boolean(b),
            Cell::Int(i) => Value::Int(i),
            Cell::Float(f) => Value::Float(f),
            Cell::Text(s) => Value::Text(s.to_owned()),
            Cell::Bytes(b) => Value::Bytes(b.to_vec()),
            Cell::Timestamp(t) => Value::Timestamp(t),
            Cell::Date(d) => Value::Date(d),
            Cell::Decimal(s) => Value::Decimal(s.to_owned()),
            Cell::Json(s) => Value::Json(s.to_owned()),
        }
    }
}

impl Cell<'_> {
    /// Roughly how many bytes this cell takes in a host call (see [`Value`]'s).
    pub(crate) fn payload_size(&self) -> usize {
        const SLOT: usize = 16;
        SLOT + match self {
            Cell::Text(s) | Cell::Decimal(s) | Cell::Json(s) => s.len(),
            Cell::Bytes(b) => b.len(),
            _ => 0,
        }
    }
}

/// Values are equal when they are the same variant with equal payloads (floats
/// compare with `==`, so `NaN != NaN`).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Boolean(a), Boolean(b)) => a == b,
            (Int(a), Int(b)) | (Timestamp(a), Timestamp(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Text(a), Text(b)) | (Decimal(a), Decimal(b)) | (Json(a), Json(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            _ => false,
        }
    }
}

macro_rules! from_via {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($t), "` → [`Value::", stringify!($variant), "`].")]
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant($conv(v))
            }
        }
    )*};
}

from_via! {
    bool => Boolean(|v| v),
    i64 => Int(|v| v),
    i32 => Int(i64::from),
    i16 => Int(i64::from),
    i8 => Int(i64::from),
    u32 => Int(i64::from),
    u16 => Int(i64::from),
    u8 => Int(i64::from),
    f64 => Float(|v| v),
    f32 => Float(f64::from),
    String => Text(|v| v),
    &str => Text(|v: &str| v.to_owned()),
    &String => Text(|v: &String| v.clone()),
    Vec<u8> => Bytes(|v| v),
    &[u8] => Bytes(|v: &[u8]| v.to_vec()),
}

/// `None` → [`Value::Null`], `Some(v)` → `v`'s value.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        match v {
            Some(v) => v.into(),
            None => Value::Null,
        }
    }
}

/// Builds a [`Row`] from expressions that convert [`Into<Value>`](crate::Value):
/// `row![id, name, None::<String>, Value::timestamp_micros(t)]`.
#[macro_export]
macro_rules! row {
    ($($value:expr),* $(,)?) => {
        ::std::vec![$($crate::Value::from($value)),*]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let row: Row = row![
            1i64,
            2i32,
            3u32,
            true,
            1.5f64,
            "a",
            String::from("b"),
            None::<i64>,
            Some("c"),
            vec![1u8]
        ];
        assert_eq!(
            row,
            vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3),
                Value::Boolean(true),
                Value::Float(1.5),
                Value::Text("a".into()),
                Value::Text("b".into()),
                Value::Null,
                Value::Text("c".into()),
                Value::Bytes(vec![1]),
            ]
        );
        assert_eq!(Value::from(&[7u8][..]), Value::Bytes(vec![7]));
        assert_eq!(
            Value::json(&serde_json::json!({"a": 1})),
            Value::Json(r#"{"a":1}"#.into())
        );
        assert_eq!(Value::decimal("-1.50"), Value::Decimal("-1.50".into()));
        assert_eq!(Value::timestamp_micros(5), Value::Timestamp(5));
        assert_eq!(Value::date_days(-1), Value::Date(-1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_ne!(Value::Int(1), Value::Timestamp(1));
    }

    #[test]
    fn payload_size_counts_heap_bytes() {
        assert_eq!(Value::Int(1).payload_size(), 16);
        assert_eq!(Value::Text("abc".into()).payload_size(), 19);
    }
}
