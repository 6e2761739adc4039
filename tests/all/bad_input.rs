//! Bad input gets a clear error, the right exit code, and writes nothing.

use crate::harness;

use harness::{Job, airlock, guest, repo};

fn assert_nothing_written(job: &Job) {
    assert!(
        !job.db_path().exists(),
        "no destination may be created for bad input"
    );
}

#[test]
fn malformed_connection_files_name_the_key_and_line() {
    let hello = guest("guest-examples/hello");

    let job = Job::new(&hello, "[limits]\nmemory_mb = \"lots\"\n");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr
            .contains("limits.memory_mb: invalid type: string \"lots\", expected u64"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("airlock.toml"),
        "the file is named: {}",
        run.stderr
    );
    assert_nothing_written(&job);

    let job = Job::new(&hello, "[config\nusers = 1\n");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(run.stderr.contains("(line 7)"), "{}", run.stderr);
    assert_nothing_written(&job);

    let job = Job::new(&hello, "[limits]\nmemroy_mb = 1\n");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr.contains("unknown field `memroy_mb`"),
        "{}",
        run.stderr
    );

    let job = Job::new(
        &hello,
        "[config]\npassword = { env = \"AIRLOCK_TEST_UNSET_VAR\" }\n",
    );
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr
            .contains("config.password: environment variable AIRLOCK_TEST_UNSET_VAR is not set"),
        "{}",
        run.stderr
    );
    assert_nothing_written(&job);

    let run = airlock(&["sync", "--config", "/nonexistent/airlock.toml"]).expect(2);
    assert!(
        run.stderr
            .contains("cannot read config file /nonexistent/airlock.toml"),
        "{}",
        run.stderr
    );

    let run = airlock(&["sync"]).expect(2);
    assert!(
        run.stderr.contains("--config"),
        "clap names the missing flag: {}",
        run.stderr
    );
}

#[test]
fn files_that_are_not_connectors_are_named_plainly() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.wasm");
    let job = Job::new(&missing, "");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr
            .contains(&format!("connector: {} does not exist", missing.display())),
        "{}",
        run.stderr
    );

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello, I am text").unwrap();
    let job = Job::new(&text, "");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr.contains("is not a WebAssembly file"),
        "{}",
        run.stderr
    );
    assert_nothing_written(&job);

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let job = Job::new(&core, "");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr
            .contains("is a core WebAssembly module, not a component"),
        "{}",
        run.stderr
    );
    assert_nothing_written(&job);

    let other = guest("tests/guests/wrong-version");
    let job = Job::new(&other, "");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr
            .contains("was built for the airlock contract airlock:connector@0.2.0")
            && run
                .stderr
                .contains("this airlock speaks airlock:connector@0.1.0"),
        "{}",
        run.stderr
    );
    assert_nothing_written(&job);

    let not_a_dir_crate = dir.path().join("empty-dir");
    std::fs::create_dir(&not_a_dir_crate).unwrap();
    let job = Job::new(&not_a_dir_crate, "");
    let run = job.airlock(&["sync"]).expect(2);
    assert!(
        run.stderr.contains("is a directory without a Cargo.toml"),
        "{}",
        run.stderr
    );
    let _ = repo();
}

fn misbehave(mode: &str) -> Job {
    Job::new(
        &guest("tests/guests/misbehave"),
        &format!("[config]\nmode = \"{mode}\"\n"),
    )
}

#[test]
fn a_panicking_connector_shows_the_panic_and_how_far_it_got() {
    let job = misbehave("panic");
    let run = job.airlock(&["sync"]).expect(1);
    assert!(
        run.stderr.contains("the connector crashed in `sync`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("boom at row 42"), "{}", run.stderr);
    assert!(
        run.stderr.contains("reached: items 42 · 1 checkpoints"),
        "{}",
        run.stderr
    );
    // The checkpointed rows stay.
    assert_eq!(harness::scalar(&job.db(), "SELECT count(*) FROM items"), 42);
}

#[test]
fn contract_violations_and_source_errors_are_reported() {
    let run = misbehave("bad-row").airlock(&["sync"]).expect(1);
    assert!(
        run.stderr
            .contains("table `items` row 0 column `body`: expected text, got int"),
        "{}",
        run.stderr
    );

    // The SDK lays rows out by column; a row of another shape than the rows
    // batched before it is sent on its own, and gets the same message.
    let run = misbehave("bad-row-after-good").airlock(&["sync"]).expect(1);
    assert!(
        run.stderr
            .contains("table `items` row 0 column `body`: expected text, got int"),
        "{}",
        run.stderr
    );

    let run = misbehave("undeclared-table").airlock(&["sync"]).expect(1);
    assert!(
        run.stderr
            .contains("was not returned by `discover` (tables: items)"),
        "{}",
        run.stderr
    );

    let run = misbehave("source-error").airlock(&["sync"]).expect(1);
    assert!(
        run.stderr
            .contains("source error: table `orders` does not exist"),
        "{}",
        run.stderr
    );

    let run = misbehave("no-such-mode").airlock(&["sync"]).expect(2);
    assert!(run.stderr.contains("config error"), "{}", run.stderr);
}

#[test]
fn secrets_never_reach_logs_or_errors() {
    let job = Job::new(
        &guest("tests/guests/misbehave"),
        "[config]\nmode = \"leak-secret\"\npassword = { env = \"AIRLOCK_TEST_PASSWORD\" }\n",
    );
    let config = job.config.to_str().unwrap();
    let run = harness::airlock_env(
        &["sync", "--config", config],
        &[("AIRLOCK_TEST_PASSWORD", "pa55-w0rd-xyz")],
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{all}");
    assert!(!all.contains("pa55-w0rd-xyz"), "secret leaked: {all}");
    assert!(
        all.contains("***"),
        "the leak attempts are visible, masked: {all}"
    );
}

#[test]
fn the_sandbox_has_no_ambient_authority() {
    let job = misbehave("escape");
    let config = job.config.to_str().unwrap();
    let run = harness::airlock_env(
        &["sync", "--config", config],
        &[(
            "AIRLOCK_HOST_ONLY",
            "set in the host, invisible to the connector",
        )],
    );
    let stderr = run.stderr;
    assert_eq!(run.code, 1, "{stderr}");
    assert!(
        stderr.contains("escape report: env vars=0 args=0 fs=denied tcp=denied dns=denied"),
        "{stderr}"
    );
}

#[test]
fn the_scratch_dir_is_the_only_filesystem() {
    let job = Job::new(
        &guest("tests/guests/misbehave"),
        "scratch_dir = \"scratch\"\n[config]\nmode = \"scratch\"\n",
    );
    // `scratch_dir` is a top-level key: put it before the tables.
    let text = std::fs::read_to_string(&job.config).unwrap();
    let text = text.replace("scratch_dir = \"scratch\"\n", "");
    std::fs::write(&job.config, format!("scratch_dir = \"scratch\"\n{text}")).unwrap();
    let run = job.airlock(&["sync"]).expect(0);
    let note = std::fs::read_to_string(job.dir.path().join("scratch/note.txt")).unwrap();
    assert_eq!(note, "written by the connector");
    assert!(
        run.stderr.contains("escaped via ..: false"),
        "{}",
        run.stderr
    );
}
