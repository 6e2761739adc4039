//! Table schemas, as [`Connector::discover`](crate::Connector::discover) returns them.

use crate::bindings::airlock::connector::types as wit;

/// The type of a column: `Boolean`, `Int` (i64), `Float` (f64), `Text`, `Bytes`,
/// `Timestamp` (µs since the epoch, UTC), `Date` (days since the epoch),
/// `Decimal(DecimalSpec)` (see [`ColumnType::decimal`]) or `Json`.
pub use wit::ColumnType;

/// Precision (1..=38 digits in all) and scale (digits after the point) of a
/// [`ColumnType::Decimal`] column.
pub use wit::DecimalSpec;

impl ColumnType {
    /// An exact decimal column with `precision` digits in all (1..=38), `scale` of
    /// them after the point: `ColumnType::decimal(12, 2)` holds `-9999999999.99` to
    /// `9999999999.99`.
    pub fn decimal(precision: u8, scale: u8) -> ColumnType {
        ColumnType::Decimal(DecimalSpec { precision, scale })
    }
}

/// A table the connector writes: its name, columns in row order and primary key.
///
/// ```ignore
/// Table::new("users")
///     .column("id", ColumnType::Int)
///     .nullable("email", ColumnType::Text)
///     .primary_key(["id"])
/// ```
///
/// A table without a primary key is append-only: upserts insert and deletes are
/// refused by the host.
#[derive(Clone, Debug)]
pub struct Table {
    name: String,
    columns: Vec<wit::Column>,
    primary_key: Vec<String>,
}

impl Table {
    /// A table with no columns yet.
    pub fn new(name: impl Into<String>) -> Table {
        Table {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
        }
    }

    /// Adds a column that never holds null.
    pub fn column(self, name: impl Into<String>, ty: ColumnType) -> Table {
        self.push(name.into(), ty, false)
    }

    /// Adds a column that may hold [`Value::Null`](crate::Value::Null).
    pub fn nullable(self, name: impl Into<String>, ty: ColumnType) -> Table {
        self.push(name.into(), ty, true)
    }

    /// Sets the primary key: column names, in the order keys given to
    /// [`Output::delete`](crate::Output::delete) list their values.
    pub fn primary_key<I>(mut self, columns: I) -> Table
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn push(mut self, name: String, ty: ColumnType, nullable: bool) -> Table {
        self.columns.push(wit::Column {
            name,
            type_: ty,
            nullable,
        });
        self
    }
}

impl From<Table> for wit::TableSchema {
    fn from(t: Table) -> Self {
        wit::TableSchema {
            name: t.name,
            columns: t.columns,
            primary_key: t.primary_key,
        }
    }
}
