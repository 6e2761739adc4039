//! Config, state and planning. (Paths that log need the host and are covered
//! by live runs; see the README.)

use super::*;
use crate::catalog::PgColumn;
use crate::sql::Start;
use crate::types::map_type;

fn config(json: &str) -> Config {
    serde_json::from_str(json).unwrap()
}

#[test]
fn defaults_and_validation() {
    let c = config(r#"{"database": "shop", "user": "reader"}"#);
    assert_eq!(c.endpoint, "postgres");
    assert_eq!(c.schemas, ["public"]);
    assert_eq!(c.cursor, "updated_at");
    assert_eq!((c.checkpoint_every, c.fetch_rows), (10_000, 50_000));
    assert!(c.tables.is_none() && c.password.is_none() && c.cursors.is_empty());
    assert!(c.validate().is_ok());
    for bad in [
        r#"{"database": "", "user": "reader"}"#,
        r#"{"database": "shop", "user": "reader", "schemas": []}"#,
        r#"{"database": "shop", "user": "reader", "tables": []}"#,
        r#"{"database": "shop", "user": "reader", "tables": ["users"]}"#,
        r#"{"database": "shop", "user": "reader", "tables": [".users"]}"#,
        r#"{"database": "shop", "user": "reader", "cursors": {"users": "ts"}}"#,
        r#"{"database": "shop", "user": "reader", "checkpoint_every": 0}"#,
        r#"{"database": "shop", "user": "reader", "fetch_rows": 0}"#,
    ] {
        let e = config(bad).validate().unwrap_err();
        assert_eq!(e.kind, airlock_sdk::ErrorKind::Config, "{bad}");
    }
    assert!(
        serde_json::from_str::<Config>(r#"{"database": "d", "user": "u", "pasword": "x"}"#)
            .is_err()
    );
    let c = config(r#"{"database": "d", "user": "u", "tables": ["a.b.c", "public.t"]}"#);
    assert_eq!(
        c.table_list().unwrap(),
        [
            ("a".to_owned(), "b.c".to_owned()),
            ("public".to_owned(), "t".to_owned())
        ]
    );
}

#[test]
fn spec_documents_every_field() {
    let spec: serde_json::Value =
        serde_json::from_str(&airlock_sdk::__private::spec::<Postgres>()).unwrap();
    let props = spec["properties"].as_object().unwrap();
    for (name, p) in props {
        assert!(p["description"].is_string(), "{name} has no description");
    }
    assert_eq!(props.len(), 10);
}

fn column(name: &str, oid: u32, not_null: bool) -> PgColumn {
    PgColumn {
        name: name.into(),
        not_null,
        type_name: "t".into(),
        cast_type: "t".into(),
        mapping: map_type(oid, -1, false),
    }
}

/// `public.users (id int8 PK, name text, updated_at timestamptz NOT NULL)`.
fn users() -> PgTable {
    PgTable {
        schema: "public".into(),
        name: "users".into(),
        readable: true,
        columns: vec![
            column("id", 20, true),
            column("name", 25, false),
            column("updated_at", 1184, true),
        ],
        primary_key: vec![0],
    }
}

#[test]
fn planning_picks_the_cursor() {
    let c = config(r#"{"database": "d", "user": "u"}"#);
    let p = plan_table(&c, users()).unwrap();
    assert_eq!(
        (p.mode, p.dest.as_str(), p.qualified.as_str()),
        (Mode::Incremental(2), "users", "public.users")
    );
    let c = config(r#"{"database": "d", "user": "u", "cursors": {"public.users": ""}}"#);
    assert_eq!(plan_table(&c, users()).unwrap().mode, Mode::Full);
    let c = config(r#"{"database": "d", "user": "u", "cursor": "name"}"#);
    assert_eq!(plan_table(&c, users()).unwrap().mode, Mode::Incremental(1));
    let c = config(r#"{"database": "d", "user": "u", "cursor": "nope"}"#);
    assert_eq!(plan_table(&c, users()).unwrap().mode, Mode::Full);
    let c = config(r#"{"database": "d", "user": "u", "cursors": {"public.users": "nope"}}"#);
    let e = plan_table(&c, users()).err().unwrap();
    assert!(e.message.contains("has no column `nope`"), "{}", e.message);
    let mut t = users();
    t.schema = "sales".into();
    assert_eq!(
        plan_table(&config(r#"{"database": "d", "user": "u"}"#), t)
            .unwrap()
            .dest,
        "sales__users"
    );
}

#[test]
fn timestamps_may_be_null_outside_the_key() {
    let c = config(r#"{"database": "d", "user": "u"}"#);
    let schema: airlock_sdk::__private::WitTableSchema =
        plan_table(&c, users()).unwrap().schema().into();
    let nullable: Vec<bool> = schema.columns.iter().map(|c| c.nullable).collect();
    // `updated_at` is NOT NULL in PostgreSQL, but `infinity` becomes NULL.
    assert_eq!(nullable, [false, true, true]);
    assert_eq!(schema.primary_key, ["id"]);
}

fn plan(mode: Mode) -> Plan {
    Plan {
        table: users(),
        qualified: "public.users".into(),
        dest: "users".into(),
        mode,
    }
}

#[test]
fn resume_positions() {
    use read::Initial;
    let inc = plan(Mode::Incremental(2));
    // A first read goes in key order.
    assert_eq!(
        read::resume(&inc, None),
        (Start::Beginning, vec![], Initial::Fresh)
    );
    let at = |cursor: Option<&str>, key: &str| Position {
        cursor: cursor.map(Into::into),
        key: vec![key.into()],
    };
    let saved = TableState {
        cursor_column: Some("updated_at".into()),
        after: Some(at(Some("2026-01-01 00:00:00+00"), "42")),
        initial: None,
    };
    assert_eq!(
        read::resume(&inc, Some(&saved)),
        (
            Start::After,
            vec![Some("2026-01-01 00:00:00+00".into()), Some("42".into())],
            Initial::No
        )
    );
    let null_cursor = TableState {
        after: Some(at(None, "7")),
        ..saved.clone()
    };
    assert_eq!(
        read::resume(&inc, Some(&null_cursor)),
        (Start::AfterNullCursor, vec![Some("7".into())], Initial::No)
    );
    // An interrupted first read resumes by key, keeping where it will go on.
    let then = Some(at(Some("2026-01-01 00:00:00+00"), "99"));
    let first_read = TableState {
        after: Some(at(None, "7")),
        initial: Some(InitialRead { then: then.clone() }),
        ..saved.clone()
    };
    assert_eq!(
        read::resume(&inc, Some(&first_read)),
        (Start::After, vec![Some("7".into())], Initial::Resumed(then))
    );
    let full = plan(Mode::Full);
    let mid_pass = TableState {
        cursor_column: None,
        after: Some(at(None, "9")),
        initial: None,
    };
    assert_eq!(
        read::resume(&full, Some(&mid_pass)),
        (Start::After, vec![Some("9".into())], Initial::No)
    );
    assert_eq!(
        read::resume(&full, Some(&TableState::default())),
        (Start::Beginning, vec![], Initial::No)
    );
    assert_eq!(
        read::resume(&plan(Mode::Snapshot), Some(&saved)),
        (Start::Beginning, vec![], Initial::No)
    );
}

#[test]
fn state_round_trips_as_json() {
    let mut state = State::default();
    state.tables.insert(
        "public.users".into(),
        TableState {
            cursor_column: Some("updated_at".into()),
            after: Some(Position {
                cursor: Some("2026-01-01 00:00:00+00".into()),
                key: vec!["42".into()],
            }),
            initial: None,
        },
    );
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(
        json,
        r#"{"tables":{"public.users":{"cursor_column":"updated_at","after":{"cursor":"2026-01-01 00:00:00+00","key":["42"]}}}}"#
    );
    assert_eq!(serde_json::from_str::<State>(&json).unwrap(), state);
    assert_eq!(
        serde_json::from_str::<State>("{}").unwrap(),
        State::default()
    );
    // Mid first read of a table that was empty when it began: `then` is null,
    // which is not the same as no first read under way.
    let first_read = r#"{"tables":{"public.users":{"cursor_column":"updated_at","after":{"key":["7"]},"initial":{"then":null}}}}"#;
    let parsed: State = serde_json::from_str(first_read).unwrap();
    assert_eq!(
        parsed.tables["public.users"].initial,
        Some(InitialRead { then: None })
    );
    assert_eq!(serde_json::to_string(&parsed).unwrap(), first_read);
}

#[test]
fn the_last_row_position_is_tracked_without_reallocating() {
    let inc = plan(Mode::Incremental(2));
    let mut last = read::LastRow::new(&inc);
    last.record(0, Some(b"1"));
    last.record(1, Some(b"ignored"));
    last.record(2, Some(b"2026-01-01 00:00:00+00"));
    last.record(0, Some(b"2"));
    last.record(2, None);
    assert_eq!(
        last.position(),
        Position {
            cursor: None,
            key: vec!["2".into()]
        }
    );
    let mut last = read::LastRow::new(&plan(Mode::Full));
    last.record(0, Some(b"5"));
    last.record(2, Some(b"x"));
    assert_eq!(
        last.position(),
        Position {
            cursor: None,
            key: vec!["5".into()]
        }
    );
    // The key column as the cursor (an append-only table): both places get it.
    let mut last = read::LastRow::new(&plan(Mode::Incremental(0)));
    last.record(0, Some(b"9"));
    assert_eq!(
        last.position(),
        Position {
            cursor: Some("9".into()),
            key: vec!["9".into()]
        }
    );
}
