//! The SQL this connector sends: identifiers quoted, values only ever as bind
//! parameters (`$n::type`), never spliced into the text.

use std::fmt::Write;

/// `ident` as a quoted identifier: `"a""b"` for `a"b`. Always quoted, so case,
/// keywords and odd characters survive.
pub fn ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A `text[]` literal for a bind parameter: `{"a","b\"c"}`.
pub fn text_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// A column as the read query needs it.
pub struct Col<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its type without modifiers, for casting a bind parameter (`numeric`,
    /// `timestamp with time zone`), as `format_type` spells it.
    pub cast: &'a str,
}

/// Where a read starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From the first row.
    Beginning,
    /// Strictly after the row whose cursor was NULL and key was the parameters.
    AfterNullCursor,
    /// Strictly after the row whose cursor (if the table has one) and key were
    /// the parameters.
    After,
}

/// The read query of one table.
///
/// Rows come in `(cursor, key...)` order, NULL cursors first (a row without
/// a cursor value can only be placed before every other), and a resumed read
/// continues strictly after the last committed position, so rows sharing a
/// cursor value are neither skipped nor read twice. The parameters are the
/// position's cursor value (for [`Start::After`]) then its key values.
/// Without a cursor the order is the key alone; without a key, none.
pub fn select(
    schema: &str,
    table: &str,
    columns: &[&str],
    cursor: Option<&Col<'_>>,
    key: &[Col<'_>],
    start: Start,
) -> String {
    let mut sql = String::from("SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&ident(c));
    }
    let _ = write!(sql, " FROM {}.{}", ident(schema), ident(table));
    let params_from = |first: usize| {
        key.iter()
            .enumerate()
            .map(|(i, k)| format!("${}::{}", first + i, k.cast))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key_list = key
        .iter()
        .map(|k| ident(k.name))
        .collect::<Vec<_>>()
        .join(", ");
    match (start, cursor) {
        (Start::Beginning, _) => {}
        (Start::AfterNullCursor, Some(c)) => {
            let _ = write!(
                sql,
                " WHERE {cur} IS NOT NULL OR ({cur} IS NULL AND ({key_list}) > ({}))",
                params_from(1),
                cur = ident(c.name)
            );
        }
        (Start::After, Some(c)) => {
            // The plain `>=` lets an index on the cursor column bound the scan;
            // the row comparison then drops what was already read.
            let cur = ident(c.name);
            let _ = write!(
                sql,
                " WHERE {cur} >= $1::{cast} AND ({cur}, {key_list}) > ($1::{cast}, {})",
                params_from(2),
                cast = c.cast
            );
        }
        (_, None) => {
            let _ = write!(sql, " WHERE ({key_list}) > ({})", params_from(1));
        }
    }
    match cursor {
        // Past a non-NULL cursor no NULLs are left; the default order then
        // matches a plain index on the cursor column.
        Some(c) if start == Start::After => {
            let _ = write!(sql, " ORDER BY {}", ident(c.name));
        }
        Some(c) => {
            let _ = write!(sql, " ORDER BY {} NULLS FIRST", ident(c.name));
        }
        None if key.is_empty() => return sql,
        None => sql.push_str(" ORDER BY "),
    }
    for (i, k) in key.iter().enumerate() {
        if i > 0 || cursor.is_some() {
            sql.push_str(", ");
        }
        sql.push_str(&ident(k.name));
    }
    sql
}

/// The query for the last row of a table in `(cursor NULLS FIRST, key)`
/// order, as `cursor, key...`: among rows whose cursor is set when
/// `null_cursor` is false (an index on the cursor serves it, read backwards),
/// else among rows whose cursor is NULL (the key's index serves it).
pub fn last_position(
    schema: &str,
    table: &str,
    cursor: &Col<'_>,
    key: &[Col<'_>],
    null_cursor: bool,
) -> String {
    let cur = ident(cursor.name);
    let mut sql = format!("SELECT {cur}");
    for k in key {
        let _ = write!(sql, ", {}", ident(k.name));
    }
    let is = if null_cursor {
        "IS NULL"
    } else {
        "IS NOT NULL"
    };
    let _ = write!(
        sql,
        " FROM {}.{} WHERE {cur} {is} ORDER BY ",
        ident(schema),
        ident(table)
    );
    let mut order: Vec<String> = Vec::new();
    if !null_cursor {
        order.push(format!("{cur} DESC"));
    }
    order.extend(key.iter().map(|k| format!("{} DESC", ident(k.name))));
    let _ = write!(sql, "{} LIMIT 1", order.join(", "));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("users"), r#""users""#);
        assert_eq!(ident("Order"), r#""Order""#);
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(ident("x; DROP TABLE y"), r#""x; DROP TABLE y""#);
        assert_eq!(ident(""), r#""""#);
    }

    #[test]
    fn arrays_are_escaped() {
        assert_eq!(
            text_array(["public", "a\"b", "c\\d", "e,f"]),
            r#"{"public","a\"b","c\\d","e,f"}"#
        );
        assert_eq!(text_array([]), "{}");
    }

    const ID: Col<'static> = Col {
        name: "id",
        cast: "integer",
    };
    const AT: Col<'static> = Col {
        name: "updated_at",
        cast: "timestamp with time zone",
    };

    #[test]
    fn incremental_reads() {
        let cols = ["id", "name", "updated_at"];
        let q = |start| select("public", "users", &cols, Some(&AT), &[ID], start);
        assert_eq!(
            q(Start::Beginning),
            r#"SELECT "id", "name", "updated_at" FROM "public"."users" ORDER BY "updated_at" NULLS FIRST, "id""#
        );
        assert_eq!(
            q(Start::After),
            r#"SELECT "id", "name", "updated_at" FROM "public"."users" WHERE "updated_at" >= $1::timestamp with time zone AND ("updated_at", "id") > ($1::timestamp with time zone, $2::integer) ORDER BY "updated_at", "id""#
        );
        assert_eq!(
            q(Start::AfterNullCursor),
            r#"SELECT "id", "name", "updated_at" FROM "public"."users" WHERE "updated_at" IS NOT NULL OR ("updated_at" IS NULL AND ("id") > ($1::integer)) ORDER BY "updated_at" NULLS FIRST, "id""#
        );
    }

    #[test]
    fn last_positions() {
        assert_eq!(
            last_position("public", "users", &AT, &[ID], false),
            r#"SELECT "updated_at", "id" FROM "public"."users" WHERE "updated_at" IS NOT NULL ORDER BY "updated_at" DESC, "id" DESC LIMIT 1"#
        );
        assert_eq!(
            last_position("public", "users", &AT, &[ID], true),
            r#"SELECT "updated_at", "id" FROM "public"."users" WHERE "updated_at" IS NULL ORDER BY "id" DESC LIMIT 1"#
        );
    }

    #[test]
    fn keyed_and_keyless_reads() {
        let k2 = [
            ID,
            Col {
                name: "Part",
                cast: "text",
            },
        ];
        assert_eq!(
            select("s", "t", &["id", "Part"], None, &k2, Start::Beginning),
            r#"SELECT "id", "Part" FROM "s"."t" ORDER BY "id", "Part""#
        );
        assert_eq!(
            select("s", "t", &["id", "Part"], None, &k2, Start::After),
            r#"SELECT "id", "Part" FROM "s"."t" WHERE ("id", "Part") > ($1::integer, $2::text) ORDER BY "id", "Part""#
        );
        assert_eq!(
            select("s", "t", &["v"], None, &[], Start::Beginning),
            r#"SELECT "v" FROM "s"."t""#
        );
    }
}
