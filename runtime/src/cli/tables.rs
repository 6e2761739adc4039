//! How `discover` shows table schemas: a listing for people, JSON for scripts.

use crate::schema::TableSchema;

/// One line per table (name and key), one per column (name, type, nullability).
pub(super) fn print(tables: &[TableSchema]) {
    for t in tables {
        let key = if t.primary_key.is_empty() {
            "append-only".to_owned()
        } else {
            format!("key ({})", t.primary_key.join(", "))
        };
        println!("{} — {key}", t.name);
        for c in &t.columns {
            println!(
                "  {:<24} {}{}",
                c.name,
                c.ty,
                if c.nullable { "" } else { " not null" }
            );
        }
    }
}

/// The tables as a JSON array of `{name, primary_key, columns}`.
pub(super) fn to_json(tables: &[TableSchema]) -> serde_json::Value {
    tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "primary_key": t.primary_key,
                "columns": t.columns.iter().map(|c| serde_json::json!({
                    "name": c.name, "type": c.ty.to_string(), "nullable": c.nullable,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}
