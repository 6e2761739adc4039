//! Plain-Rust mirror of the contract's value and schema types.
//!
//! The sandbox converts the WIT types into these (moving strings and byte
//! buffers, never copying them), so destinations depend on neither wasmtime nor
//! the generated bindings.

use std::fmt;

/// The type of a destination column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `true`/`false`.
    Boolean,
    /// 64-bit signed integer.
    Int,
    /// 64-bit IEEE float.
    Float,
    /// UTF-8 text.
    Text,
    /// Raw bytes.
    Bytes,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// Days since the Unix epoch.
    Date,
    /// Exact decimal with precision (1..=38) and scale (<= precision).
    Decimal {
        /// Total number of digits.
        precision: u8,
        /// Digits after the decimal point.
        scale: u8,
    },
    /// A JSON document.
    Json,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Int => f.write_str("int"),
            ColumnType::Float => f.write_str("float"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::Bytes => f.write_str("bytes"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Json => f.write_str("json"),
        }
    }
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Boolean(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Days since the Unix epoch.
    Date(i32),
    /// Decimal in plain notation, e.g. `-12.50`.
    Decimal(String),
    /// JSON text.
    Json(String),
}

impl Value {
    /// The name of this value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Timestamp(_) => "timestamp",
            Value::Date(_) => "date",
            Value::Decimal(_) => "decimal",
            Value::Json(_) => "json",
        }
    }

    /// Whether this value may be stored in a column of type `ty`.
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _)
                | (Value::Boolean(_), ColumnType::Boolean)
                | (Value::Int(_), ColumnType::Int)
                | (Value::Float(_), ColumnType::Float)
                | (Value::Text(_), ColumnType::Text)
                | (Value::Bytes(_), ColumnType::Bytes)
                | (Value::Timestamp(_), ColumnType::Timestamp)
                | (Value::Date(_), ColumnType::Date)
                | (Value::Decimal(_), ColumnType::Decimal { .. })
                | (Value::Json(_), ColumnType::Json)
        )
    }
}

/// A row: one value per column, in the table's column order.
pub type Row = Vec<Value>;

/// Bytes `rows` occupy in the host: the cells plus the text and bytes they own.
pub fn rows_bytes(rows: &[Row]) -> u64 {
    let cell = std::mem::size_of::<Value>() as u64;
    rows.iter()
        .flatten()
        .map(|v| {
            cell + match v {
                Value::Text(s) | Value::Decimal(s) | Value::Json(s) => s.len() as u64,
                Value::Bytes(b) => b.len() as u64,
                _ => 0,
            }
        })
        .sum()
}

/// What breaks the contract in a table declaration, row, key or column batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaErrorKind {
    /// The table's declaration is unusable (see [`TableSchema::validate`]).
    Declaration,
    /// A row or key does not match its table: arity, type or null.
    Mismatch,
    /// A delete on a table that has no primary key.
    NoPrimaryKey,
    /// A column batch that is not well formed: a bug in the connector or its SDK.
    Malformed,
}

/// A table declaration, row, key or column batch that breaks the contract.
/// `message` is what the connector's author reads: it names the table (and
/// the row and column) and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    /// What is wrong.
    pub kind: SchemaErrorKind,
    /// The table's name as declared (empty if it has none).
    pub table: String,
    /// The message for the user.
    pub message: String,
}

impl SchemaError {
    /// An error of `kind` about `table`.
    pub fn new(kind: SchemaErrorKind, table: &str, message: String) -> SchemaError {
        SchemaError {
            kind,
            table: table.to_owned(),
            message,
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name as the connector declared it.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether `null` is allowed.
    pub nullable: bool,
}

/// A table the connector writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// Columns in row order.
    pub columns: Vec<Column>,
    /// Names of the primary-key columns; empty for an append-only table.
    pub primary_key: Vec<String>,
}

impl TableSchema {
    /// Positions of the primary-key columns within `columns`.
    ///
    /// Only valid on a schema that passed [`TableSchema::validate`].
    pub fn key_indices(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .collect()
    }

    /// Checks the schema is usable: a name, unique non-empty column names,
    /// primary-key columns that exist and are not nullable, sane decimals, and
    /// no column named like airlock's own bookkeeping columns.
    pub fn validate(&self) -> Result<(), SchemaError> {
        let table = &self.name;
        let bad = |message: String| {
            Err(SchemaError::new(
                SchemaErrorKind::Declaration,
                table,
                message,
            ))
        };
        if table.is_empty() {
            return bad("a table has an empty name".into());
        }
        if table.starts_with("_airlock") {
            return bad(format!(
                "table `{table}`: names starting with `_airlock` are reserved"
            ));
        }
        if self.columns.is_empty() {
            return bad(format!("table `{table}` has no columns"));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() {
                return bad(format!("table `{table}`: column {i} has an empty name"));
            }
            if c.name.starts_with("_airlock") {
                return bad(format!(
                    "table `{table}`: column `{}`: names starting with `_airlock` are reserved",
                    c.name
                ));
            }
            if self.columns[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&c.name))
            {
                return bad(format!(
                    "table `{table}`: column `{}` is declared twice",
                    c.name
                ));
            }
            if let ColumnType::Decimal { precision, scale } = c.ty
                && (!(1..=38).contains(&precision) || scale > precision)
            {
                return bad(format!(
                    "table `{table}`: column `{}`: decimal({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision",
                    c.name
                ));
            }
        }
        for k in &self.primary_key {
            match self.columns.iter().find(|c| &c.name == k) {
                None => {
                    return bad(format!(
                        "table `{table}`: primary key names `{k}`, which is not a column"
                    ));
                }
                Some(c) if c.nullable => {
                    return bad(format!(
                        "table `{table}`: primary-key column `{k}` must not be nullable"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks that `row` matches this table: arity, types and nullability.
    /// `index` is the row's position in its batch, for the message.
    pub fn check_row(&self, row: &Row, index: usize) -> Result<(), SchemaError> {
        check_values(&self.name, self.columns.iter(), row, index)
    }

    /// Checks that `key` holds exactly the primary-key values, in order.
    pub fn check_key(&self, key: &Row, index: usize) -> Result<(), SchemaError> {
        if self.primary_key.is_empty() {
            return Err(SchemaError::new(
                SchemaErrorKind::NoPrimaryKey,
                &self.name,
                format!(
                    "table `{}` has no primary key, so rows cannot be deleted",
                    self.name
                ),
            ));
        }
        let cols = self.key_indices().into_iter().map(|i| &self.columns[i]);
        check_values(&self.name, cols, key, index)
    }
}

fn check_values<'a>(
    table: &str,
    columns: impl ExactSizeIterator<Item = &'a Column>,
    row: &Row,
    index: usize,
) -> Result<(), SchemaError> {
    let mismatch =
        |message: String| Err(SchemaError::new(SchemaErrorKind::Mismatch, table, message));
    if columns.len() != row.len() {
        return mismatch(format!(
            "table `{table}` row {index}: expected {} values, got {}",
            columns.len(),
            row.len()
        ));
    }
    for (c, v) in columns.zip(row) {
        if matches!(v, Value::Null) && !c.nullable {
            return mismatch(format!(
                "table `{table}` row {index} column `{}`: null in a non-nullable column",
                c.name
            ));
        }
        if !v.fits(c.ty) {
            return mismatch(format!(
                "table `{table}` row {index} column `{}`: expected {}, got {}",
                c.name,
                c.ty,
                v.kind()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> TableSchema {
        TableSchema {
            name: "users".into(),
            columns: vec![
                Column {
                    name: "id".into(),
                    ty: ColumnType::Int,
                    nullable: false,
                },
                Column {
                    name: "email".into(),
                    ty: ColumnType::Text,
                    nullable: true,
                },
            ],
            primary_key: vec!["id".into()],
        }
    }

    #[test]
    fn valid_rows_pass_and_bad_rows_name_the_column() {
        let t = users();
        t.validate().unwrap();
        t.check_row(&vec![Value::Int(1), Value::Null], 0).unwrap();
        let e = t
            .check_row(&vec![Value::Text("x".into()), Value::Null], 3)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "table `users` row 3 column `id`: expected int, got text");
        let e = (t.check_row(&vec![Value::Null, Value::Null], 0).unwrap_err()).to_string();
        assert!(e.contains("null in a non-nullable column"), "{e}");
        let e = t
            .check_row(&vec![Value::Int(1)], 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected 2 values, got 1"), "{e}");
    }

    #[test]
    fn keys_are_checked_against_the_primary_key() {
        let t = users();
        t.check_key(&vec![Value::Int(7)], 0).unwrap();
        assert!(t.check_key(&vec![Value::Int(7), Value::Null], 0).is_err());
        let mut log = users();
        log.primary_key.clear();
        assert!(
            log.check_key(&vec![Value::Int(7)], 0)
                .unwrap_err()
                .to_string()
                .contains("no primary key")
        );
    }

    #[test]
    fn schema_validation_catches_mistakes() {
        let mut t = users();
        t.primary_key = vec!["nope".into()];
        assert!(
            t.validate()
                .unwrap_err()
                .to_string()
                .contains("`nope`, which is not a column")
        );
        let mut t = users();
        t.columns[0].nullable = true;
        assert!(
            t.validate()
                .unwrap_err()
                .to_string()
                .contains("must not be nullable")
        );
        let mut t = users();
        t.columns[1].name = "ID".into();
        assert!(
            t.validate()
                .unwrap_err()
                .to_string()
                .contains("declared twice")
        );
        let mut t = users();
        t.columns[1].ty = ColumnType::Decimal {
            precision: 40,
            scale: 2,
        };
        assert!(
            t.validate()
                .unwrap_err()
                .to_string()
                .contains("decimal(40,2)")
        );
        let mut t = users();
        t.columns[1].name = "_airlock_deleted".into();
        assert!(t.validate().unwrap_err().to_string().contains("reserved"));
    }
}
