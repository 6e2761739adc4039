//! TypeScript connectors end to end, through the real `airlock` binary, which
//! bundles and builds them with rolldown and ComponentizeJS (installed into
//! the test cache on first use): `guest-examples/js-hello` writes the same
//! tables as the Rust `hello`, resumes after a failure, and its errors keep
//! their kinds.

use crate::harness;
use std::path::PathBuf;

use harness::{Job, airlock_env, guest, repo, scalar};

fn js_hello() -> PathBuf {
    repo().join("guest-examples/js-hello")
}

fn dump(job: &Job, table: &str) -> Vec<Vec<String>> {
    job.query(&format!(
        "SELECT * EXCLUDE (_airlock_synced_at) FROM {table} ORDER BY id"
    ))
}

#[test]
fn spec_check_discover_and_the_same_tables_as_the_rust_hello() {
    let connector = js_hello();
    let spec = airlock_env(&["spec", &connector.display().to_string()], &[]).expect(0);
    let schema: serde_json::Value = serde_json::from_str(&spec.stdout).expect("spec is JSON");
    assert_eq!(schema["properties"]["users"]["default"], 1000, "{schema}");
    assert_eq!(schema["additionalProperties"], false, "{schema}");

    let config = "[config]\nusers = 300\ncheckpoint_every = 40\n";
    let js = Job::new(&connector, config);
    js.airlock(&["check"]).expect(0);
    let discover = js.airlock(&["discover", "--json"]).expect(0);
    assert!(discover.stdout.contains("\"users\""), "{}", discover.stdout);
    let bad = Job::new(&connector, "[config]\ncheckpoint_every = 0\n");
    let run = bad.airlock(&["check"]).expect(2);
    assert!(
        run.stderr
            .contains("config error: `checkpoint_every` must be at least 1"),
        "{}",
        run.stderr
    );
    let bad = Job::new(&connector, "[config]\nusers = \"many\"\n");
    let run = bad.airlock(&["check"]).expect(2);
    assert!(
        run.stderr
            .contains("invalid config at `users`: expected an integer, got a string"),
        "{}",
        run.stderr
    );

    let sync = js.airlock(&["sync", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(sync.stdout.trim()).unwrap();
    assert_eq!(report["tables"]["users"]["upserts"], 300, "{report}");
    assert_eq!(report["tables"]["users"]["deletes"], 30, "{report}");

    let rust = Job::new(&guest("guest-examples/hello"), config);
    rust.airlock(&["sync"]).expect(0);
    for t in ["users", "events"] {
        assert_eq!(
            dump(&js, t),
            dump(&rust, t),
            "{t}: every value as the Rust hello's"
        );
    }
    // A second run starts from the committed cursor: nothing new.
    let again = js.airlock(&["sync", "--json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert_eq!(
        report["tables"]["users"]["upserts"].as_i64().unwrap_or(0),
        0,
        "{report}"
    );
}

#[test]
fn an_exception_after_the_third_checkpoint_then_resume_equals_a_clean_run() {
    let connector = js_hello();
    let config = "[config]\nusers = 200\ncheckpoint_every = 20\n";
    let clean = Job::new(&connector, config);
    clean.airlock(&["sync"]).expect(0);

    let crashy = Job::new(&connector, &format!("{config}fail_after_checkpoints = 3\n"));
    let run = crashy.airlock(&["sync"]).expect(1);
    assert!(
        run.stderr
            .contains("connector error: uncaught Error in `sync`: js-hello: fault injected after 3 checkpoints"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("crashed"),
        "an exception is an error, not a trap: {}",
        run.stderr
    );
    assert_eq!(scalar(&crashy.db(), "SELECT count(*) FROM events"), 60);

    std::fs::write(
        &crashy.config,
        std::fs::read_to_string(&crashy.config)
            .unwrap()
            .replace("fail_after_checkpoints = 3\n", ""),
    )
    .unwrap();
    let run = crashy.airlock(&["sync", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(v["tables"]["users"]["upserts"], 140, "{v}");
    for t in ["users", "events"] {
        assert_eq!(dump(&clean, t), dump(&crashy, t), "{t}");
    }
}

/// A build error shows the bundler's own message, naming the file.
#[test]
fn a_build_error_shows_the_tools_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name": "broken", "type": "module", "airlock": {"entry": "c.ts"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.ts"),
        "import { Connector } from \"airlock-sdk\";\nexport default class C extends Connector {\n  discover( {\n}\n",
    )
    .unwrap();
    let run = airlock_env(&["spec", &dir.path().display().to_string()], &[]).expect(2);
    assert!(
        run.stderr.contains("with rolldown and ComponentizeJS") && run.stderr.contains("c.ts"),
        "{}",
        run.stderr
    );
}

const PROBE: &str = r#"
import { ColumnType, Connector, NetError, Table, net } from "airlock-sdk";

export default class Probe extends Connector {
  discover() {
    return [new Table("probes").column("name", ColumnType.TEXT).column("result", ColumnType.TEXT).key("name")];
  }
  sync(_config, _state, out) {
    // A write far over the host's 4096-byte limit per call, echoed back whole.
    const conn = net.connect("echo");
    const payload = new Uint8Array(100_000).map((_, i) => i % 251);
    conn.write(payload);
    let got = 0, same = true;
    while (got < payload.length) {
      const chunk = conn.read();
      if (chunk === null) break;
      for (let i = 0; i < chunk.length; i++) same &&= chunk[i] === payload[got + i];
      got += chunk.length;
    }
    out.upsert("probes", ["echo", `${got} ${same}`]);
    conn.close();
    // A peer that sends and closes: the end is null, not an exception.
    const bulk = net.connect("bulk");
    const all = bulk.readAll();
    out.upsert("probes", ["bulk", `${all.length} eof=${bulk.read() === null}`]);
    bulk.close();
    try {
      net.connect("nope");
    } catch (e) {
      out.upsert("probes", ["unknown", `${e instanceof NetError} ${e.netKind}`]);
    }
    out.upsert("probes", ["tls", String(net.endpoint("echo").tls)]);
  }
}
"#;

/// The network handle from TypeScript: writes over the 4096-byte limit, the
/// end of a stream as null, typed errors.
#[test]
fn network_handles_from_typescript() {
    use harness::net;
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let echo = net::echo_server();
    let bulk = net::bulk_server(300_000);
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        r#"{"name": "probe", "type": "module", "airlock": {"entry": "probe.js"}}"#,
    )
    .unwrap();
    std::fs::write(project.path().join("probe.js"), PROBE).unwrap();
    let job = Job::new(
        project.path(),
        &format!(
            "[endpoints.echo]\nhost = \"127.0.0.1\"\nport = {}\n\n[endpoints.bulk]\nhost = \"127.0.0.1\"\nport = {}\n",
            echo.port(),
            bulk.port()
        ),
    );
    let config = job.config.display().to_string();
    airlock_env(
        &["sync", "--config", &config],
        &[("AIRLOCK_EGRESS_POLICY", &policy)],
    )
    .expect(0);
    let r = job.query("SELECT name, result FROM probes ORDER BY name");
    let get = |n: &str| r.iter().find(|x| x[0] == n).map(|x| x[1].clone());
    assert_eq!(get("echo").as_deref(), Some("100000 true"), "{r:?}");
    assert_eq!(get("bulk").as_deref(), Some("300000 eof=true"), "{r:?}");
    assert_eq!(
        get("unknown").as_deref(),
        Some("true unknown-endpoint"),
        "{r:?}"
    );
    assert_eq!(get("tls").as_deref(), Some("disable"), "{r:?}");
}
