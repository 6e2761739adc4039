//! The DuckDB destination against real database files: every road rows take
//! (staged, merged, appended directly, folded), what a commit, an abort or a
//! kill leaves, and the errors a user reads.

use std::time::Duration;

use duckdb::OptionalExt;

use super::sql::{DELETED, list, quote};
use super::{DIRECT_CHUNK, DuckDbSink, FOLD_FOR};
use crate::columns::ColumnBatch;
use crate::schema::{Column, ColumnType, Row, TableSchema, Value};
use crate::sink::Sink;

fn col(name: &str, ty: ColumnType, nullable: bool) -> Column {
    Column {
        name: name.into(),
        ty,
        nullable,
    }
}

fn table(name: &str, columns: Vec<Column>, key: &[&str]) -> TableSchema {
    let primary_key = key.iter().map(|k| k.to_string()).collect();
    TableSchema {
        name: name.into(),
        columns,
        primary_key,
    }
}

fn users() -> TableSchema {
    let cols = vec![
        col("id", ColumnType::Int, false),
        col("name", ColumnType::Text, true),
    ];
    table("users", cols, &["id"])
}

/// `users` rows from "id=name" pairs.
fn rows(spec: &str) -> Vec<Row> {
    let row = |p: &str| {
        let (id, name) = p.split_once('=').unwrap();
        vec![Value::Int(id.parse().unwrap()), Value::Text(name.into())]
    };
    spec.split_whitespace().map(row).collect()
}

fn keys(ids: &[i64]) -> Vec<Row> {
    ids.iter().map(|&i| vec![Value::Int(i)]).collect()
}

/// A sink on a fresh file with `users` prepared; the directory must outlive it.
fn sink() -> (tempfile::TempDir, DuckDbSink) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
    s.prepare(&[users()]).unwrap();
    (dir, s)
}

fn query(s: &DuckDbSink, sql: &str) -> Vec<String> {
    let mut stmt = s.conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn live(s: &DuckDbSink) -> String {
    let sql =
        "SELECT id || '=' || coalesce(name, '-') FROM users WHERE NOT _airlock_deleted ORDER BY id";
    query(s, sql).join(" ")
}

/// One column type of each kind, JSON last.
const EVERY_TYPE: [ColumnType; 9] = [
    ColumnType::Boolean,
    ColumnType::Int,
    ColumnType::Float,
    ColumnType::Text,
    ColumnType::Bytes,
    ColumnType::Timestamp,
    ColumnType::Date,
    ColumnType::Decimal {
        precision: 10,
        scale: 2,
    },
    ColumnType::Json,
];

#[test]
fn all_types_round_trip() {
    let (_dir, mut s) = sink();
    let types = EVERY_TYPE;
    let cols = types
        .iter()
        .map(|&t| col(&format!("c {t}"), t, t != ColumnType::Int));
    let t = table("all \"types\"", cols.collect(), &["c int"]);
    s.prepare(std::slice::from_ref(&t)).unwrap();
    s.prepare(&[t]).unwrap(); // an unchanged schema passes as is
    let full = vec![
        Value::Boolean(true),
        Value::Int(1),
        Value::Float(1.5),
        Value::Text("héllo".into()),
        Value::Bytes(vec![0, 255]),
        Value::Timestamp(1_700_000_000_123_456),
        Value::Date(19_000),
        Value::Decimal("-12.50".into()),
        Value::Json(r#"{"a":[1,2]}"#.into()),
    ];
    let mut nulls = vec![Value::Null; 9];
    nulls[1] = Value::Int(2);
    s.upsert("all \"types\"", vec![full, nulls]).unwrap();
    s.commit("job", "{}").unwrap();
    let sql = r#"SELECT concat_ws('|', "c boolean", "c float", "c text", hex("c bytes"),
        "c timestamp", "c date", "c decimal(10,2)", "c json" -> '$.a[1]', typeof("c json"))
        FROM "all ""types""" ORDER BY "c int""#;
    let want = "true|1.5|héllo|00FF|2023-11-14 22:13:20.123456|2022-01-08|-12.50|2|JSON";
    assert_eq!(query(&s, sql), [want, "JSON"]);
}

#[test]
fn bad_values_fail_at_commit_without_leaking_them_and_drop_the_window() {
    let (_dir, mut s) = sink();
    let amount = col(
        "amount",
        ColumnType::Decimal {
            precision: 4,
            scale: 1,
        },
        true,
    );
    let cols = vec![
        col("id", ColumnType::Int, false),
        amount,
        col("doc", ColumnType::Json, true),
    ];
    s.prepare(&[table("pay", cols, &["id"])]).unwrap();
    let good = vec![
        Value::Int(1),
        Value::Decimal("1.5".into()),
        Value::Json("[]".into()),
    ];
    let bad = |v: Value, doc: Value| vec![vec![Value::Int(2), v, doc]];
    for row in [
        bad(Value::Decimal("secret".into()), Value::Null),
        bad(Value::Decimal("99999.9".into()), Value::Null),
        bad(Value::Null, Value::Json("{secret".into())),
    ] {
        s.upsert("pay", vec![good.clone()]).unwrap();
        s.upsert("pay", row).unwrap();
        let e = s.commit("job", "s").unwrap_err().to_string();
        assert!(
            e.contains("table `pay`") && !e.contains("secret") && !e.contains("9999"),
            "{e}"
        );
        assert_eq!(s.state("job").unwrap(), None);
        assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["0"]);
    }
    s.upsert("pay", vec![good]).unwrap();
    s.commit("job", "s").unwrap();
    assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["1"]);
}

#[test]
fn last_write_wins_within_a_window() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a 2=b")).unwrap();
    s.upsert("users", rows("1=c 3=d 1=e")).unwrap();
    s.flush().unwrap();
    assert_eq!(live(&s), "1=e 2=b 3=d");
    s.upsert("users", rows("2=f 2=g")).unwrap();
    s.commit("job", "s1").unwrap();
    assert_eq!(live(&s), "1=e 2=g 3=d");
}

#[test]
fn deletes_are_ordered_with_upserts_and_ignore_unknown_keys() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a 2=b")).unwrap();
    s.delete("users", keys(&[1, 99])).unwrap();
    s.upsert("users", rows("1=c")).unwrap();
    s.delete("users", keys(&[2, 2])).unwrap();
    s.upsert("users", rows("1=d")).unwrap();
    s.commit("job", "s1").unwrap();
    assert_eq!(live(&s), "1=d");
    let all = "SELECT id || ':' || _airlock_deleted FROM users ORDER BY id";
    assert_eq!(query(&s, all), ["1:false", "2:true"]);
}

#[test]
fn non_integer_keys_take_the_sql_path_with_the_same_results() {
    let (_dir, mut s) = sink();
    let cols = vec![
        col("code", ColumnType::Text, false),
        col("v", ColumnType::Int, true),
    ];
    s.prepare(&[table("codes", cols, &["code"])]).unwrap();
    let r = |c: &str, v: i64| vec![Value::Text(c.into()), Value::Int(v)];
    let k = |c: &str| vec![Value::Text(c.into())];
    s.upsert("codes", vec![r("a", 1), r("b", 2), r("a", 3)])
        .unwrap();
    s.delete("codes", vec![k("b"), k("zz")]).unwrap();
    s.upsert("codes", vec![r("c", 4)]).unwrap();
    s.delete("codes", vec![k("c")]).unwrap();
    s.upsert("codes", vec![r("c", 5)]).unwrap();
    s.commit("job", "s").unwrap();
    let all = "SELECT code || '=' || v || ':' || _airlock_deleted FROM codes ORDER BY code";
    assert_eq!(query(&s, all), ["a=3:false", "b=2:true", "c=5:false"]);
    s.delete("codes", vec![k("a")]).unwrap();
    s.commit("job", "s2").unwrap();
    assert_eq!(query(&s, all), ["a=3:true", "b=2:true", "c=5:false"]);
}

#[test]
fn truncate_drops_pending_rows_and_marks_the_rest_deleted() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a 2=b")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("3=c")).unwrap();
    s.truncate("users").unwrap();
    s.upsert("users", rows("4=d 1=e")).unwrap();
    s.commit("job", "s2").unwrap();
    assert_eq!(live(&s), "1=e 4=d");
    assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM users"), ["3"]);
}

#[test]
fn abort_keeps_only_committed_rows_and_state() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("2=b 1=x")).unwrap();
    s.delete("users", keys(&[1])).unwrap();
    s.upsert("users", rows("3=c")).unwrap();
    s.abort();
    assert_eq!(live(&s), "1=a");
    assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
    s.upsert("users", rows("4=d")).unwrap();
    s.commit("job", "s2").unwrap();
    assert_eq!(live(&s), "1=a 4=d");
}

#[test]
fn state_round_trips_counts_checkpoints_and_resets() {
    let (_dir, mut s) = sink();
    assert_eq!(s.state("job").unwrap(), None);
    s.commit("job", "s1").unwrap();
    s.commit("job", "s2").unwrap();
    s.commit("other", "o1").unwrap();
    assert_eq!(s.state("job").unwrap().as_deref(), Some("s2"));
    let n = "SELECT checkpoints::VARCHAR FROM _airlock_state ORDER BY job";
    assert_eq!(query(&s, n), ["2", "1"]);
    assert!(s.reset("job").unwrap());
    assert!(!s.reset("job").unwrap());
    assert_eq!(s.state("job").unwrap(), None);
    assert_eq!(s.state("other").unwrap().as_deref(), Some("o1"));
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s3").unwrap();
    s.close().unwrap(); // the checkpoint was folded: it commits here
    assert_eq!(query(&s, n), ["1", "1"]);
}

#[test]
fn prepare_adds_columns_and_refuses_incompatible_changes() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    let mut t = users();
    t.columns.push(col("Email", ColumnType::Text, false));
    s.prepare(&[t.clone()]).unwrap(); // flushes the pending row first
    let row = vec![Value::Int(2), Value::Null, Value::Text("e".into())];
    s.upsert("users", vec![row]).unwrap();
    s.commit("job", "s1").unwrap();
    let email = r#"SELECT coalesce("Email", '-') FROM users ORDER BY id"#;
    assert_eq!(query(&s, email), ["-", "e"]);
    t.columns[1].ty = ColumnType::Int;
    let e = s.prepare(&[t.clone()]).unwrap_err().to_string();
    assert!(
        e.contains("table `users` column `name`") && e.contains("VARCHAR"),
        "{e}"
    );
    assert!(e.contains("drop the table"), "{e}");
    (t.columns[1].ty, t.columns[1].nullable) = (ColumnType::Text, false);
    t.primary_key.push("name".into());
    let e = s.prepare(&[t]).unwrap_err().to_string();
    assert!(
        e.contains("table `users`") && e.contains("primary key is (id)"),
        "{e}"
    );
}

#[test]
fn append_only_tables_keep_every_row() {
    let (_dir, mut s) = sink();
    s.prepare(&[table("log", vec![col("msg", ColumnType::Text, true)], &[])])
        .unwrap();
    let msg = vec![Value::Text("m".into())];
    s.upsert("log", vec![msg.clone(), msg.clone()]).unwrap();
    s.flush().unwrap();
    s.upsert("log", vec![msg, vec![Value::Null]]).unwrap();
    assert!(
        s.delete("log", vec![vec![]])
            .unwrap_err()
            .to_string()
            .contains("no primary key")
    );
    s.abort();
    s.upsert("log", vec![vec![Value::Null]]).unwrap();
    s.commit("job", "s1").unwrap();
    assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM log"), ["3"]);
}

#[test]
fn a_large_interleaved_window_merges_in_one_pass() {
    // CDC-like: every key upserted, every third deleted right after, some re-upserted.
    let (_dir, mut s) = sink();
    for id in 0..3000 {
        s.upsert("users", rows(&format!("{id}=v{id}"))).unwrap();
        if id % 3 == 0 {
            s.delete("users", keys(&[id])).unwrap();
        }
        if id % 9 == 0 {
            s.upsert("users", rows(&format!("{id}=again"))).unwrap();
        }
    }
    s.commit("job", "s").unwrap();
    let n = |sql: &str| query(&s, sql)[0].clone();
    assert_eq!(n("SELECT count(*)::VARCHAR FROM users"), "3000");
    assert_eq!(
        n("SELECT count(*)::VARCHAR FROM users WHERE _airlock_deleted"),
        "666"
    );
    assert_eq!(
        n("SELECT count(*)::VARCHAR FROM users WHERE name = 'again' AND NOT _airlock_deleted"),
        "334"
    );
}

#[test]
fn decimals_append_as_columns_exactly_as_duckdb_casts_them() {
    // Every storage width DuckDB uses for DECIMAL, over more rows than one
    // data chunk; rows appended directly as columns must equal DuckDB's
    // own cast of the same text. The second batch needs rounding, so it
    // takes the row-by-row path and still lands.
    let (_dir, mut s) = sink();
    let dec =
        |name: &str, precision, scale| col(name, ColumnType::Decimal { precision, scale }, true);
    let cols = vec![
        col("id", ColumnType::Int, false),
        col("s", ColumnType::Text, true),
        dec("d4", 4, 1),
        dec("d9", 9, 2),
        dec("d18", 18, 3),
        dec("d38", 38, 10),
    ];
    s.prepare(&[table("dec", cols, &["id"])]).unwrap();
    let row = |id: i64, text: String| {
        let d = |t: &str| Value::Decimal(t.into());
        let mut r = vec![Value::Int(id), Value::Text(text.clone())];
        r.extend([d(&text), d(&text), d(&text), d(&text)]);
        r
    };
    let batch = (0..5000)
        .map(|i| row(i, format!("{}.{}", i / 10 - 250, i % 10)))
        .collect();
    s.upsert("dec", batch).unwrap();
    s.commit("job", "1").unwrap();
    s.upsert("dec", vec![row(9000, "-1.25".into())]).unwrap();
    s.commit("job", "2").unwrap();
    let sql = "SELECT count(*)::VARCHAR FROM dec WHERE d4 = s::DECIMAL(4,1) \
               AND d9 = s::DECIMAL(9,2) AND d18 = s::DECIMAL(18,3) AND d38 = s::DECIMAL(38,10)";
    assert_eq!(query(&s, sql), ["5001"]);
    let sql =
        "SELECT concat_ws('|', d4, d18, d38) FROM dec WHERE id IN (0, 4999, 9000) ORDER BY id";
    let want = [
        "-250.0|-250.000|-250.0000000000",
        "249.9|249.900|249.9000000000",
        "-1.3|-1.250|-1.2500000000",
    ];
    assert_eq!(query(&s, sql), want);
}

#[test]
fn truncate_and_later_rows_commit_together() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.truncate("users").unwrap();
    s.abort();
    assert_eq!(live(&s), "1=a");
    s.truncate("users").unwrap();
    s.upsert("users", rows("1=b")).unwrap();
    s.commit("job", "s2").unwrap();
    assert_eq!(live(&s), "1=b");
}

#[test]
fn new_keys_append_directly_and_known_keys_still_replace() {
    let (dir, mut s) = sink();
    let below = |s: &DuckDbSink| s.tables["users"].keys_below;
    assert_eq!(below(&s), Some(i64::MIN));
    s.upsert("users", rows("2=a 1=b 2=c")).unwrap();
    s.commit("job", "s1").unwrap(); // not ascending: staged
    assert_eq!(below(&s), Some(3));
    s.upsert("users", rows("2=x 5=e")).unwrap();
    s.commit("job", "s2").unwrap(); // 2 is stored: staged and replaced
    assert_eq!(below(&s), Some(6));
    s.upsert("users", rows("4=d 6=f")).unwrap();
    s.delete("users", keys(&[4])).unwrap();
    s.commit("job", "s3").unwrap(); // a delete: staged
    assert_eq!(live(&s), "1=b 2=x 5=e 6=f");
    drop(s);
    let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
    s.prepare(&[users()]).unwrap();
    assert_eq!(
        below(&s),
        Some(7),
        "from the stored rows, deleted ones included"
    );
    s.upsert("users", rows("7=g 8=h")).unwrap();
    s.commit("job", "s4").unwrap();
    assert_eq!(below(&s), Some(9));
    assert_eq!(live(&s), "1=b 2=x 5=e 6=f 7=g 8=h");
    assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM users"), ["7"]);
    let mut t = users();
    t.columns.push(col("email", ColumnType::Text, true));
    s.prepare(&[t]).unwrap();
    assert_eq!(
        below(&s),
        None,
        "an added column sits after airlock's: positions differ"
    );
}

/// The types of `t`'s columns.
fn types(t: &TableSchema) -> Vec<ColumnType> {
    t.columns.iter().map(|c| c.ty).collect()
}

#[test]
fn column_batches_land_exactly_as_their_rows_do() {
    // Every type, nulls, a decimal DuckDB must round, new keys and known
    // ones: one sink takes rows, the other the same rows laid out by
    // column. Without a JSON column new keys append directly; with one,
    // everything is staged (JSON needs DuckDB's validating cast).
    for json in [false, true] {
        same_by_rows_and_by_columns(json);
    }
}

fn same_by_rows_and_by_columns(json: bool) {
    // Every type but the key's, JSON last.
    let all: Vec<ColumnType> = (EVERY_TYPE.into_iter())
        .filter(|&t| t != ColumnType::Int && (json || t != ColumnType::Json))
        .collect();
    let mut cols = vec![col("id", ColumnType::Int, false)];
    cols.extend(all.iter().map(|&t| col(&format!("c {t}"), t, true)));
    let t = table("t", cols, &["id"]);
    let row = |id: i64, decimal: &str| {
        let mut row = vec![
            Value::Int(id),
            Value::Boolean(id % 2 == 0),
            Value::Float(id as f64 / 4.0),
            Value::Text(format!("héllo {id}")),
            Value::Bytes(vec![0, id as u8]),
            Value::Timestamp(1_700_000_000_123_456 + id),
            Value::Date(19_000 + id as i32),
            Value::Decimal(decimal.into()),
            Value::Json(format!(r#"{{"id":{id}}}"#)),
        ];
        row.truncate(1 + all.len());
        row
    };
    let mut with_nulls = row(3, "1");
    with_nulls[1..].fill(Value::Null);
    let batches = [
        vec![row(1, "-12.50"), row(2, "0.1"), with_nulls],
        // Not plain notation: DuckDB's own cast, row by row.
        vec![row(4, "1e2")],
        // Known keys: staged and replaced.
        vec![row(2, "7"), row(5, "8.125")],
    ];
    let names = list(&t.columns, |c| format!("{}::VARCHAR", quote(&c.name)));
    let sql = format!("SELECT concat_ws('|', {names}, {DELETED}) FROM t ORDER BY id");
    let dump = |s: &DuckDbSink| query(s, &sql);
    let (_d1, mut by_rows) = sink();
    let (_d2, mut by_columns) = sink();
    for s in [&mut by_rows, &mut by_columns] {
        s.prepare(std::slice::from_ref(&t)).unwrap();
    }
    for (i, rows) in batches.iter().enumerate() {
        by_rows.upsert("t", rows.clone()).unwrap();
        let batch = ColumnBatch::from_rows(&types(&t), rows);
        by_columns.upsert_columns("t", batch).unwrap();
        if i == 0 {
            let gathered = &by_columns.tables["t"].direct;
            let want = if json { (0, 0) } else { (1, 3) };
            assert_eq!((gathered.batches.len(), gathered.len), want);
        }
        by_rows.commit("job", "s").unwrap();
        by_columns.commit("job", "s").unwrap();
    }
    by_rows.close().unwrap();
    by_columns.close().unwrap();
    let want = dump(&by_rows);
    assert_eq!(want.len(), 5);
    assert!(want[1].contains("|7.00|"), "{want:?}");
    assert!(want[3].contains("|100.00|"), "{want:?}");
    assert_eq!(dump(&by_columns), want);
}

#[test]
fn gathered_batches_append_in_chunks_and_abort_keeps_the_folded_checkpoint() {
    let (_dir, mut s) = sink();
    let t = users();
    let batch = |ids: std::ops::Range<i64>| ColumnBatch::from_rows(&types(&t), &ascending(ids));
    s.upsert_columns("users", batch(0..10)).unwrap();
    s.upsert("users", ascending(10..20)).unwrap();
    s.commit("job", "s1").unwrap();
    // Past a chunk: appended to the open transaction, then dropped by the abort.
    let end = 20 + DIRECT_CHUNK as i64;
    for start in (20..end).step_by(1024) {
        s.upsert_columns("users", batch(start..end.min(start + 1024)))
            .unwrap();
    }
    assert!(s.tables["users"].direct.is_empty(), "appended");
    s.upsert_columns("users", batch(end..end + 5)).unwrap();
    assert_eq!(s.tables["users"].direct.len, 5, "gathered");
    s.abort();
    let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(committed(&s), (Some("s1".into()), 1, ids.join(" ")));
    assert!(s.tables["users"].direct.is_empty());
}

#[test]
fn reopening_sees_only_committed_rows_and_state() {
    let (dir, mut s) = sink();
    s.fold_for = Duration::ZERO; // every checkpoint commits at once
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("2=b")).unwrap();
    s.delete("users", keys(&[1])).unwrap();
    drop(s); // like a kill: the open window never commits
    let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
    assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
    assert_eq!(live(&s), "1=a");
    s.prepare(&[users()]).unwrap();
    let e = DuckDbSink::open(&dir.path().join("no/dest.duckdb"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no/dest.duckdb") && e.contains("directory exists"),
        "{e}"
    );
}

/// What another process would see: the committed state of `job` and its
/// checkpoint count, and the committed live ids.
fn committed(s: &DuckDbSink) -> (Option<String>, i64, String) {
    let other = s.conn.try_clone().unwrap();
    let state = other
        .query_row(
            "SELECT state, checkpoints FROM _airlock_state WHERE job = 'job'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap();
    let mut stmt = other
        .prepare("SELECT id::VARCHAR FROM users WHERE NOT _airlock_deleted ORDER BY id")
        .unwrap();
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (state, n) = state.map_or((None, 0), |(s, n)| (Some(s), n));
    (state, n, ids.join(" "))
}

fn ascending(ids: std::ops::Range<i64>) -> Vec<Row> {
    ids.map(|i| vec![Value::Int(i), Value::Text(format!("n{i}"))])
        .collect()
}

#[test]
fn checkpoints_of_a_bulk_load_fold_into_one_commit_at_close() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a 2=b")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("3=c")).unwrap();
    s.commit("job", "s2").unwrap();
    assert_eq!(
        committed(&s),
        (None, 0, String::new()),
        "folded, not yet durable"
    );
    assert_eq!(s.durable(), 0);
    assert_eq!(live(&s), "1=a 2=b 3=c", "in the open transaction");
    s.close().unwrap();
    assert_eq!(committed(&s), (Some("s2".into()), 2, "1 2 3".into()));
    assert_eq!(s.durable(), 2);
}

#[test]
fn an_open_bulk_transaction_commits_once_folding_time_is_up() {
    let (_dir, mut s) = sink();
    s.fold_for = Duration::from_millis(50);
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("2=b")).unwrap();
    s.flush().unwrap();
    assert_eq!(committed(&s).0, None, "young: still folded");
    std::thread::sleep(Duration::from_millis(60));
    s.upsert("users", rows("3=c")).unwrap(); // commits the folded checkpoint
    assert_eq!(committed(&s), (Some("s1".into()), 1, "1 2".into()));
    assert_eq!(s.durable(), 1);
    // With none folded, a flush bounds how long rows stay uncommitted.
    std::thread::sleep(Duration::from_millis(60));
    s.flush().unwrap();
    assert_eq!(committed(&s), (Some("s1".into()), 1, "1 2 3".into()));
}

#[test]
fn another_jobs_checkpoint_does_not_replace_a_folded_one() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.commit("other", "o1").unwrap();
    assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
    s.close().unwrap();
    assert_eq!(s.state("other").unwrap().as_deref(), Some("o1"));
    assert_eq!(s.durable(), 2);
}

#[test]
fn a_bad_value_after_a_folded_checkpoint_drops_it_and_says_so() {
    let (_dir, mut s) = sink();
    let cols = vec![
        col("id", ColumnType::Int, false),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 4,
                scale: 1,
            },
            true,
        ),
    ];
    s.prepare(&[table("pay", cols, &["id"])]).unwrap();
    let pay = |id: i64, v: &str| vec![Value::Int(id), Value::Decimal(v.into())];
    s.upsert("pay", vec![pay(1, "1.5"), pay(2, "2.5")]).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("pay", vec![pay(3, "99999.9")]).unwrap();
    let e = s.commit("job", "s2").unwrap_err().to_string();
    assert!(e.contains("table `pay`") && !e.contains("9999"), "{e}");
    s.abort();
    assert_eq!(s.durable(), 0, "the folded checkpoint went with the window");
    assert_eq!(s.state("job").unwrap(), None);
    assert_eq!(query(&s, "SELECT count(*)::VARCHAR FROM pay"), ["0"]);
}

#[test]
fn a_staged_operation_or_the_fold_time_ends_folding() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", rows("1=b")).unwrap(); // a known key: staged
    s.commit("job", "s2").unwrap();
    assert_eq!(committed(&s), (Some("s2".into()), 2, "1".into()));
    assert_eq!(live(&s), "1=b");
    s.fold_for = Duration::ZERO;
    s.upsert("users", rows("2=c")).unwrap();
    s.commit("job", "s3").unwrap();
    assert_eq!(committed(&s), (Some("s3".into()), 3, "1 2".into()));
}

#[test]
fn abort_commits_the_folded_checkpoint_without_the_rows_after_it() {
    let (_dir, mut s) = sink();
    s.upsert("users", ascending(0..10)).unwrap();
    s.commit("job", "s1").unwrap();
    s.upsert("users", ascending(10..20)).unwrap();
    s.commit("job", "s2").unwrap();
    // After the checkpoint: more than a chunk (appended to the
    // transaction), then a few gathered rows and a staged delete.
    let after = 20 + DIRECT_CHUNK as i64 + 5;
    s.upsert("users", ascending(20..after)).unwrap();
    s.upsert("users", ascending(after..after + 3)).unwrap();
    s.delete("users", keys(&[3])).unwrap();
    s.abort();
    let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(committed(&s), (Some("s2".into()), 2, ids.join(" ")));
    // The bound stays high, so the next rows still append directly.
    s.upsert("users", rows("99=z")).unwrap();
    s.commit("job", "s3").unwrap();
    s.close().unwrap();
    assert_eq!(committed(&s).1, 3);
    assert!(live(&s).ends_with(" 99=z"));
}

#[test]
fn a_truncate_commits_the_folded_checkpoint_first() {
    let (_dir, mut s) = sink();
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.truncate("users").unwrap();
    assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
    s.abort(); // the truncate is not committed; the checkpoint before it is
    assert_eq!(committed(&s), (Some("s1".into()), 1, "1".into()));
}

#[test]
fn a_killed_process_loses_only_the_folded_checkpoints() {
    let (dir, mut s) = sink();
    s.fold_for = Duration::ZERO;
    s.upsert("users", rows("1=a")).unwrap();
    s.commit("job", "s1").unwrap();
    s.fold_for = FOLD_FOR;
    s.upsert("users", rows("2=b")).unwrap();
    s.commit("job", "s2").unwrap();
    drop(s); // like a kill
    let mut s = DuckDbSink::open(&dir.path().join("dest.duckdb")).unwrap();
    assert_eq!(s.state("job").unwrap().as_deref(), Some("s1"));
    assert_eq!(live(&s), "1=a");
}
