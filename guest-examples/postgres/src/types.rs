//! PostgreSQL column types → airlock column types, and the text-format values
//! of each turned into [`Cell`]s.
//!
//! Rows come in PostgreSQL's text format with the session settings the sync
//! pins (`DateStyle = ISO`, `TimeZone = UTC`, `extra_float_digits = 3`,
//! `bytea_output = hex`), so every value has one spelling to parse. Parsing
//! works on the raw bytes of the `DataRow` and allocates nothing: text,
//! decimals and JSON are borrowed from it. Only `bytea`, and text that is not
//! UTF-8, need bytes of their own ([`parse`]).

use airlock_sdk::{Cell, ColumnType, Value, days_from_civil};

/// Built-in type OIDs (fixed in `pg_type.dat`, the same on every server).
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// How one column's text values are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `bool`: `t` / `f`.
    Bool,
    /// `int2`, `int4`, `int8`, `oid`.
    Int,
    /// `float4`, `float8`, including `NaN` and `±Infinity`.
    Float,
    /// `numeric(p, s)` that fits a decimal column.
    Decimal,
    /// Text-like types, unconstrained `numeric`, `uuid`, and anything synced as text.
    Text,
    /// `bytea`, hex output.
    Bytes,
    /// `timestamp` and `timestamptz` (UTC in this session).
    Timestamp,
    /// `date`.
    Date,
    /// `json`, `jsonb`.
    Json,
}

/// What a PostgreSQL column becomes.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    /// The destination column type.
    pub column: ColumnType,
    /// How its values are parsed.
    pub kind: Kind,
    /// Whether the column falls back to text for want of a better type (worth
    /// a note to the user); enums, `uuid` and unconstrained `numeric` are text
    /// by design and get none.
    pub fallback: bool,
}

impl Mapping {
    const fn new(column: ColumnType, kind: Kind) -> Mapping {
        Mapping {
            column,
            kind,
            fallback: false,
        }
    }
}

/// Maps a column by its type (a domain's base type), the type's `typmod`
/// (`atttypmod`, -1 when none) and whether the type is an enum.
pub fn map_type(type_oid: u32, typmod: i32, is_enum: bool) -> Mapping {
    use ColumnType as C;
    match type_oid {
        oid::BOOL => Mapping::new(C::Boolean, Kind::Bool),
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => Mapping::new(C::Int, Kind::Int),
        oid::FLOAT4 | oid::FLOAT8 => Mapping::new(C::Float, Kind::Float),
        oid::NUMERIC => match numeric_spec(typmod) {
            Some((p, s)) => Mapping::new(C::decimal(p, s), Kind::Decimal),
            // Unconstrained (or wider than 38 digits): text keeps every digit
            // exactly, which no fixed decimal column can.
            None => Mapping::new(C::Text, Kind::Text),
        },
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::CHAR | oid::NAME | oid::UUID => {
            Mapping::new(C::Text, Kind::Text)
        }
        oid::BYTEA => Mapping::new(C::Bytes, Kind::Bytes),
        oid::TIMESTAMP | oid::TIMESTAMPTZ => Mapping::new(C::Timestamp, Kind::Timestamp),
        oid::DATE => Mapping::new(C::Date, Kind::Date),
        oid::JSON | oid::JSONB => Mapping::new(C::Json, Kind::Json),
        _ if is_enum => Mapping::new(C::Text, Kind::Text),
        _ => Mapping {
            fallback: true,
            ..Mapping::new(C::Text, Kind::Text)
        },
    }
}

/// The destination `(precision, scale)` for a `numeric` typmod, if it has one
/// that fits 38 digits. PostgreSQL 15+ allows a negative scale (`numeric(3,-2)`
/// holds 12300) and a scale above the precision (`numeric(2,4)` holds 0.0012):
/// both are widened to the plain decimal that holds every value.
pub fn numeric_spec(typmod: i32) -> Option<(u8, u8)> {
    if typmod < 4 {
        return None;
    }
    let packed = typmod - 4;
    let precision = (packed >> 16) & 0xffff;
    // The scale is an 11-bit signed field.
    let scale = ((packed & 0x7ff) ^ 0x400) - 0x400;
    let int_digits = (precision - scale).max(0);
    let scale = scale.max(0);
    let total = int_digits + scale;
    (1..=38)
        .contains(&total)
        .then_some((total as u8, scale as u8))
}

/// Why a value could not become its column's type.
#[derive(Debug, PartialEq, Eq)]
pub enum BadValue {
    /// A value the column type cannot hold (`infinity`, numeric `NaN`): stored
    /// as null, with one note per column.
    Unrepresentable,
    /// Text PostgreSQL should never send for the type: a bug or a session
    /// setting that was not applied.
    Malformed,
}

/// One text-format value of a column of `kind` as a cell borrowing `raw`, or
/// `None` if it needs its own bytes: a `bytea` (hex-decoded) or text that is
/// not UTF-8 (see [`parse`]).
pub fn cell(kind: Kind, raw: &[u8]) -> Result<Option<Cell<'_>>, BadValue> {
    Ok(Some(match kind {
        Kind::Bool => match raw {
            b"t" => Cell::Boolean(true),
            b"f" => Cell::Boolean(false),
            _ => return Err(BadValue::Malformed),
        },
        Kind::Int => Cell::Int(parse_int(raw).ok_or(BadValue::Malformed)?),
        Kind::Float => Cell::Float(
            ascii(raw)?
                .parse::<f64>()
                .map_err(|_| BadValue::Malformed)?,
        ),
        Kind::Decimal => {
            let s = ascii(raw)?;
            // numeric's NaN and (PostgreSQL 14+) ±Infinity have no decimal form.
            if !s
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            {
                return Err(BadValue::Unrepresentable);
            }
            Cell::Decimal(s)
        }
        // `from_utf8` checks a word at a time; the lossy decoder goes byte by
        // byte, which in wasm costs more than the rest of the row.
        Kind::Text => match std::str::from_utf8(raw) {
            Ok(s) => Cell::Text(s),
            Err(_) => return Ok(None),
        },
        Kind::Json => match std::str::from_utf8(raw) {
            Ok(s) => Cell::Json(s),
            Err(_) => return Ok(None),
        },
        Kind::Bytes => return Ok(None),
        Kind::Timestamp => Cell::Timestamp(parse_timestamp(raw)?),
        Kind::Date => Cell::Date(parse_date(raw)?),
    }))
}

/// Parses one text-format value of a column of `kind` as a value of its own,
/// also those [`cell`] cannot borrow. The session asks for UTF-8, so text that
/// is not UTF-8 only comes from a `SQL_ASCII` database, which sends its bytes
/// unconverted: they are replaced rather than failing the sync.
pub fn parse(kind: Kind, raw: &[u8]) -> Result<Value, BadValue> {
    if let Some(cell) = cell(kind, raw)? {
        return Ok(cell.into());
    }
    let text = || String::from_utf8_lossy(raw).into_owned();
    Ok(match kind {
        Kind::Bytes => Value::Bytes(parse_bytea(raw).ok_or(BadValue::Malformed)?),
        Kind::Json => Value::Json(text()),
        _ => Value::Text(text()),
    })
}

fn ascii(raw: &[u8]) -> Result<&str, BadValue> {
    std::str::from_utf8(raw).map_err(|_| BadValue::Malformed)
}

/// A decimal integer, optionally signed, with overflow checked.
pub fn parse_int(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, raw),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so i64::MIN parses. Up to 18 digits cannot
    // overflow, and skip the checks (in wasm32 a checked i64 multiply is a
    // 128-bit library call).
    let mut n: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = match digits.len() <= 18 {
            true => n * 10 - i64::from(d),
            false => n.checked_mul(10)?.checked_sub(i64::from(d))?,
        };
    }
    if negative { Some(n) } else { n.checked_neg() }
}

/// `bytea` in hex output: `\x` then two hex digits per byte.
pub fn parse_bytea(raw: &[u8]) -> Option<Vec<u8>> {
    let hex = raw.strip_prefix(b"\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks_exact(2) {
        out.push((nibble(pair[0])? << 4) | nibble(pair[1])?);
    }
    Some(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// A `date` in ISO output (`2024-02-29`, `0044-03-15 BC`) as days since
/// 1970-01-01. `infinity` and `-infinity` have no day number.
pub fn parse_date(raw: &[u8]) -> Result<i32, BadValue> {
    let (body, bc) = strip_bc(raw);
    if is_infinity(body) {
        return Err(BadValue::Unrepresentable);
    }
    let mut p = Cursor(body);
    let days = p.date(bc).ok_or(BadValue::Malformed)?;
    if !p.0.is_empty() {
        return Err(BadValue::Malformed);
    }
    i32::try_from(days).map_err(|_| BadValue::Unrepresentable)
}

/// A `timestamp` or `timestamptz` in ISO output (`2024-02-29 13:45:00.123456`,
/// with `+00`-style offset for `timestamptz`, ` BC` for years before 1) as
/// microseconds since 1970-01-01 UTC.
pub fn parse_timestamp(raw: &[u8]) -> Result<i64, BadValue> {
    let (body, bc) = strip_bc(raw);
    if is_infinity(body) {
        return Err(BadValue::Unrepresentable);
    }
    let mut p = Cursor(body);
    let micros = (|| {
        let days = p.date(bc)?;
        p.expect(b' ')?;
        let h = p.digits(2)?;
        p.expect(b':')?;
        let m = p.digits(2)?;
        p.expect(b':')?;
        let s = p.digits(2)?;
        let mut frac = 0;
        if p.eat(b'.') {
            let start = p.0.len();
            frac = p.number()?;
            let n = start - p.0.len();
            if n == 0 || n > 6 {
                return None;
            }
            frac *= 10i64.pow(6 - n as u32);
        }
        // timestamptz: the offset from UTC (`+05:30`, `-08`, `+00:00:30` for LMT).
        let mut offset = 0;
        if let Some(&sign @ (b'+' | b'-')) = p.0.first() {
            p.0 = &p.0[1..];
            let mut secs = p.digits(2)? * 3600;
            if p.eat(b':') {
                secs += p.digits(2)? * 60;
                if p.eat(b':') {
                    secs += p.digits(2)?;
                }
            }
            offset = if sign == b'+' { secs } else { -secs };
        }
        if !p.0.is_empty() {
            return None;
        }
        let secs = days * SECONDS_PER_DAY + h * 3600 + m * 60 + s - offset;
        secs.checked_mul(MICROS_PER_SECOND)?.checked_add(frac)
    })();
    micros.ok_or(BadValue::Malformed)
}

fn strip_bc(raw: &[u8]) -> (&[u8], bool) {
    match raw.strip_suffix(b" BC") {
        Some(body) => (body, true),
        None => (raw, false),
    }
}

fn is_infinity(raw: &[u8]) -> bool {
    raw == b"infinity" || raw == b"-infinity"
}

/// A tiny parser over the bytes still to read.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn eat(&mut self, b: u8) -> bool {
        if self.0.first() == Some(&b) {
            self.0 = &self.0[1..];
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let (head, rest) = self.0.split_at_checked(n)?;
        let mut v = 0;
        for &b in head {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        self.0 = rest;
        Some(v)
    }

    /// One or more digits (at most 9, enough for any year or fraction).
    fn number(&mut self) -> Option<i64> {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        self.digits(n)
    }

    /// `YYYY-MM-DD` (a year of four or more digits) as days since 1970-01-01;
    /// `bc` years count back from 1 BC, which is astronomical year 0.
    fn date(&mut self, bc: bool) -> Option<i64> {
        let year = self.number()?;
        self.expect(b'-')?;
        let month = self.digits(2)?;
        self.expect(b'-')?;
        let day = self.digits(2)?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let year = if bc { 1 - year } else { year };
        Some(days_from_civil(year, month, day))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: Kind, raw: &str) -> Result<Value, BadValue> {
        parse(kind, raw.as_bytes())
    }

    /// `ColumnType` has no `PartialEq`; its debug text is exact enough.
    fn ty(m: Mapping) -> String {
        format!("{:?}", m.column)
    }

    #[test]
    fn types_map() {
        let m = |oid, typmod| map_type(oid, typmod, false);
        let int = format!("{:?}", ColumnType::Int);
        let text = format!("{:?}", ColumnType::Text);
        assert_eq!(ty(m(oid::INT2, -1)), int);
        assert_eq!(ty(m(oid::INT4, -1)), int);
        assert_eq!(ty(m(oid::INT8, -1)), int);
        assert_eq!(ty(m(oid::OID, -1)), int);
        assert_eq!(m(oid::INT8, -1).kind, Kind::Int);
        assert_eq!(ty(m(oid::FLOAT4, -1)), format!("{:?}", ColumnType::Float));
        assert_eq!(ty(m(oid::BOOL, -1)), format!("{:?}", ColumnType::Boolean));
        for t in [
            oid::TEXT,
            oid::VARCHAR,
            oid::BPCHAR,
            oid::CHAR,
            oid::NAME,
            oid::UUID,
        ] {
            assert_eq!(
                (ty(m(t, -1)), m(t, -1).kind, m(t, -1).fallback),
                (text.clone(), Kind::Text, false)
            );
        }
        assert_eq!(ty(m(oid::BYTEA, -1)), format!("{:?}", ColumnType::Bytes));
        assert_eq!(
            ty(m(oid::TIMESTAMP, -1)),
            format!("{:?}", ColumnType::Timestamp)
        );
        assert_eq!(
            ty(m(oid::TIMESTAMPTZ, -1)),
            format!("{:?}", ColumnType::Timestamp)
        );
        assert_eq!(ty(m(oid::DATE, -1)), format!("{:?}", ColumnType::Date));
        assert_eq!(ty(m(oid::JSON, -1)), format!("{:?}", ColumnType::Json));
        assert_eq!(m(oid::JSONB, -1).kind, Kind::Json);
        // numeric(12,2): typmod = (12 << 16 | 2) + 4.
        let n = m(oid::NUMERIC, (12 << 16 | 2) + 4);
        assert_eq!(
            (ty(n), n.kind),
            (format!("{:?}", ColumnType::decimal(12, 2)), Kind::Decimal)
        );
        let n = m(oid::NUMERIC, -1);
        assert_eq!(
            (ty(n), n.kind, n.fallback),
            (text.clone(), Kind::Text, false)
        );
        // interval, inet, arrays, ...: text, with a note; enums: text, no note.
        let interval = m(1186, -1);
        assert_eq!((ty(interval), interval.fallback), (text, true));
        assert!(!map_type(99_999, -1, true).fallback);
    }

    #[test]
    fn numeric_typmods() {
        let t = |p: i32, s: i32| ((p << 16) | (s & 0x7ff)) + 4;
        assert_eq!(numeric_spec(-1), None);
        assert_eq!(numeric_spec(t(10, 0)), Some((10, 0)));
        assert_eq!(numeric_spec(t(38, 10)), Some((38, 10)));
        assert_eq!(numeric_spec(t(39, 2)), None);
        assert_eq!(numeric_spec(t(3, -2)), Some((5, 0)));
        assert_eq!(numeric_spec(t(2, 4)), Some((4, 4)));
    }

    #[test]
    fn scalars() {
        assert_eq!(p(Kind::Bool, "t"), Ok(Value::Boolean(true)));
        assert_eq!(p(Kind::Bool, "f"), Ok(Value::Boolean(false)));
        assert_eq!(p(Kind::Bool, "true"), Err(BadValue::Malformed));
        assert_eq!(p(Kind::Int, "-42"), Ok(Value::Int(-42)));
        assert_eq!(
            p(Kind::Int, "9223372036854775807"),
            Ok(Value::Int(i64::MAX))
        );
        assert_eq!(
            p(Kind::Int, "-9223372036854775808"),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(
            p(Kind::Int, "9223372036854775808"),
            Err(BadValue::Malformed)
        );
        assert_eq!(p(Kind::Int, "-"), Err(BadValue::Malformed));
        assert_eq!(p(Kind::Float, "1.5e-300"), Ok(Value::Float(1.5e-300)));
        assert_eq!(
            p(Kind::Float, "0.30000000000000004"),
            Ok(Value::Float(0.1 + 0.2))
        );
        assert_eq!(p(Kind::Float, "Infinity"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(
            p(Kind::Float, "-Infinity"),
            Ok(Value::Float(f64::NEG_INFINITY))
        );
        assert!(matches!(p(Kind::Float, "NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert_eq!(
            p(Kind::Decimal, "-1234.50"),
            Ok(Value::Decimal("-1234.50".into()))
        );
        assert_eq!(p(Kind::Decimal, "NaN"), Err(BadValue::Unrepresentable));
        assert_eq!(p(Kind::Decimal, "Infinity"), Err(BadValue::Unrepresentable));
        assert_eq!(p(Kind::Text, "héllo"), Ok(Value::Text("héllo".into())));
        assert_eq!(
            parse(Kind::Text, b"a\xffb"),
            Ok(Value::Text("a\u{fffd}b".into()))
        );
        assert_eq!(
            p(Kind::Json, r#"{"a": [1, 2]}"#),
            Ok(Value::Json(r#"{"a": [1, 2]}"#.into()))
        );
    }

    #[test]
    fn bytea_hex() {
        assert_eq!(p(Kind::Bytes, "\\x"), Ok(Value::Bytes(vec![])));
        assert_eq!(
            p(Kind::Bytes, "\\x00fFa1"),
            Ok(Value::Bytes(vec![0, 0xff, 0xa1]))
        );
        assert_eq!(p(Kind::Bytes, "\\x0"), Err(BadValue::Malformed));
        assert_eq!(p(Kind::Bytes, "\\xzz"), Err(BadValue::Malformed));
        // The escape format (bytea_output = escape) is not what the session asks for.
        assert_eq!(p(Kind::Bytes, "abc"), Err(BadValue::Malformed));
    }

    #[test]
    fn dates() {
        assert_eq!(p(Kind::Date, "1970-01-01"), Ok(Value::Date(0)));
        assert_eq!(p(Kind::Date, "2024-02-29"), Ok(Value::Date(19_782)));
        assert_eq!(p(Kind::Date, "1969-12-31"), Ok(Value::Date(-1)));
        // 1 BC is year 0, a leap year: 0000-03-01 is 60 days after 0000-01-01.
        let bc1 = days_from_civil(0, 1, 1);
        assert_eq!(p(Kind::Date, "0001-01-01 BC"), Ok(Value::Date(bc1 as i32)));
        assert_eq!(
            p(Kind::Date, "0001-03-01 BC"),
            Ok(Value::Date(bc1 as i32 + 60))
        );
        assert_eq!(
            p(Kind::Date, "12345-06-07"),
            Ok(Value::Date(days_from_civil(12345, 6, 7) as i32))
        );
        assert_eq!(p(Kind::Date, "infinity"), Err(BadValue::Unrepresentable));
        assert_eq!(p(Kind::Date, "-infinity"), Err(BadValue::Unrepresentable));
        assert_eq!(p(Kind::Date, "2024-13-01"), Err(BadValue::Malformed));
        assert_eq!(p(Kind::Date, "01/02/2024"), Err(BadValue::Malformed));
    }

    #[test]
    fn timestamps() {
        let ts = |raw| p(Kind::Timestamp, raw);
        assert_eq!(ts("1970-01-01 00:00:00"), Ok(Value::Timestamp(0)));
        assert_eq!(
            ts("2024-02-29 13:45:06.5"),
            Ok(Value::Timestamp(1_709_214_306_500_000))
        );
        assert_eq!(
            ts("2024-02-29 13:45:06.000001"),
            Ok(Value::Timestamp(1_709_214_306_000_001))
        );
        assert_eq!(ts("1969-12-31 23:59:59.999999"), Ok(Value::Timestamp(-1)));
        // timestamptz: UTC in this session, but any offset is honored.
        assert_eq!(ts("1970-01-01 00:00:00+00"), Ok(Value::Timestamp(0)));
        assert_eq!(ts("1970-01-01 05:30:00+05:30"), Ok(Value::Timestamp(0)));
        assert_eq!(ts("1969-12-31 16:00:00-08"), Ok(Value::Timestamp(0)));
        assert_eq!(ts("1970-01-01 00:00:30+00:00:30"), Ok(Value::Timestamp(0)));
        let bc = days_from_civil(-99, 3, 15) * 86_400 * 1_000_000;
        assert_eq!(ts("0100-03-15 00:00:00 BC"), Ok(Value::Timestamp(bc)));
        assert_eq!(ts("0100-03-15 00:00:00+00 BC"), Ok(Value::Timestamp(bc)));
        assert_eq!(ts("infinity"), Err(BadValue::Unrepresentable));
        assert_eq!(ts("-infinity"), Err(BadValue::Unrepresentable));
        assert_eq!(ts("2024-02-29T13:45:06"), Err(BadValue::Malformed));
        assert_eq!(ts("2024-02-29 13:45:06.1234567"), Err(BadValue::Malformed));
        assert_eq!(ts("2024-02-29 13:45"), Err(BadValue::Malformed));
    }
}
