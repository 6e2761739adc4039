//! Network handles end to end: a real connector (`tests/guests/nettest`) run by
//! the `airlock` binary probes its endpoints, and the tests read back what each
//! probe got — plus what the peers saw.

use crate::harness;

use harness::net::{self, Server, probes, results};
use harness::{Job, guest};

fn sync_with_policy(job: &Job, policy: Option<&str>) -> harness::Run {
    let config = job.config.display().to_string();
    let mut envs = vec![];
    if let Some(p) = policy {
        envs.push(("AIRLOCK_EGRESS_POLICY", p));
    }
    harness::airlock_env(&["sync", "--config", &config], &envs)
}

#[test]
fn default_policy_denies_metadata_unspecified_and_loopback_and_unknown_names() {
    let echo = net::echo_server();
    let body = format!(
        "[endpoints.meta]\nhost = \"169.254.169.254\"\nport = 80\n\n\
         [endpoints.zero]\nhost = \"0.0.0.0\"\nport = {port}\n\n\
         [endpoints.loop]\nhost = \"127.0.0.1\"\nport = {port}\n\n\
         [endpoints.name]\nhost = \"localhost\"\nport = {port}\n\n{}",
        probes(&[
            ("meta", "connect", ""),
            ("zero", "connect", ""),
            ("loop", "connect", ""),
            ("name", "connect", ""),
            ("nope", "connect", ""),
        ]),
        port = echo.port()
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    sync_with_policy(&job, None).expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "denied", "{r:?}");
    assert!(
        r[0].2.contains("169.254.169.254") && r[0].2.contains("metadata"),
        "{r:?}"
    );
    assert_eq!(r[1].1, "denied");
    assert!(r[1].2.contains("unspecified"), "{r:?}");
    assert_eq!(r[2].1, "denied");
    assert!(r[2].2.contains("allow_loopback = true"), "{r:?}");
    assert_eq!(
        r[3].1, "denied",
        "a name resolving to loopback is judged by its address: {r:?}"
    );
    assert_eq!(r[4].1, "unknown-endpoint");
    assert!(r[4].2.contains("loop, meta, name, zero"), "{r:?}");
    assert_eq!(
        echo.accepted(),
        0,
        "no denied connection may reach the peer"
    );
}

#[test]
fn direct_bytes_both_ways_and_the_connection_limit() {
    let echo = net::echo_server();
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let body = format!(
        "[limits]\nconnections = 8\n\n[endpoints.echo]\nhost = \"127.0.0.1\"\nport = {}\n\n{}",
        echo.port(),
        probes(&[
            ("echo", "echo", "bytes = 1000000"),
            ("echo", "parallel-echo", "bytes = 100000\ncount = 8"),
            ("echo", "parallel-echo", "bytes = 10\ncount = 9"),
            ("echo", "endpoints", ""),
        ])
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    sync_with_policy(&job, Some(&policy)).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "echoed 1000000 bytes")
    );
    assert_eq!(r[1].2, "8 connections echoed 800000 bytes");
    assert_eq!(r[2].1, "denied");
    assert!(r[2].2.contains("limits.connections"), "{r:?}");
    assert_eq!(r[3].2, format!("echo 127.0.0.1:{} Disable", echo.port()));
}

struct TlsPeers {
    dir: tempfile::TempDir,
    policy: String,
    good: Server,
    wrong_name: Server,
    starttls: Server,
    line: Server,
}

fn tls_peers() -> TlsPeers {
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let ca = airlock::demo::api::DemoCa::new().expect("test CA");
    let good = net::https_server(net::tls_for(dir.path(), &ca, "localhost"));
    let wrong_name = net::https_server(net::tls_for(dir.path(), &ca, "other.example"));
    let starttls = net::starttls_server(net::tls_for(dir.path(), &ca, "localhost"));
    TlsPeers {
        dir,
        policy,
        good,
        wrong_name,
        starttls,
        line: net::line_server(),
    }
}

#[test]
fn host_side_tls_verifies_the_endpoint_name_and_ca() {
    let p = tls_peers();
    // Accepts, then says nothing: the handshake is the step that runs out of time.
    let silent = net::silent_server();
    let ca = p.dir.path().join("ca.pem").display().to_string();
    let body = format!(
        "[endpoints.good]\nhost = \"localhost\"\nport = {good}\ntls = \"require\"\nca_file = {ca:?}\n\n\
         [endpoints.wrongname]\nhost = \"localhost\"\nport = {wrong}\ntls = \"require\"\nca_file = {ca:?}\n\n\
         [endpoints.untrusted]\nhost = \"localhost\"\nport = {good}\ntls = \"require\"\n\n\
         [endpoints.clear]\nhost = \"localhost\"\nport = {good}\n\n\
         [endpoints.silent]\nhost = \"localhost\"\nport = {silent}\ntls = \"require\"\nca_file = {ca:?}\n\
         connect_timeout_secs = 1\n\n{}",
        probes(&[
            ("good", "http-get", "path = \"/\""),
            ("wrongname", "http-get", "path = \"/\""),
            ("untrusted", "http-get", "path = \"/\""),
            ("silent", "connect", ""),
        ]),
        good = p.good.port(),
        wrong = p.wrong_name.port(),
        silent = silent.port(),
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    sync_with_policy(&job, Some(&p.policy)).expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "ok", "{r:?}");
    assert_eq!(r[0].2, "HTTP/1.1 200 OK via TLSv1.3");
    assert_eq!(r[1].1, "tls");
    assert!(r[1].2.contains("not valid for localhost"), "{r:?}");
    assert_eq!(r[2].1, "tls");
    assert!(
        r[2].2.contains("unknown CA") && r[2].2.contains("ca_file"),
        "{r:?}"
    );
    assert_eq!(r[3].1, "timeout", "{r:?}");
    assert!(
        r[3].2.contains(
            "the TLS handshake with localhost did not finish within the connect timeout \
             (1 s, connect_timeout_secs)"
        ),
        "the step that ran out of time says so: {r:?}"
    );

    // `check` reports each endpoint: route, address, TLS version and certificate.
    let config = job.config.display().to_string();
    let run = harness::airlock_env(
        &["check", "--config", &config],
        &[("AIRLOCK_EGRESS_POLICY", &p.policy)],
    );
    assert_eq!(run.code, 1, "three endpoints fail: {}", run.stdout);
    assert!(run.stdout.contains("endpoint \"good\""), "{}", run.stdout);
    assert!(run.stdout.contains("tls: TLSv1.3"), "{}", run.stdout);
    assert!(run.stdout.contains("CN=localhost"), "{}", run.stdout);
    assert!(
        run.stdout.contains("FAILED: endpoint \"untrusted\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("tls: disabled"), "{}", run.stdout);
}

#[test]
fn require_allows_only_a_short_clear_preamble_before_upgrade_tls() {
    let p = tls_peers();
    let ca = p.dir.path().join("ca.pem").display().to_string();
    let body = format!(
        "[endpoints.st]\nhost = \"localhost\"\nport = {st}\ntls = \"require\"\ntls_handshake = \"in-band\"\nca_file = {ca:?}\n\n\
         [endpoints.line]\nhost = \"localhost\"\nport = {line}\ntls = \"require\"\ntls_handshake = \"in-band\"\nca_file = {ca:?}\n\n\
         [endpoints.plain]\nhost = \"localhost\"\nport = {line}\n\n{}",
        probes(&[
            ("st", "starttls", ""),
            ("line", "send-clear", "bytes = 100"),
            ("line", "send-clear", "bytes = 2000"),
            ("plain", "send-clear", "bytes = 2000"),
        ]),
        st = p.starttls.port(),
        line = p.line.port(),
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    sync_with_policy(&job, Some(&p.policy)).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "PONG via TLSv1.3"),
        "{r:?}"
    );
    assert_eq!(r[1].2, "got 102 bytes", "a preamble is fine: {r:?}");
    assert_eq!(r[2].1, "io", "{r:?}");
    assert!(r[2].2.contains("at most 512 bytes"), "{r:?}");
    assert_eq!(
        r[3].2, "got 2002 bytes",
        "no limit without tls = require: {r:?}"
    );
}

/// The connector's view through an OpenSSH bastion: TLS verified against the
/// endpoint's name (also when the name is wrong or the CA unknown), the
/// in-band `require` rule, many connections on one SSH session, and
/// `airlock check` showing the hop, pinned host key and TLS.
#[test]
fn through_an_openssh_bastion() {
    use harness::sshd::{self, Sshd};
    let p = tls_peers();
    let echo = net::echo_server();
    let sshd = Sshd::start("");
    let (private, public) = sshd::ssh_keygen(p.dir.path(), "client", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    let _ = private;
    let ca = p.dir.path().join("ca.pem").display().to_string();
    let key = p.dir.path().join("client").display().to_string();
    let via = format!(
        "host = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nprivate_key = {{ file = {key:?} }}\nhost_key = \"{}\"\n",
        sshd.port,
        sshd::USER,
        sshd.host_fingerprint()
    );
    let endpoint = |name: &str, port: u16, extra: &str| {
        format!(
            "[endpoints.{name}]\nhost = \"localhost\"\nport = {port}\n{extra}\n[endpoints.{name}.via.ssh]\n{via}\n"
        )
    };
    let tls = format!("tls = \"require\"\nca_file = {ca:?}\n");
    let in_band = format!("tls = \"require\"\ntls_handshake = \"in-band\"\nca_file = {ca:?}\n");
    let body = [
        endpoint("good", p.good.port(), &tls),
        endpoint("wrongname", p.wrong_name.port(), &tls),
        endpoint("untrusted", p.good.port(), "tls = \"require\"\n"),
        endpoint("st", p.starttls.port(), &in_band),
        endpoint("line", p.line.port(), &in_band),
        endpoint("echo", echo.port(), ""),
        "[limits]\nconnections = 32\n".to_owned(),
        probes(&[
            ("good", "http-get", "path = \"/\""),
            ("wrongname", "http-get", "path = \"/\""),
            ("untrusted", "http-get", "path = \"/\""),
            ("st", "starttls", ""),
            ("line", "send-clear", "bytes = 2000"),
            ("echo", "parallel-echo", "bytes = 50000\ncount = 30"),
        ]),
    ]
    .concat();
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    let run = sync_with_policy(&job, Some(&p.policy)).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "HTTP/1.1 200 OK via TLSv1.3"),
        "{r:?}"
    );
    assert_eq!(r[1].1, "tls");
    assert!(r[1].2.contains("not valid for localhost"), "{r:?}");
    assert_eq!(r[2].1, "tls");
    assert!(r[2].2.contains("unknown CA"), "{r:?}");
    assert_eq!(
        (r[3].1.as_str(), r[3].2.as_str()),
        ("ok", "PONG via TLSv1.3"),
        "{r:?}"
    );
    assert!(r[4].2.contains("at most 512 bytes"), "{r:?}");
    assert_eq!(r[5].2, "30 connections echoed 1500000 bytes", "{r:?}");
    assert_eq!(
        sshd.sessions(),
        1,
        "every connection of the job rides one SSH session: {}",
        run.stderr
    );

    // `check` names the hop, the pinned host key and the TLS session.
    let config = job.config.display().to_string();
    let check = harness::airlock_env(
        &["check", "--config", &config],
        &[("AIRLOCK_EGRESS_POLICY", &p.policy)],
    );
    let fp = sshd.host_fingerprint();
    assert!(
        check
            .stdout
            .contains(&format!("ssh {}@127.0.0.1:{}", sshd::USER, sshd.port)),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains(&fp) && check.stdout.contains("[pinned]"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("direct-tcpip localhost:"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("tls: TLSv1.3"), "{}", check.stdout);
}

/// The bastion's address is judged by the egress policy like any other: under
/// the default policy a loopback bastion is refused before any SSH byte is sent.
#[test]
fn the_egress_policy_applies_to_the_bastion() {
    use harness::sshd::{self, Sshd};
    let sshd = Sshd::start("");
    let body = format!(
        "[endpoints.db]\nhost = \"localhost\"\nport = 5432\n\n[endpoints.db.via.ssh]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\npassword = {{ env = \"AIRLOCK_TEST_BASTION_PW\" }}\nhost_key = \"{}\"\n\n{}",
        sshd.port,
        sshd::USER,
        sshd.host_fingerprint(),
        probes(&[("db", "connect", "")])
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    let config = job.config.display().to_string();
    harness::airlock_env(
        &["sync", "--config", &config],
        &[("AIRLOCK_TEST_BASTION_PW", sshd::PASSWORD)],
    )
    .expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "denied", "{r:?}");
    assert!(
        r[0].2.contains("127.0.0.1") && r[0].2.contains("loopback"),
        "{r:?}"
    );
    assert_eq!(sshd.sessions(), 0);
}

/// The operator's loop with stock tools: `airlock keygen` makes the key the
/// bastion's admin authorizes, `airlock fingerprint` prints what `ssh-keygen -lf`
/// prints for the host key, `check` without a pin refuses and shows the line to
/// add, and with it the endpoint works.
#[test]
fn keygen_fingerprint_and_check_walk_an_operator_through_the_setup() {
    use harness::sshd::{self, Sshd};
    let sshd = Sshd::start("");
    let echo = net::echo_server();
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    // `keys/` does not exist yet: keygen makes it, private to its owner.
    let key = dir.path().join("keys/airlock_key");
    let key_arg = key.display().to_string();

    let run = harness::airlock(&["keygen", "--out", &key_arg]).expect(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("ssh-ed25519 "))
        .expect("the authorized_keys line");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    );
    // Never overwrite a key that may be authorized somewhere.
    let again = harness::airlock(&["keygen", "--out", &key_arg]).expect(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    // The line as docs/connection-methods.md tells the bastion's admin to add
    // it: forwarding to the one database address, nothing else.
    sshd.authorize(&format!(
        "restrict,port-forwarding,permitopen=\"127.0.0.1:{}\" {line}",
        echo.port()
    ));

    let target = format!("127.0.0.1:{}", sshd.port);
    let fp = harness::airlock(&["fingerprint", &target]).expect(0);
    let expected = sshd.host_fingerprint();
    assert!(
        fp.stdout.contains(&format!("host_key = \"{expected}\"")),
        "{}",
        fp.stdout
    );

    let endpoint = |pin: &str| {
        format!(
            "[endpoints.echo]\nhost = \"127.0.0.1\"\nport = {}\n\n[endpoints.echo.via.ssh]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nprivate_key = {{ file = {key_arg:?} }}\n{pin}\n{}",
            echo.port(),
            sshd.port,
            sshd::USER,
            probes(&[("echo", "echo", "bytes = 1000")])
        )
    };
    let unpinned = Job::new(&guest("tests/guests/nettest"), &endpoint(""));
    let config = unpinned.config.display().to_string();
    let envs = [("AIRLOCK_EGRESS_POLICY", policy.as_str())];
    let check = harness::airlock_env(&["check", "--config", &config], &envs);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("FAILED"), "{}", check.stdout);
    assert!(
        check.stdout.contains(&format!("host_key = \"{expected}\"")),
        "{}",
        check.stdout
    );
    assert_eq!(
        sshd.sessions(),
        0,
        "nothing is sent to an unverified server"
    );

    let pinned = Job::new(
        &guest("tests/guests/nettest"),
        &endpoint(&format!("host_key = \"{expected}\"")),
    );
    let config = pinned.config.display().to_string();
    let check = harness::airlock_env(&["check", "--config", &config], &envs).expect(0);
    assert!(
        check.stdout.contains("[pinned]") && check.stdout.contains("  ok"),
        "{}",
        check.stdout
    );
    harness::airlock_env(&["sync", "--config", &config], &envs).expect(0);
    assert_eq!(results(&pinned)[0].2, "echoed 1000 bytes");
    assert!(
        !check.stdout.contains("BEGIN OPENSSH"),
        "the key never shows"
    );
}

/// Mutual TLS: the client certificate's key is a secret of the host; with it
/// the server lets the connector in, without it the server refuses.
#[test]
fn client_certificates_are_presented_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let ca = airlock::demo::api::DemoCa::new().expect("test CA");
    std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
    let (cert, key) = ca.issue_client("airlock-worker").unwrap();
    std::fs::write(dir.path().join("client.pem"), cert).unwrap();
    std::fs::write(dir.path().join("client.key"), key).unwrap();
    let server = net::https_server(net::mtls_for(&ca, "localhost"));
    let d = dir.path().display().to_string();
    let body = format!(
        "[endpoints.mtls]\nhost = \"localhost\"\nport = {port}\ntls = \"require\"\nca_file = \"{d}/ca.pem\"\n\
         client_cert = \"{d}/client.pem\"\nclient_key = {{ file = \"{d}/client.key\" }}\n\n\
         [endpoints.anon]\nhost = \"localhost\"\nport = {port}\ntls = \"require\"\nca_file = \"{d}/ca.pem\"\n\n{}",
        probes(&[
            ("mtls", "http-get", "path = \"/\""),
            ("anon", "http-get", "path = \"/\"")
        ]),
        port = server.port()
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    let run = sync_with_policy(&job, Some(&policy)).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "HTTP/1.1 200 OK via TLSv1.3"),
        "{r:?}"
    );
    // TLS 1.3 finishes the client's side of the handshake before the server
    // checks the certificate, so the refusal shows on the first write or read.
    assert_ne!(r[1].1, "ok", "no client certificate, no entry: {r:?}");
    assert!(!run.stderr.contains("PRIVATE KEY"), "{}", run.stderr);
}

/// A platform process runs sync after sync on one runtime, so SSH sessions are
/// pooled across them. When the bastion restarts in between, the next sync
/// reconnects on its own.
#[test]
fn the_next_sync_reconnects_after_the_bastion_restarts() {
    use airlock::job::{self, Progress, Runtime};
    use airlock::net::EgressPolicy;
    use airlock::sandbox::SandboxOptions;
    use harness::sshd::{self, Sshd};
    use std::sync::Arc;

    let mut sshd = Sshd::start("");
    let echo = net::echo_server();
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = sshd::ssh_keygen(dir.path(), "client", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    let body = format!(
        "[endpoints.echo]\nhost = \"127.0.0.1\"\nport = {}\n\n[endpoints.echo.via.ssh]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nprivate_key = {{ file = {:?} }}\nhost_key = \"{}\"\n\n{}",
        echo.port(),
        sshd.port,
        sshd::USER,
        dir.path().join("client").display().to_string(),
        sshd.host_fingerprint(),
        probes(&[("echo", "echo", "bytes = 10000")])
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    let config = airlock::config::JobConfig::load(&job.config).unwrap();
    let rt = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(harness::cache_dir()),
            pooled_instances: None,
        },
        EgressPolicy::loopback_allowed(),
    )
    .unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sync = || {
        tokio
            .block_on(job::sync(&rt, &config, Arc::new(Progress::default())))
            .expect("sync");
        results(&job)[0].clone()
    };
    assert_eq!(sync().2, "echoed 10000 bytes");
    assert_eq!(sync().2, "echoed 10000 bytes");
    assert_eq!(sshd.sessions(), 1, "the second sync reuses the session");
    sshd.restart();
    assert_eq!(sync().2, "echoed 10000 bytes", "reconnected");
    assert_eq!(
        sshd.sessions(),
        2,
        "exactly one new login, after the restart"
    );
}

/// The other reverse shape: the customer's own `ssh -R` ends on *their*
/// bastion (`127.0.0.1:FWD` there leads back to the database), and airlock
/// reaches it with the ordinary SSH transport and `via.ssh.target`. TLS is still
/// verified against the database's real name, not `localhost`.
#[test]
fn a_customers_reverse_forward_on_their_own_bastion_keeps_tls_on_the_real_name() {
    use harness::sshd::{self, Sshd};
    let dir = tempfile::tempdir().unwrap();
    let policy = net::loopback_policy(dir.path());
    let ca = airlock::demo::api::DemoCa::new().expect("test CA");
    let db = net::https_server(net::tls_for(dir.path(), &ca, "db.shop.test"));
    let sshd = Sshd::start("");
    let d = dir.path();
    let (_, customer) = sshd::ssh_keygen(d, "customer", &["-t", "ed25519"], "");
    let (_, platform) = sshd::ssh_keygen(d, "platform", &["-t", "ed25519"], "");
    sshd.authorize(&customer);
    sshd.authorize(&platform);
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_public_key()),
    )
    .unwrap();
    // What the customer's DBA runs inside their network.
    let fwd = sshd::free_port();
    let mut reverse = sshd::reverse_tunnel(
        d,
        "customer",
        sshd.port,
        &format!("127.0.0.1:{fwd}:127.0.0.1:{}", db.port()),
        sshd::USER,
    )
    .spawn()
    .expect("run ssh -R");
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", fwd)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "ssh -R did not open {fwd}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let body = format!(
        "[endpoints.db]\nhost = \"db.shop.test\"\nport = 5432\ntls = \"require\"\nca_file = {:?}\n\n\
         [endpoints.db.via.ssh]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\ntarget = \"localhost:{fwd}\"\n\
         private_key = {{ file = {:?} }}\nhost_key = \"{}\"\n\n{}",
        d.join("ca.pem").display().to_string(),
        sshd.port,
        sshd::USER,
        d.join("platform").display().to_string(),
        sshd.host_fingerprint(),
        probes(&[("db", "http-get", "path = \"/\"")]),
    );
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    let run = sync_with_policy(&job, Some(&policy));
    let _ = reverse.kill();
    let _ = reverse.wait();
    run.expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "HTTP/1.1 200 OK via TLSv1.3"),
        "{r:?}"
    );
    // The readiness probe above, then the connector's connection.
    assert_eq!(db.accepted(), 2);
}
