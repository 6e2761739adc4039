//! Values as DuckDB takes them through its appender and statement
//! parameters, borrowed rather than copied, and the time rows are written at.

use std::time::{SystemTime, UNIX_EPOCH};

use duckdb::ToSql;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};

use crate::schema::Value;

/// Borrows a [`Value`] as a DuckDB value without copying strings or bytes
/// (for DuckDB's appender and statement parameters).
pub struct Cell<'a>(pub &'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Int(i) => ValueRef::BigInt(*i),
            Value::Float(f) => ValueRef::Double(*f),
            // The appender casts text to DECIMAL and throws on bad input; JSON
            // is staged as VARCHAR and cast during the merge, which validates it.
            Value::Text(s) | Value::Decimal(s) | Value::Json(s) => ValueRef::Text(s.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
            Value::Timestamp(t) => ValueRef::Timestamp(TimeUnit::Microsecond, *t),
            Value::Date(d) => ValueRef::Date32(*d),
        }))
    }
}

pub(super) const NULL: Value = Value::Null;
pub(super) const TRUE: Value = Value::Boolean(true);
pub(super) const FALSE: Value = Value::Boolean(false);

/// The current time in microseconds since the Unix epoch.
pub(super) fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_micros() as i64
}
