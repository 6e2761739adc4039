//! Unit tests of the connection file as a whole: its top level, `[config]`,
//! `[limits]`, secrets and the errors' key paths.

use super::*;

/// The message, as the user sees it: the assertions compare words.
fn parse(text: &str) -> Result<JobConfig, String> {
    JobConfig::parse(text, Path::new("/jobs"), "shop").map_err(|e| e.to_string())
}

#[test]
fn minimal_file_gets_defaults_and_absolute_paths() {
    let c = parse("connector = \"hello.wasm\"\n[destination]\nduckdb = \"out.duckdb\"\n").unwrap();
    assert_eq!(c.name, "shop");
    assert_eq!(c.connector, Path::new("/jobs/hello.wasm"));
    assert_eq!(
        c.destination,
        Some(Destination::DuckDb("/jobs/out.duckdb".into()))
    );
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.connector_config, serde_json::json!({}));
    assert!(c.scratch_dir.is_none());
}

#[test]
fn config_table_becomes_json() {
    let c = parse(
        r#"
        name = "orders"
        connector = "c.wasm"
        [config]
        users = 10
        ratio = 0.5
        on = true
        tags = ["a", "b"]
        since = 2024-01-02T03:04:05Z
        [config.nested]
        deep = "x"
        "#,
    )
    .unwrap();
    assert_eq!(c.name, "orders");
    assert_eq!(
        c.connector_config,
        serde_json::json!({"users": 10, "ratio": 0.5, "on": true, "tags": ["a","b"],
            "since": "2024-01-02T03:04:05Z", "nested": {"deep": "x"}})
    );
}

#[test]
fn secrets_resolve_from_env_and_file_and_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "file-secret-1\n").unwrap();
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("AIRLOCK_TEST_SECRET_A", "env-secret-1") };
    let c = JobConfig::parse(
        "connector = \"c.wasm\"\n[config]\npassword = { env = \"AIRLOCK_TEST_SECRET_A\" }\n\
         token = { file = \"pw\" }\nplain = { env = \"X\", other = 1 }\n",
        dir.path(),
        "j",
    )
    .unwrap();
    assert_eq!(c.connector_config["password"], "env-secret-1");
    assert_eq!(c.connector_config["token"], "file-secret-1");
    // A table with more keys is ordinary data, not a reference.
    assert_eq!(
        c.connector_config["plain"],
        serde_json::json!({"env": "X", "other": 1})
    );
    assert_eq!(
        c.redactor.redact("auth env-secret-1 / file-secret-1"),
        "auth *** / ***"
    );
}

#[test]
fn missing_secret_names_the_key_and_the_variable_not_a_value() {
    let e = parse("connector = \"c.wasm\"\n[config]\ndb = { password = { env = \"AIRLOCK_SURELY_UNSET\" } }\n")
        .unwrap_err();
    assert_eq!(
        e,
        "config.db.password: environment variable AIRLOCK_SURELY_UNSET is not set; \
         export it, or give the secret as { file = \"...\" }"
    );
    let e = parse("connector = \"c.wasm\"\n[config]\nkey = { file = \"nope/key\" }\n").unwrap_err();
    assert!(
        e.starts_with("config.key: cannot read secret file /jobs/nope/key"),
        "{e}"
    );
}

#[test]
fn wrong_types_and_unknown_keys_name_the_key_path_and_line() {
    let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = \"lots\"\n").unwrap_err();
    assert!(
        e.starts_with("limits.memory_mb: invalid type: string \"lots\", expected u64"),
        "{e}"
    );
    assert!(e.ends_with("(line 3)"), "{e}");

    let e = parse("connector = \"c.wasm\"\n[limits]\nmemroy_mb = 5\n").unwrap_err();
    assert!(
        e.contains("unknown field `memroy_mb`, expected one of"),
        "{e}"
    );
    assert!(e.starts_with("limits"), "{e}");

    let e = parse("connecter = \"c.wasm\"\n").unwrap_err();
    assert!(e.contains("unknown field `connecter`"), "{e}");

    let e = parse("[config]\nx = 1\n").unwrap_err();
    assert!(e.contains("missing field `connector`"), "{e}");

    let e = parse("connector = \"c.wasm\"\n[destination]\nduckdb = 3\n").unwrap_err();
    assert!(
        e.starts_with("destination.duckdb: invalid type: integer `3`"),
        "{e}"
    );
}

#[test]
fn limits_are_validated() {
    let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 0\n").unwrap_err();
    assert_eq!(e, "limits.memory_mb: must be at least 1");
    let e = parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 10000\n").unwrap_err();
    assert!(e.contains("at most 4096"), "{e}");
    let c =
        parse("connector = \"c.wasm\"\n[limits]\nmemory_mb = 64\ncall_timeout_secs = 2\n").unwrap();
    assert_eq!(c.limits.memory_mb, 64);
    assert_eq!(c.limits.call_timeout_secs, 2);
    assert_eq!(c.limits.buffered_rows, Limits::default().buffered_rows);
}

#[test]
fn syntax_errors_give_the_line() {
    let e = parse("connector = \"c.wasm\"\n[config\n").unwrap_err();
    assert!(e.contains("(line 2)"), "{e}");
}

#[test]
fn destination_is_required_only_where_needed() {
    let c = parse("connector = \"c.wasm\"\n").unwrap();
    assert!(
        c.require_destination()
            .unwrap_err()
            .to_string()
            .contains("[destination]")
    );
}

#[test]
fn errors_carry_the_key_and_the_problem_apart() {
    let typed = |text: &str| JobConfig::parse(text, Path::new("/jobs"), "shop").unwrap_err();
    let ConfigError::Key { key, problem } =
        typed("connector = \"c.wasm\"\n[limits]\nmemory_mb = 0\n")
    else {
        panic!("a key error")
    };
    assert_eq!(
        (key.as_str(), problem.as_str()),
        ("limits.memory_mb", "must be at least 1")
    );

    // From the TOML reader: the key path serde found, the problem with its line.
    let e = typed("connector = \"c.wasm\"\n[limits]\nmemory_mb = \"lots\"\n");
    assert_eq!(e.key_path(), Some("limits.memory_mb"));
    let e = typed(
        "connector = \"c.wasm\"\n[endpoints.db]\nhost = \"db\"\nport = 1\n[endpoints.db.via.ssh]\nhost = \"\"\nuser = \"u\"\n",
    );
    assert_eq!(e.key_path(), Some("endpoints.db.via.ssh.host"));

    // Nothing to name but the line.
    let e = typed("connector = \"c.wasm\"\n[config\n");
    assert!(matches!(e, ConfigError::Toml { .. }), "{e:?}");
    assert_eq!(e.key_path(), None);

    let c = parse("connector = \"c.wasm\"\n").unwrap();
    assert_eq!(
        c.require_destination().unwrap_err().key_path(),
        Some("destination")
    );
}

#[test]
fn load_names_the_file_before_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.toml");
    std::fs::write(&file, "connector = \"c.wasm\"\n[limits]\nmemory_mb = 0\n").unwrap();
    let e = JobConfig::load(&file).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: limits.memory_mb: must be at least 1", file.display())
    );
    assert_eq!(e.key_path(), Some("limits.memory_mb"));

    let missing = dir.path().join("nope.toml");
    let e = JobConfig::load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot read config file {}: ", missing.display())),
        "{e}"
    );

    std::fs::write(&file, "connector = \"c.wasm\"\n").unwrap();
    let c = JobConfig::load(&file).unwrap();
    assert_eq!(c.name, "shop");
    assert_eq!(c.connector, dir.path().join("c.wasm"));
}
