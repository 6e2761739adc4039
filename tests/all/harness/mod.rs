//! Shared helpers for the end-to-end tests: build the guest connectors once per
//! run, lay out a job in a temp dir, run the real `airlock` binary, and read
//! back the DuckDB file it wrote.

// The benches include sshd.rs and postgres.rs too and use helpers the tests do not.
#![allow(dead_code)]

pub mod net;
pub mod netns;
pub mod postgres;
pub mod sshd;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_owned()
}

/// Compiled component of a guest crate (`guest-examples/hello`,
/// `tests/guests/misbehave`, ...), built on first use with the same code path
/// `airlock` uses for `connector = "<crate dir>"`.
pub fn guest(crate_dir: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(crate_dir.to_owned())
        .or_insert_with(|| {
            airlock::guest_build::build(&repo().join(crate_dir))
                .unwrap_or_else(|e| panic!("building guest {crate_dir}: {e}"))
        })
        .clone()
}

/// Compiled-component cache shared by the tests (so only the first test compiles).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("airlock-component-cache")
}

/// A job laid out in its own temp directory.
pub struct Job {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Job {
    /// A connection file `airlock.toml` for `connector` with `body` appended
    /// (`[config]`, `[limits]`, ...) and a DuckDB destination `out.duckdb`.
    pub fn new(connector: &Path, body: &str) -> Job {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("airlock.toml");
        let text = format!(
            "name = \"test\"\nconnector = {:?}\n\n[destination]\nduckdb = \"out.duckdb\"\n\n{body}\n",
            connector.display().to_string()
        );
        std::fs::write(&config, text).expect("write config");
        Job { dir, config }
    }

    /// The DuckDB file this job writes.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("out.duckdb")
    }

    /// Runs `airlock <args> --config <this job's file>`.
    pub fn airlock(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config.display().to_string();
        all.extend(["--config", &config]);
        airlock(&all)
    }

    /// Opens the destination (after the binary exited, so no lock is held).
    pub fn db(&self) -> duckdb::Connection {
        duckdb::Connection::open(self.db_path()).expect("open the destination")
    }

    /// Rows of `sql` as strings (NULL as "NULL"), for comparing whole tables.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        query(&self.db(), sql)
    }
}

/// Rows of `sql` as strings, each column cast to VARCHAR by DuckDB.
pub fn query(db: &duckdb::Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| match row.get_ref(i).unwrap() {
                    duckdb::types::ValueRef::Null => "NULL".to_owned(),
                    _ => row
                        .get::<_, String>(i)
                        .unwrap_or_else(|_| format!("{:?}", row.get_ref(i).unwrap())),
                })
                .collect(),
        );
    }
    out
}

/// One number from `sql`.
pub fn scalar(db: &duckdb::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What a run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs the `airlock` binary built for these tests.
pub fn airlock(args: &[&str]) -> Run {
    airlock_env(args, &[])
}

/// Runs the `airlock` binary with extra environment variables.
pub fn airlock_env(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .envs(envs.iter().copied())
        .env("AIRLOCK_CACHE_DIR", cache_dir())
        .env_remove("AIRLOCK_LOG")
        .output()
        .expect("run airlock");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
