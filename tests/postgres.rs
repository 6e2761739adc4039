//! PostgreSQL end to end. For now: the harness's own checks against real
//! peers — a real server with TLS and SCRAM/md5 roles, stable fingerprints,
//! and the namespace topology where only the bastion reaches the database.
//! Needs root (the server's system user, network namespaces).

mod harness;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::netns::{Namespace, Topology};
use harness::postgres::{
    LEGACY, LEGACY_PASSWORD, Options, Postgres, READER, READER_PASSWORD, TLS_NAME, psql_client,
};
use harness::sshd::{self, Sshd};

/// Who this session is and whether it is encrypted, as the server sees it.
const WHO: &str = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

#[test]
fn tls_verify_full_admits_the_scram_and_the_md5_role() {
    let pg = Postgres::start();
    for (user, password) in [(READER, READER_PASSWORD), (LEGACY, LEGACY_PASSWORD)] {
        let out = psql_client(
            None,
            &pg.conninfo(user, password, "sslmode=verify-full"),
            WHO,
        );
        assert_eq!(out, Ok(format!("{user}|t\n")), "{}", pg.log());
    }
    // Each logged in with the method its password is stored for.
    let log = pg.log();
    assert!(
        log.contains(&format!("identity=\"{READER}\" method=scram-sha-256")),
        "{log}"
    );
    assert!(
        log.contains(&format!("identity=\"{LEGACY}\" method=md5")),
        "{log}"
    );
    let stored = pg.query(
        "SELECT rolname, split_part(rolpassword, '$', 1) FROM pg_authid \
         WHERE rolname IN ('reader', 'legacy') ORDER BY rolname",
    );
    assert_eq!(stored[0][0], LEGACY);
    assert!(stored[0][1].starts_with("md5"), "{stored:?}");
    assert_eq!(stored[1], [READER, "SCRAM-SHA-256"]);

    let wrong = psql_client(
        None,
        &pg.conninfo(READER, "nope", "sslmode=verify-full"),
        WHO,
    );
    assert!(
        wrong
            .as_ref()
            .is_err_and(|e| e.contains("password authentication failed")),
        "{wrong:?}"
    );
    // verify-full really checks the name: the same server under another name fails.
    let other = pg
        .conninfo(READER, READER_PASSWORD, "sslmode=verify-full")
        .replace(&format!("host={TLS_NAME}"), "host=other.internal.test");
    let other = psql_client(None, &other, WHO);
    assert!(
        other
            .as_ref()
            .is_err_and(|e| e.contains("does not match host name")),
        "{other:?}"
    );
    // Plain TCP is allowed unless the test asks for TLS only.
    let clear = psql_client(
        None,
        &pg.conninfo(READER, READER_PASSWORD, "sslmode=disable"),
        WHO,
    );
    assert_eq!(clear, Ok(format!("{READER}|f\n")));
}

#[test]
fn require_tls_refuses_clear_connections() {
    let pg = Postgres::start_with(Options {
        require_tls: true,
        ..Options::default()
    });
    let clear = psql_client(
        None,
        &pg.conninfo(READER, READER_PASSWORD, "sslmode=disable"),
        WHO,
    );
    assert!(
        clear
            .as_ref()
            .is_err_and(|e| e.contains("no pg_hba.conf entry") && e.contains("no encryption")),
        "{clear:?}"
    );
    let tls = psql_client(
        None,
        &pg.conninfo(LEGACY, LEGACY_PASSWORD, "sslmode=verify-full"),
        WHO,
    );
    assert_eq!(tls, Ok(format!("{LEGACY}|t\n")));
}

/// md5 of `text` by coreutils' `md5sum`, to check the documented rendering
/// independently of PostgreSQL.
fn md5sum(text: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

#[test]
fn fingerprints_are_stable_follow_the_documented_rendering_and_see_touches() {
    let pg = Postgres::start();
    pg.seed_types();
    let rows = pg.query("SELECT id, c_text, c_varchar, c_float4 FROM all_types ORDER BY id");
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[1][1], "NULL");
    assert_eq!(
        rows[2][1],
        "it's \"quoted\"\nnext line\tand a tab \\ backslash"
    );
    assert_eq!(rows[2][2], "naïve café ☕");
    assert_eq!(rows[2][3], "NaN");
    let types = pg.fingerprint("all_types");
    assert_eq!(types.0, 5);
    assert_eq!(pg.fingerprint("all_types"), types);
    // The rendering, re-done outside PostgreSQL: `\N` for NULL, U+001F
    // between fields, `\n` after each row, primary-key order.
    assert_eq!(
        pg.fingerprint_of("all_types", &["id", "c_int2"]).1,
        md5sum("1\x1f12\n2\x1f\\N\n3\x1f-32768\n4\x1f32767\n5\x1f0\n")
    );

    pg.seed_rows("items", 1000);
    pg.seed_rows("items_again", 1000);
    let items = pg.fingerprint("items");
    assert_eq!(items.0, 1000);
    assert_eq!(
        pg.fingerprint("items_again"),
        items,
        "seeding is deterministic"
    );
    let expected: String = (1..=1000)
        .map(|i| format!("{i}\x1fcustomer-{i}\n"))
        .collect();
    assert_eq!(
        pg.fingerprint_of("items", &["id", "name"]),
        (1000, md5sum(&expected))
    );
    let width: f64 = pg
        .scalar("SELECT avg(length(t::text)) FROM items t")
        .parse()
        .unwrap();
    assert!((180.0..230.0).contains(&width), "{width} bytes per row");

    assert_eq!(pg.touch("items", "id % 10 = 0"), 100);
    let touched = pg.fingerprint("items");
    assert_eq!(touched.0, 1000);
    assert_ne!(touched, items);
    assert_eq!(
        pg.scalar("SELECT count(*) FROM items WHERE updated_at > '2025-01-01'"),
        "100"
    );
}

/// `ssh -N -L <free port>:<target>` through `sshd` as the test user; killed on drop.
struct Forward(Child, u16);

impl Forward {
    fn start(sshd: &Sshd, key: &std::path::Path, target: SocketAddr) -> Forward {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("ssh")
            .args(["-N", "-L", &format!("{port}:{target}")])
            .args(["-p", &sshd.port.to_string(), "-i"])
            .arg(key)
            .args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "LogLevel=ERROR"])
            .arg(format!("{}@{}", sshd::USER, sshd.addr))
            .spawn()
            .expect("ssh (OpenSSH client)");
        let mut fwd = Forward(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = fwd.0.try_wait().unwrap() {
                panic!("ssh -L exited ({status}): {}", sshd.log());
            }
            assert!(Instant::now() < deadline, "ssh -L did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        fwd
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_database_is_reachable_only_through_the_bastion() {
    let topo = Topology::create();
    let pg = Postgres::start_with(Options {
        netns: Some(topo.db_ns.clone()),
        listen: topo.db_ip.into(),
        ..Options::default()
    });
    let db = SocketAddr::new(topo.db_ip.into(), pg.port());

    // From here: no route, and it says so at once.
    let started = Instant::now();
    let direct = TcpStream::connect_timeout(&db, Duration::from_secs(5));
    let took = started.elapsed();
    assert!(direct.is_err(), "{db} must not be reachable from here");
    assert!(
        took < Duration::from_secs(1),
        "{db}: {direct:?} after {took:?}"
    );
    let conninfo = pg.conninfo(READER, READER_PASSWORD, "sslmode=verify-full");
    assert!(psql_client(None, &conninfo, WHO).is_err());

    // From the bastion's namespace: there, with verified TLS.
    let seen = psql_client(
        Some(&topo.bastion.name),
        &conninfo,
        "SELECT host(inet_client_addr())",
    );
    assert_eq!(seen, Ok(format!("{}\n", topo.bastion_db_ip)));

    // Through an OpenSSH bastion in that namespace, from here: `ssh -N -L`.
    let sshd = Sshd::start_in(&topo.bastion.name, topo.bastion.peer_ip.into(), "");
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = sshd::ssh_keygen(keys.path(), "client", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    let fwd = Forward::start(&sshd, &keys.path().join("client"), db);
    let local = SocketAddr::from(([127, 0, 0, 1], fwd.1));
    let through = psql_client(
        None,
        &pg.conninfo_via(local, LEGACY, LEGACY_PASSWORD, "sslmode=verify-full"),
        &format!("{WHO}; SELECT host(inet_client_addr())"),
    );
    assert_eq!(
        through,
        Ok(format!("{LEGACY}|t\n{}\n", topo.bastion_db_ip)),
        "{}",
        sshd.log()
    );
}

#[test]
fn a_private_endpoint_namespace_serves_postgres_to_this_host() {
    let ns = Namespace::create("pe", 77);
    let pg = Postgres::start_with(Options {
        netns: Some(ns.name.clone()),
        listen: ns.peer_ip.into(),
        ..Options::default()
    });
    let seen = psql_client(
        None,
        &pg.conninfo(READER, READER_PASSWORD, "sslmode=verify-full"),
        &format!("{WHO}; SELECT host(inet_client_addr())"),
    );
    assert_eq!(seen, Ok(format!("{READER}|t\n{}\n", ns.host_ip)));
}
