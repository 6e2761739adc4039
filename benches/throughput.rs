//! Rows per second of `hello` generating users and events into DuckDB through
//! the sandbox, side by side with a native Rust program that writes the same
//! rows (same values, same table definitions) with DuckDB's appender — the
//! limit for this destination.
//!
//! Run: `cargo bench --bench throughput` (release profile).
//! `AIRLOCK_BENCH_USERS` sets the number of users (default 1,000,000; each user
//! is one `users` row and one `events` row).

// The allocator the `airlock` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::config::JobConfig;
use airlock::job::Runtime;
use airlock::job::{self, Progress};
use airlock::net::EgressPolicy;
use airlock::sandbox::SandboxOptions;
use airlock::sink::DuckDbCell as Cell;
use duckdb::appender_params_from_iter;

// The native side generates rows with hello's own row code, compiled natively:
// `rows.rs` says `use airlock_sdk::{Row, Value}`, which this alias resolves to
// the host's identical `Row` and `Value`.
extern crate self as airlock_sdk;
use airlock::schema::{Row, Value};
#[path = "../guest-examples/hello/src/rows.rs"]
#[allow(dead_code)]
mod rows;

const USERS_DDL: &str = "CREATE TABLE users (id BIGINT NOT NULL, name VARCHAR NOT NULL, email VARCHAR, \
    score DOUBLE NOT NULL, active BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL, birthday DATE NOT NULL, \
    balance DECIMAL(12,2) NOT NULL, profile JSON NOT NULL, avatar BLOB NOT NULL, \
    _airlock_synced_at TIMESTAMP NOT NULL, _airlock_deleted BOOLEAN NOT NULL DEFAULT false, PRIMARY KEY (id))";
const EVENTS_DDL: &str = "CREATE TABLE events (id BIGINT NOT NULL, user_id BIGINT NOT NULL, kind VARCHAR NOT NULL, \
    \"at\" TIMESTAMP NOT NULL, _airlock_synced_at TIMESTAMP NOT NULL, _airlock_deleted BOOLEAN NOT NULL DEFAULT false, \
    PRIMARY KEY (id))";

/// The native reference: generate and append every row, commit once per 100,000 users.
fn native(users: i64, path: &std::path::Path) -> Duration {
    let start = Instant::now();
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch(&format!("{USERS_DDL}; {EVENTS_DDL};"))
        .unwrap();
    let now = Value::Timestamp(1_700_000_000_000_000);
    let deleted = Value::Boolean(false);
    let mut id = 1;
    while id <= users {
        let end = (id + 100_000).min(users + 1);
        conn.execute_batch("BEGIN").unwrap();
        {
            let mut u = conn.appender("users").unwrap();
            let mut e = conn.appender("events").unwrap();
            for i in id..end {
                let row: Row = rows::user(i);
                u.append_row(appender_params_from_iter(
                    row.iter().chain([&now, &deleted]).map(Cell),
                ))
                .unwrap();
                let row: Row = rows::event(i);
                e.append_row(appender_params_from_iter(
                    row.iter().chain([&now, &deleted]).map(Cell),
                ))
                .unwrap();
            }
        }
        conn.execute_batch("COMMIT").unwrap();
        id = end;
    }
    start.elapsed()
}

fn main() {
    let users: i64 = std::env::var("AIRLOCK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let wasm =
        airlock::guest_build::build(&repo.join("guest-examples/hello")).expect("build hello");
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(dir.path().join("cache")),
            pooled_instances: None,
        },
        EgressPolicy::default(),
    )
    .unwrap();

    let mut airlock_times = Vec::new();
    let mut native_times = Vec::new();
    for round in 0..3 {
        let cfg = JobConfig::parse(
            &format!(
                "connector = {:?}\n[config]\nusers = {users}\ncheckpoint_every = 100000\n[destination]\nduckdb = \"airlock-{round}.duckdb\"\n[limits]\nbuffered_rows = 250000\n",
                wasm.display().to_string()
            ),
            dir.path(),
            "bench",
        )
        .unwrap();
        let report = rt
            .block_on(job::sync(&sandbox, &cfg, Arc::new(Progress::default())))
            .expect("sync");
        airlock_times.push(report.stats.elapsed);
        native_times.push(native(
            users,
            &dir.path().join(format!("native-{round}.duckdb")),
        ));
        // Same disk state for every round: remove what this round wrote.
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if f.path()
                .extension()
                .is_some_and(|e| e == "duckdb" || e == "wal")
            {
                let _ = std::fs::remove_file(f.path());
            }
        }
        eprintln!(
            "round {round}: airlock {:?}, native {:?}",
            airlock_times[round], native_times[round]
        );
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap();
    let rows = (2 * users) as f64;
    let a = rows / best(&airlock_times).as_secs_f64();
    let n = rows / best(&native_times).as_secs_f64();
    println!(
        "{users} users = {} rows (users + events), best of 3:",
        2 * users
    );
    println!(
        "  airlock (hello.wasm -> sandbox -> DuckDB sink) {:>12.0} rows/s",
        a
    );
    println!(
        "  native Rust, DuckDB appender                    {:>12.0} rows/s",
        n
    );
    println!(
        "  ratio airlock / native                          {:>12.2}x",
        a / n
    );
}
