//! The `customers` table: its schema and the row for one API record.

use airlock_sdk::{ColumnType, Error, Result, Row, Table, Value, row};

use crate::api::{Amount, ApiCustomer};
use crate::time::parse_rfc3339;

/// The destination table.
pub const TABLE: &str = "customers";

/// Digits after the point in `amount` (and its column's scale).
const AMOUNT_SCALE: u8 = 2;
/// Total digits of `amount` (and its column's precision).
const AMOUNT_PRECISION: u8 = 18;

/// `customers`, keyed by `id`.
pub fn table() -> Table {
    Table::new(TABLE)
        .column("id", ColumnType::Int)
        .nullable("name", ColumnType::Text)
        .nullable("email", ColumnType::Text)
        .nullable("plan", ColumnType::Text)
        .nullable(
            "amount",
            ColumnType::decimal(AMOUNT_PRECISION, AMOUNT_SCALE),
        )
        .column("updated_at", ColumnType::Timestamp)
        .primary_key(["id"])
}

/// A parsed record: its cursor position and its row.
pub struct Record {
    pub updated_at: i64,
    pub id: i64,
    pub row: Row,
}

/// Checks and converts one API record; a value the table cannot hold is a
/// `source` error naming the customer.
pub fn record(c: ApiCustomer) -> Result<Record> {
    let id = c.id;
    let updated_at = parse_rfc3339(&c.updated_at).ok_or_else(|| {
        Error::source(format!(
            "customer {id}: `updated_at` `{}` is not an RFC 3339 timestamp",
            c.updated_at
        ))
    })?;
    let amount = match c.amount {
        None => Value::Null,
        Some(a) => {
            let text = match a {
                Amount::Text(t) => t,
                Amount::Number(n) => n.to_string(),
            };
            if !fits_decimal(&text) {
                return Err(Error::source(format!(
                    "customer {id}: `amount` `{text}` is not a decimal with at most \
                     {AMOUNT_SCALE} places and {AMOUNT_PRECISION} digits"
                )));
            }
            Value::decimal(text)
        }
    };
    let row = row![
        id,
        c.name,
        c.email,
        c.plan,
        amount,
        Value::timestamp_micros(updated_at)
    ];
    Ok(Record {
        updated_at,
        id,
        row,
    })
}

/// Whether `s` is plain decimal notation (`-12.34`, `7`) that fits the column.
fn fits_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    !int.is_empty()
        && all_digits(int)
        && all_digits(frac)
        && !(digits.contains('.') && frac.is_empty())
        && frac.len() <= usize::from(AMOUNT_SCALE)
        && int.len() + usize::from(AMOUNT_SCALE) <= usize::from(AMOUNT_PRECISION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(amount: Option<Amount>, updated_at: &str) -> ApiCustomer {
        ApiCustomer {
            id: 7,
            name: Some("A".into()),
            email: None,
            plan: Some("pro".into()),
            amount,
            updated_at: updated_at.into(),
        }
    }

    #[test]
    fn converts_a_record() {
        let r = record(customer(
            Some(Amount::Text("12.30".into())),
            "2026-01-01T00:00:01Z",
        ))
        .unwrap();
        assert_eq!((r.id, r.updated_at), (7, 1_767_225_601_000_000));
        assert_eq!(
            r.row,
            row![
                7i64,
                "A",
                None::<String>,
                "pro",
                Value::decimal("12.30"),
                Value::timestamp_micros(1_767_225_601_000_000)
            ]
        );
        assert_eq!(r.row.len(), 6, "one value per column of `table()`");
    }

    #[test]
    fn refuses_values_the_table_cannot_hold() {
        let bad_time = record(customer(None, "yesterday")).err().unwrap();
        assert!(bad_time.message.contains("customer 7"), "{bad_time}");
        for amount in ["1.234", "1e3", "", ".5", "5.", "--1", "1234567890123456789"] {
            let e = record(customer(
                Some(Amount::Text(amount.into())),
                "2026-01-01T00:00:00Z",
            ));
            assert!(e.is_err(), "{amount}");
        }
        for amount in ["0", "-1.5", "1234567890123456.99"] {
            let ok = record(customer(
                Some(Amount::Text(amount.into())),
                "2026-01-01T00:00:00Z",
            ));
            assert!(ok.is_ok(), "{amount}");
        }
    }
}
