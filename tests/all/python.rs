//! Python connectors end to end, through the real `airlock` binary, which
//! builds them with componentize-py (installed into the test cache on first
//! use): `guest-examples/python-rest-api` against the demo's HTTPS API behind
//! an OpenSSH bastion, and small connectors written here for the SDK's edges.

use crate::harness;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use airlock::demo::api::{ApiOptions, ApiServer, DemoCa};
use harness::net::{self, Server};
use harness::sshd::{self, Sshd};
use harness::{Job, airlock_env, repo, scalar};

fn rest_api() -> PathBuf {
    repo().join("guest-examples/python-rest-api")
}

/// Runs `airlock` with loopback allowed (every peer here is on loopback).
fn run(args: &[&str], policy: &str) -> harness::Run {
    airlock_env(args, &[("AIRLOCK_EGRESS_POLICY", policy)])
}

/// The demo API over HTTPS for `localhost` (certificate from a test CA whose
/// PEM is written to `dir/ca.pem`).
fn https_api(dir: &Path, customers: u64) -> ApiServer {
    let ca = DemoCa::new().expect("test CA");
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).unwrap();
    let tls = ca.issue("localhost").expect("certificate");
    net::runtime()
        .block_on(ApiServer::start(
            "127.0.0.1:0".parse().unwrap(),
            Some(tls),
            ApiOptions {
                customers,
                ..ApiOptions::default()
            },
        ))
        .expect("start the API")
}

/// A connector project written into a temp dir: `pyproject.toml` naming
/// `module:Class`, and `files`.
fn project(target: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!("[project]\nname = \"t\"\n\n[tool.airlock]\nconnector = \"{target}\"\n"),
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The customers API through an OpenSSH bastion with TLS to the API's real
/// name: spec, check (route, host key, TLS, then the connector's own check),
/// discover, a sync the API fails half way, the resume that completes it,
/// and an incremental sync.
#[test]
fn rest_api_through_an_openssh_bastion_with_tls_resumes_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let api = https_api(dir.path(), 3000);
    let sshd = Sshd::start("");
    let (_, public) = sshd::ssh_keygen(dir.path(), "client", &["-t", "ed25519"], "");
    sshd.authorize(&public);

    let connector = rest_api();
    let spec = run(&["spec", &connector.display().to_string()], &policy).expect(0);
    let schema: serde_json::Value = serde_json::from_str(&spec.stdout).expect("spec is JSON");
    assert_eq!(schema["required"], serde_json::json!(["path"]), "{schema}");
    assert_eq!(schema["properties"]["page_size"]["default"], 100);
    assert!(
        schema["properties"]["endpoint"]["description"]
            .as_str()
            .unwrap()
            .contains("endpoint"),
        "descriptions come from Annotated: {schema}"
    );

    let body = format!(
        "[config]\npath = \"/v1/customers\"\npage_size = 50\n\n\
         [endpoints.api]\nhost = \"localhost\"\nport = {port}\ntls = \"require\"\nca_file = {ca:?}\n\n\
         [endpoints.api.via.ssh]\nhost = \"127.0.0.1\"\nport = {ssh}\nuser = \"{user}\"\n\
         private_key = {{ file = {key:?} }}\nhost_key = \"{fp}\"\n",
        port = api.local_addr().port(),
        ca = dir.path().join("ca.pem").display().to_string(),
        ssh = sshd.port,
        user = sshd::USER,
        key = dir.path().join("client").display().to_string(),
        fp = sshd.host_fingerprint(),
    );
    let job = Job::new(&connector, &body);
    let config = job.config.display().to_string();

    let check = run(&["check", "--config", &config], &policy).expect(0);
    assert!(
        check
            .stdout
            .contains(&format!("ssh {}@127.0.0.1:{}", sshd::USER, sshd.port)),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("tls: TLSv1.3"), "{}", check.stdout);
    assert!(
        check.stdout.contains("connector check passed"),
        "{}",
        check.stdout
    );

    let discover = run(&["discover", "--config", &config, "--json"], &policy).expect(0);
    let tables: serde_json::Value = serde_json::from_str(&discover.stdout).unwrap();
    assert_eq!(tables[0]["name"], "customers", "{tables}");
    assert_eq!(tables[0]["primary_key"], serde_json::json!(["id"]));
    let amount = tables[0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "amount")
        .expect("an amount column")
        .clone();
    assert!(
        amount["type"].as_str().unwrap().contains("18") && amount["nullable"] == true,
        "{amount}"
    );

    // The API fails once some pages are committed: the sync fails with the
    // API's error, keeping what its checkpoints committed.
    let requests_before = api.requests();
    let api = Arc::new(api);
    let done = Arc::new(AtomicBool::new(false));
    let injector = {
        let (api, done) = (api.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if api.requests() >= requests_before + 5 {
                    api.fail_next(503);
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    let failed = run(&["sync", "--config", &config], &policy);
    done.store(true, Ordering::SeqCst);
    injector.join().unwrap();
    let failed = failed.expect(1);
    assert!(
        failed.stderr.contains("source error")
            && failed
                .stderr
                .contains("failed with HTTP 503 for GET /v1/customers"),
        "{}",
        failed.stderr
    );
    let db = job.db();
    let committed = scalar(&db, "SELECT count(*) FROM customers");
    assert!(
        (200..3000).contains(&committed) && committed % 50 == 0,
        "whole pages up to the last checkpoint: {committed}"
    );
    drop(db);

    let resumed = run(&["sync", "--config", &config, "--json"], &policy).expect(0);
    let report: serde_json::Value = serde_json::from_str(resumed.stdout.trim()).unwrap();
    assert_eq!(
        report["tables"]["customers"]["upserts"].as_i64().unwrap(),
        3000 - committed,
        "the resumed sync emits only what was not committed: {report}"
    );
    let db = job.db();
    assert_eq!(
        scalar(&db, "SELECT count(DISTINCT id) FROM customers"),
        3000
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM customers"), 3000);
    for id in [1u64, 17, 1234, 3000] {
        let c = api.customer(id).unwrap();
        let row = &job.query(&format!(
            "SELECT name, email, plan, amount::VARCHAR, epoch_us(updated_at)::VARCHAR FROM customers WHERE id = {id}"
        ))[0];
        assert_eq!(row[0], c.name);
        assert_eq!(row[1], c.email.clone().unwrap_or_else(|| "NULL".into()));
        assert_eq!(row[2], c.plan);
        assert_eq!(row[3], c.amount, "decimal(18, 2) as the API sent it");
        assert_eq!(row[4], c.updated_at.to_string());
    }
    drop(db);

    api.touch([5, 6, 7]);
    let incremental = run(&["sync", "--config", &config, "--json"], &policy).expect(0);
    let report: serde_json::Value = serde_json::from_str(incremental.stdout.trim()).unwrap();
    assert_eq!(report["tables"]["customers"]["upserts"], 3, "{report}");
    assert!(
        job.query("SELECT name FROM customers WHERE id = 6")[0][0].ends_with("(rev 1)"),
        "the touched row is updated"
    );
}

/// What the config says wrong is a config error (exit 2) naming the field;
/// the API's answers are mapped to the contract's kinds.
#[test]
fn config_and_source_errors_keep_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let api = https_api(dir.path(), 10);
    let endpoint = format!(
        "[endpoints.api]\nhost = \"localhost\"\nport = {}\ntls = \"require\"\nca_file = {:?}\n",
        api.local_addr().port(),
        dir.path().join("ca.pem").display().to_string()
    );
    let connector = rest_api();
    for (config, code, says) in [
        (
            "path = \"/v1/customers\"\npage_size = 0\n",
            2,
            "config error: `page_size` must be 1..=1000, not 0",
        ),
        (
            "path = \"/v1/customers\"\npage_sise = 10\n",
            2,
            "config error: invalid config at `page_sise`: unknown field",
        ),
        (
            "page_size = 10\n",
            2,
            "config error: invalid config: missing field `path`",
        ),
        (
            "path = \"/v1/customers\"\npage_size = \"ten\"\n",
            2,
            "invalid config at `page_size`: expected an integer, got a string",
        ),
        (
            "path = \"/v2/nothing\"\n",
            2,
            "`path` /v2/nothing does not exist on endpoint `api` (HTTP 404)",
        ),
        (
            "path = \"/v1/customers\"\nendpoint = \"nope\"\n",
            2,
            "there is no endpoint `nope` in the connection config",
        ),
    ] {
        let job = Job::new(&connector, &format!("[config]\n{config}\n{endpoint}"));
        let check = run(
            &["check", "--config", &job.config.display().to_string()],
            &policy,
        );
        assert_eq!(check.code, code, "{config}: {}", check.stderr);
        assert!(check.stderr.contains(says), "{config}: {}", check.stderr);
    }
}

const PROBE: &str = r#"
from dataclasses import dataclass
from airlock_sdk import ColumnType, Connector, NetError, Table, net

@dataclass
class Config:
    bulk_bytes: int
    fail: bool = False

class Probe(Connector):
    Config = Config

    def discover(self, config):
        return [Table("probes").column("name", ColumnType.TEXT).column("result", ColumnType.TEXT).key("name")]

    def sync(self, config, state, out):
        # A write far over the host's 4096-byte limit per call, echoed back whole.
        conn = net.connect("echo")
        payload = bytes(range(256)) * 400
        conn.write(payload)
        got = bytearray()
        while len(got) < len(payload):
            chunk = conn.read(65536)
            if not chunk:
                break
            got += chunk
        out.upsert("probes", ("echo", f"{len(got)} {got == payload}"))
        conn.close()
        # A peer that sends and closes: the end is b"", not an exception.
        with net.connect("bulk") as conn:
            data = conn.read()
            out.upsert("probes", ("bulk", f"{len(data)} eof={conn.read(10) == b''}"))
        # Streams dropped with the connection, without close.
        for _ in range(20):
            c = net.connect("echo")
            c.write(b"x")
            c.read(1)
            del c
        out.upsert("probes", ("dropped", "20"))
        try:
            net.connect("nope")
        except NetError as e:
            out.upsert("probes", ("unknown", f"{e.net_kind}: {'echo' in e.detail}"))
        out.upsert("probes", ("endpoints", ",".join(sorted(e.name for e in net.endpoints()))))
        if config.fail:
            {}["missing"]
"#;

/// The network handle as a file: writes over the 4096-byte limit, the end of
/// a stream as `b""`, streams dropped before their connection, typed
/// errors; and an uncaught exception is an internal error with a traceback.
#[test]
fn network_handles_behave_like_files_and_uncaught_exceptions_are_internal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let echo: Server = net::echo_server();
    let bulk = net::bulk_server(300_000);
    let probe = project("probe:Probe", &[("probe.py", PROBE)]);
    let endpoints = format!(
        "[endpoints.echo]\nhost = \"127.0.0.1\"\nport = {}\n\n[endpoints.bulk]\nhost = \"127.0.0.1\"\nport = {}\n\n[limits]\nconnections = 4\n",
        echo.port(),
        bulk.port()
    );
    let job = Job::new(
        probe.path(),
        &format!("[config]\nbulk_bytes = 300000\n\n{endpoints}"),
    );
    let config = job.config.display().to_string();
    run(&["sync", "--config", &config], &policy).expect(0);
    let r = job.query("SELECT name, result FROM probes ORDER BY name");
    let get = |n: &str| r.iter().find(|x| x[0] == n).map(|x| x[1].clone());
    assert_eq!(get("echo").as_deref(), Some("102400 True"), "{r:?}");
    assert_eq!(get("bulk").as_deref(), Some("300000 eof=True"), "{r:?}");
    assert_eq!(get("dropped").as_deref(), Some("20"), "{r:?}");
    assert_eq!(
        get("unknown").as_deref(),
        Some("unknown-endpoint: True"),
        "{r:?}"
    );
    assert_eq!(get("endpoints").as_deref(), Some("bulk,echo"), "{r:?}");

    std::fs::write(
        &job.config,
        std::fs::read_to_string(&job.config)
            .unwrap()
            .replace("bulk_bytes = 300000", "bulk_bytes = 300000\nfail = true"),
    )
    .unwrap();
    let failed = run(&["sync", "--config", &config], &policy).expect(1);
    assert!(
        failed
            .stderr
            .contains("connector error: uncaught KeyError in `sync` at probe.py:"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("Traceback (most recent call last)"),
        "the traceback is in the host's log: {}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains("crashed"),
        "an exception is an error, not a trap: {}",
        failed.stderr
    );
}

/// A build is reused until a source changes; a build error shows
/// componentize-py's own message.
#[test]
fn builds_are_reused_until_sources_change_and_errors_show_the_tools_message() {
    let hello = project(
        "counter:Counter",
        &[(
            "counter.py",
            "from airlock_sdk import ColumnType, Connector, Table\n\n\
             class Counter(Connector):\n    def discover(self, config):\n        \
             return [Table(\"n\").column(\"n\", ColumnType.INT).key(\"n\")]\n\n    \
             def sync(self, config, state, out):\n        for i in range(10):\n            \
             out.upsert(\"n\", (i,))\n",
        )],
    );
    let dir = hello.path().display().to_string();
    let first = airlock_env(&["spec", &dir], &[]).expect(0);
    assert!(
        first.stdout.contains("\"type\": \"object\""),
        "{}",
        first.stdout
    );
    let again = airlock_env(&["spec", &dir], &[]).expect(0);
    assert!(
        !again.stderr.contains("building Python connector"),
        "nothing changed, nothing is built: {}",
        again.stderr
    );
    std::fs::write(hello.path().join("notes.md"), "not a source").unwrap();
    let again = airlock_env(&["spec", &dir], &[]).expect(0);
    assert!(
        !again.stderr.contains("building Python connector"),
        "{}",
        again.stderr
    );

    std::fs::write(
        hello.path().join("counter.py"),
        "from airlock_sdk import Connector\n\nclass Counter(Connector):\n    def discover(self, config)\n",
    )
    .unwrap();
    let broken = airlock_env(&["spec", &dir], &[]).expect(2);
    assert!(
        broken.stderr.contains("building Python connector"),
        "a changed source is rebuilt: {}",
        broken.stderr
    );
    assert!(
        broken.stderr.contains("with componentize-py 0.25.1 failed")
            && broken.stderr.contains("SyntaxError"),
        "{}",
        broken.stderr
    );
}

/// A component that imports an interface the host does not provide is
/// refused with the interface named and what a connector may import; a
/// Python component (14 core modules) fits the pooling allocator.
#[test]
fn unexpected_imports_are_named_and_python_fits_the_pool() {
    let counter = project(
        "c:C",
        &[(
            "c.py",
            "from airlock_sdk import Connector\n\nclass C(Connector):\n    \
             def discover(self, config):\n        return []\n",
        )],
    );
    let wasm =
        airlock::guest_build::build_in(counter.path(), Some(&harness::cache_dir())).expect("build");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = airlock::sandbox::Sandbox::new(&airlock::sandbox::SandboxOptions {
        cache_dir: Some(harness::cache_dir()),
        pooled_instances: Some(2),
    })
    .unwrap();
    let loaded = sandbox
        .load(&wasm)
        .expect("a Python connector fits the pool");
    let cfg =
        airlock::config::JobConfig::parse("connector = \"x.wasm\"", Path::new("."), "t").unwrap();
    let spec = rt.block_on(async {
        let env = airlock::sandbox::JobEnv {
            job: "t",
            limits: &cfg.limits,
            redactor: &cfg.redactor,
            scratch_dir: None,
            network: Arc::new(airlock::net::Network::none()),
        };
        let mut a = loaded
            .instantiate(env.clone())
            .await
            .expect("instantiate in the pool");
        let mut b = loaded.instantiate(env).await.expect("a second one");
        (a.spec().await.unwrap(), b.spec().await.unwrap())
    });
    assert_eq!(spec.0, spec.1);

    // The same app, built against the contract plus an interface of its own.
    let tool = harness::cache_dir().join("tools/componentize-py-0.25.1/bin/componentize-py");
    let wit = tempfile::tempdir().unwrap();
    let contract = std::fs::read_to_string(repo().join("wit/connector.wit")).unwrap();
    std::fs::write(
        wit.path().join("connector.wit"),
        format!(
            "{contract}\ninterface extra {{ ping: func(); }}\n\
             world with-extra {{ include connector; import extra; }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(wit.path().join("deps/io")).unwrap();
    std::fs::copy(
        repo().join("wit/deps/io/io.wit"),
        wit.path().join("deps/io/io.wit"),
    )
    .unwrap();
    let sdk = repo().join("sdk/python/src");
    std::fs::write(
        counter.path().join("app.py"),
        "from wit_world import exports\nfrom airlock_sdk._export import Glue\nfrom c import C\n\n\
         class Source(Glue, exports.Source):\n    connector = C\n",
    )
    .unwrap();
    let out = counter.path().join("extra.wasm");
    let status = std::process::Command::new(&tool)
        .args(["-q", "-d"])
        .arg(wit.path())
        .args(["-w", "with-extra", "componentize", "-p"])
        .arg(counter.path())
        .arg("-p")
        .arg(&sdk)
        .args(["app", "-o"])
        .arg(&out)
        .status()
        .expect("run componentize-py");
    assert!(status.success());
    let e = match sandbox.load(&out) {
        Ok(_) => panic!("a component with a foreign import loads"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("it imports `airlock:connector/extra@0.1.0`, which this host does not provide"),
        "{e}"
    );
    assert!(
        e.contains("a connector may import only the airlock:connector interfaces"),
        "{e}"
    );
}
