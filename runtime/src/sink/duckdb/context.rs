//! DuckDB errors as [`SinkError`]s: the table and the action that failed, a
//! kind read from DuckDB's error class, and no row values in the message.

use crate::sink::{SinkError, SinkErrorKind, SinkResult};

/// Attaches a table and action to DuckDB errors.
pub(super) trait Context<T> {
    /// For statements without row data: DuckDB's message is safe and useful.
    fn ctx(self, table: &str, action: &str) -> SinkResult<T>;
    /// For statements over row data. DuckDB quotes offending values in its
    /// messages and values can be secrets, so only the error class is kept
    /// (I/O and memory errors name files and sizes, not values, so they stay).
    fn data_ctx(self, table: &str, action: &str) -> SinkResult<T>;
}

impl<T> Context<T> for duckdb::Result<T> {
    fn ctx(self, table: &str, action: &str) -> SinkResult<T> {
        self.map_err(|e| {
            let msg = e.to_string();
            let kind = class(&msg).map_or(SinkErrorKind::Database, kind);
            SinkError::new(kind, format!("table `{table}`: {action} failed: {msg}")).in_table(table)
        })
    }

    fn data_ctx(self, table: &str, action: &str) -> SinkResult<T> {
        self.map_err(|e| {
            let msg = e.to_string();
            let class = class(&msg).unwrap_or("DuckDB error");
            let detail = match class == "IO Error" || class.contains("Memory") {
                true => msg.clone(),
                false => format!("{class}; details withheld as they may contain row values"),
            };
            let message = format!(
                "table `{table}`: {action} failed ({detail}). The rows since the last checkpoint \
                 were dropped: check that the connector's values fit their declared types \
                 (decimal precision and scale, valid JSON), then resume from the last checkpoint"
            );
            // Row data that fails is, short of a storage failure, a value that
            // does not fit its column.
            let kind = match kind(class) {
                SinkErrorKind::Database => SinkErrorKind::BadValue,
                other => other,
            };
            SinkError::new(kind, message).in_table(table)
        })
    }
}

/// DuckDB's error class, the words before the first `": "` of its message
/// (`Conversion Error`, `IO Error`), if the message has one.
fn class(msg: &str) -> Option<&str> {
    (msg.split_once(": ").map(|(c, _)| c)).filter(|c| {
        c.ends_with("Error") && c.chars().all(|ch| ch.is_ascii_alphabetic() || ch == ' ')
    })
}

/// The kind of failure a DuckDB error class stands for.
fn kind(class: &str) -> SinkErrorKind {
    match class {
        "IO Error" => SinkErrorKind::Io,
        c if c.contains("Memory") => SinkErrorKind::Io,
        "Conversion Error" | "Invalid Input Error" | "Constraint Error" | "Out of Range Error" => {
            SinkErrorKind::BadValue
        }
        _ => SinkErrorKind::Database,
    }
}

/// Whether a DuckDB message says another process holds the file's lock.
pub(super) fn is_locked(msg: &str) -> bool {
    msg.contains("Could not set lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_kinds() {
        let of = |m: &str| class(m).map_or(SinkErrorKind::Database, kind);
        assert_eq!(of("IO Error: No space left on device"), SinkErrorKind::Io);
        assert_eq!(of("Out of Memory Error: failed"), SinkErrorKind::Io);
        let bad = "Conversion Error: Could not convert string 'x' to DECIMAL(4,1)";
        assert_eq!(of(bad), SinkErrorKind::BadValue);
        assert_eq!(
            of("Catalog Error: Table x does not exist"),
            SinkErrorKind::Database
        );
        assert_eq!(of("no class here"), SinkErrorKind::Database);
        assert_eq!(class("Not an: error class"), None);
        assert!(is_locked(
            "IO Error: Could not set lock on file \"x.duckdb\": Conflicting lock is held"
        ));
    }
}
