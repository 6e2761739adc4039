//! `hello` synced into DuckDB through the real `airlock` binary, read back.

use crate::harness;

use harness::{Job, guest, query, scalar};

fn hello(users: u64, every: u64) -> Job {
    Job::new(
        &guest("guest-examples/hello"),
        &format!("[config]\nusers = {users}\ncheckpoint_every = {every}\n"),
    )
}

fn next_id(job: &Job) -> i64 {
    let db = job.db();
    let state: String = db
        .query_row(
            "SELECT state FROM _airlock_state WHERE job = 'test'",
            [],
            |r| r.get(0),
        )
        .expect("a committed state");
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    v["next_id"].as_i64().expect("next_id in state")
}

#[test]
fn hello_lands_rows_deletes_types_and_state_and_resumes_incrementally() {
    let job = hello(50, 10);
    let run = job.airlock(&["sync"]).expect(0);
    assert!(run.stdout.contains("synced job `test`"), "{}", run.stdout);
    assert!(
        run.stdout.contains("users") && run.stdout.contains("events"),
        "{}",
        run.stdout
    );

    let db = job.db();
    assert_eq!(scalar(&db, "SELECT count(*) FROM users"), 50);
    assert_eq!(scalar(&db, "SELECT count(DISTINCT id) FROM users"), 50);
    assert_eq!(scalar(&db, "SELECT count(*) FROM events"), 50);
    // Every 10th user (id % 10 = 3) was deleted right after it was emitted: soft-deleted.
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM users WHERE _airlock_deleted"),
        5
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM users WHERE _airlock_deleted <> (id % 10 = 3)"
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM users WHERE _airlock_synced_at IS NULL"
        ),
        0
    );
    // A null where the connector sends one, typed columns where it declares them.
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM users WHERE email IS NULL"),
        10
    );
    let types = query(
        &db,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position",
    );
    let types: Vec<(String, String)> = types
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    for (col, ty) in [
        ("id", "BIGINT"),
        ("name", "VARCHAR"),
        ("score", "DOUBLE"),
        ("active", "BOOLEAN"),
        ("created_at", "TIMESTAMP"),
        ("birthday", "DATE"),
        ("balance", "DECIMAL(12,2)"),
        ("profile", "JSON"),
        ("avatar", "BLOB"),
        ("_airlock_synced_at", "TIMESTAMP"),
        ("_airlock_deleted", "BOOLEAN"),
    ] {
        assert!(
            types.contains(&(col.to_owned(), ty.to_owned())),
            "users.{col} should be {ty}: {types:?}"
        );
    }
    let first = next_id(&job);
    assert_eq!(scalar(&db, "SELECT max(id) FROM users") + 1, first);
    let checkpoints = scalar(
        &db,
        "SELECT checkpoints FROM _airlock_state WHERE job = 'test'",
    );
    assert!(
        checkpoints >= 5,
        "checkpointed every 10 of 50 users, got {checkpoints}"
    );
    drop(db);

    // Nothing new at the source: the next run emits nothing.
    let run = job.airlock(&["sync", "--json"]).expect(0);
    assert!(
        run.stdout
            .contains(r#""users":{"deletes":0,"truncates":0,"upserts":0}"#),
        "{}",
        run.stdout
    );

    // The source grows: the cursor picks up just the 50 new users, nothing twice.
    let text = std::fs::read_to_string(&job.config)
        .unwrap()
        .replace("users = 50", "users = 100");
    std::fs::write(&job.config, text).unwrap();
    job.airlock(&["sync"]).expect(0);
    let db = job.db();
    assert_eq!(scalar(&db, "SELECT count(*) FROM users"), 100);
    assert_eq!(scalar(&db, "SELECT count(DISTINCT id) FROM users"), 100);
    assert_eq!(next_id(&job), first + 50);
    drop(db);

    // Reset forgets the state, keeps the rows; the replay upserts the same keys.
    let run = job.airlock(&["reset"]).expect(0);
    assert!(
        run.stdout.contains("forgot the state of job `test`"),
        "{}",
        run.stdout
    );
    assert_eq!(scalar(&job.db(), "SELECT count(*) FROM _airlock_state"), 0);
    job.airlock(&["reset"]).expect(0);
    job.airlock(&["sync"]).expect(0);
    assert_eq!(scalar(&job.db(), "SELECT count(*) FROM users"), 100);
    assert_eq!(next_id(&job), first + 50);
}

#[test]
fn sync_json_reports_per_table_counts() {
    let job = hello(30, 7);
    let run = job.airlock(&["sync", "--json"]).expect(0);
    let v: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).expect("one JSON document on stdout");
    assert_eq!(v["ok"], true);
    assert_eq!(v["job"], "test");
    assert_eq!(v["tables"]["users"]["upserts"], 30);
    assert_eq!(v["tables"]["users"]["deletes"], 3);
    assert_eq!(v["tables"]["events"]["upserts"], 30);
    assert!(v["checkpoints"].as_u64().unwrap() >= 4, "{v}");
    assert!(v["elapsed"].as_f64().unwrap() > 0.0);
}

/// `cd job && airlock sync -c airlock.toml`: a bare file name is in the
/// current directory (its parent is "", not an error).
#[test]
fn a_bare_config_file_name_is_found_in_the_current_directory() {
    let job = hello(5, 5);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["sync", "-c", "airlock.toml"])
        .current_dir(job.dir.path())
        .env("AIRLOCK_CACHE_DIR", harness::cache_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(harness::scalar(&job.db(), "SELECT count(*) FROM users"), 5);
}

#[test]
fn spec_discover_and_check() {
    let wasm = guest("guest-examples/hello");
    let run = harness::airlock(&["spec", wasm.to_str().unwrap()]).expect(0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("spec is JSON");
    assert!(schema["properties"]["users"].is_object(), "{schema}");
    assert!(
        schema["properties"]["checkpoint_every"].is_object(),
        "{schema}"
    );

    let job = hello(5, 5);
    let run = job.airlock(&["discover"]).expect(0);
    assert!(run.stdout.contains("users — key (id)"), "{}", run.stdout);
    assert!(run.stdout.contains("events — key (id)"), "{}", run.stdout);
    let run = job.airlock(&["discover", "--json"]).expect(0);
    let tables: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(tables.as_array().unwrap().len(), 2);

    let run = job.airlock(&["check"]).expect(0);
    assert!(
        run.stdout.contains("connector check passed"),
        "{}",
        run.stdout
    );
    // Nothing was written by spec, discover or check.
    assert!(!job.db_path().exists());

    let bad = hello(5, 0);
    let run = bad.airlock(&["check"]).expect(2);
    assert!(run.stderr.contains("checkpoint_every"), "{}", run.stderr);
}

#[test]
fn a_crate_directory_is_built_by_airlock() {
    // `connector = "<crate dir>"`, as in guest-examples/hello/airlock.toml.
    let dir = harness::repo().join("guest-examples/hello");
    let job = Job::new(&dir, "[config]\nusers = 3\n");
    job.airlock(&["sync"]).expect(0);
    assert_eq!(scalar(&job.db(), "SELECT count(*) FROM users"), 3);
}

#[test]
fn relative_paths_resolve_against_the_connection_file() {
    // As in the README: `airlock sync --config some/dir/airlock.toml` from elsewhere,
    // with `connector` a crate directory relative to the file.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        harness::repo().join("guest-examples/hello"),
        root.path().join("hello-crate"),
    )
    .unwrap();
    std::fs::create_dir(root.path().join("jobs")).unwrap();
    std::fs::write(
        root.path().join("jobs/airlock.toml"),
        "connector = \"../hello-crate\"\n[config]\nusers = 4\n[destination]\nduckdb = \"out.duckdb\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["sync", "--config", "jobs/airlock.toml"])
        .current_dir(root.path())
        .env("AIRLOCK_CACHE_DIR", harness::cache_dir())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = duckdb::Connection::open(root.path().join("jobs/out.duckdb")).unwrap();
    assert_eq!(scalar(&db, "SELECT count(*) FROM users"), 4);
}
