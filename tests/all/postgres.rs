//! PostgreSQL end to end: first the harness's own checks against real peers
//! (a real server with TLS and SCRAM/md5 roles, stable fingerprints, the
//! namespace topology where only the bastion reaches the database), then the
//! `guest-examples/postgres` connector syncing it through every transport —
//! direct, an OpenSSH bastion, a two-hop jump chain, `airlock relay` with a
//! stock `ssh -R`, a private endpoint in a network namespace — with the
//! destination checked against the source, and a bastion killed mid-sync.
//! Needs root (the server's system user, network namespaces).

use crate::harness;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
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
    let client = keys.path().join("client");
    let fwd = sshd::LocalForward::start(sshd.addr, sshd.port, &client, &db.to_string(), &[]);
    let local = SocketAddr::from(([127, 0, 0, 1], fwd.port));
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

// ---------------------------------------------------------------------------
// The `guest-examples/postgres` connector, end to end: the real `airlock`
// binary (or the library, for the fault test) syncs the harness's server into
// DuckDB through each transport, and the destination is checked against the
// source with a row count and a checksum per table.
// ---------------------------------------------------------------------------

use harness::{Job, guest};

/// The bulk table every transport test syncs.
const ORDERS: &str = "orders";

/// `orders` rendered canonically, the same on both sides: text columns as
/// they are, numbers as text, timestamps as epoch microseconds (UTC).
const ORDERS_PG: [&str; 8] = [
    "id::text",
    "name",
    "category",
    "qty::text",
    "price::text",
    "note",
    "(extract(epoch from created_at) * 1000000)::bigint::text",
    "(extract(epoch from updated_at) * 1000000)::bigint::text",
];
const ORDERS_DUCKDB: [&str; 8] = [
    "id::VARCHAR",
    "name",
    "category",
    "qty::VARCHAR",
    "price::VARCHAR",
    "note",
    "epoch_us(created_at)::VARCHAR",
    "epoch_us(updated_at)::VARCHAR",
];

/// `(row count, md5)` of a destination table, rendered as
/// [`Postgres::fingerprint_of`] documents (fields joined by U+001F, NULL as
/// `\N`, a newline after each row, ordered by `key`), live rows only.
fn duckdb_fingerprint(job: &Job, table: &str, key: &str, exprs: &[&str]) -> (u64, String) {
    let line = exprs
        .iter()
        .map(|e| format!("coalesce(({e})::VARCHAR, '\\N')"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = job.query(&format!(
        "SELECT count(*)::VARCHAR, md5(coalesce(string_agg(concat_ws(chr(31), {line}) || chr(10), '' \
         ORDER BY {key}), '')) FROM {table} WHERE NOT coalesce(_airlock_deleted, false)"
    ));
    (row[0][0].parse().unwrap(), row[0][1].clone())
}

/// The destination's `orders` equals the source's: same rows, same values,
/// each key once.
fn assert_orders_synced(pg: &Postgres, job: &Job) {
    let source = pg.fingerprint_of(ORDERS, &ORDERS_PG);
    let dest = duckdb_fingerprint(job, ORDERS, "id", &ORDERS_DUCKDB);
    assert_eq!(dest, source, "orders: destination vs source (rows, md5)");
    let dups = harness::scalar(
        &job.db(),
        "SELECT count(*) - count(DISTINCT id) FROM orders",
    );
    assert_eq!(dups, 0, "a key twice in the destination");
}

/// The egress policy these tests run under: loopback and private networks
/// are where their servers live.
fn policy(dir: &std::path::Path) -> String {
    let p = dir.join("egress.toml");
    std::fs::write(&p, "allow_loopback = true\nallow_private = true\n").unwrap();
    p.display().to_string()
}

/// A job syncing `pg` with the postgres connector as `user`: `host`/`port`
/// are the endpoint's (TLS required, in-band, verified against `host` with
/// the harness CA), `route` is appended to the endpoint (a `via` table),
/// `config` to `[config]`.
fn pg_job(pg: &Postgres, user: &str, password: &str, host: &str, route: &str, config: &str) -> Job {
    let body = format!(
        "[config]\ndatabase = \"shop\"\nuser = \"{user}\"\npassword = {{ file = \"pg_password\" }}\n\
         checkpoint_every = 1000\nfetch_rows = 500\n{config}\n\n\
         [endpoints.postgres]\nhost = \"{host}\"\nport = {}\ntls = \"require\"\n\
         tls_handshake = \"in-band\"\nca_file = {:?}\nconnect_timeout_secs = 10\n\n{route}",
        pg.port(),
        pg.ca_file().display().to_string(),
    );
    let job = Job::new(&guest("guest-examples/postgres"), &body);
    std::fs::write(job.dir.path().join("pg_password"), password).unwrap();
    job
}

/// `airlock sync --json` of `job` under the test policy.
fn sync(job: &Job) -> harness::Run {
    let config = job.config.display().to_string();
    harness::airlock_env(
        &["sync", "--json", "--config", &config],
        &[("AIRLOCK_EGRESS_POLICY", &policy(job.dir.path()))],
    )
}

/// Upserts of `table` in a `sync --json` report.
fn upserts(run: &harness::Run, table: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    v["tables"][table]["upserts"].as_u64().unwrap_or(0)
}

/// A server whose certificate is for `localhost`, which every route here can
/// resolve (the bastions resolve the endpoint's `host` themselves).
fn local_pg() -> Postgres {
    Postgres::start_with(Options {
        tls_name: "localhost".into(),
        ..Options::default()
    })
}

/// SSH settings for a hop to `sshd` with `key` (a file in `dir`).
fn hop(sshd: &Sshd, dir: &std::path::Path, key: &str) -> String {
    format!(
        "host = \"{}\"\nport = {}\nuser = \"{}\"\nprivate_key = {{ file = {:?} }}\nhost_key = \"{}\"\n",
        sshd.addr,
        sshd.port,
        sshd::USER,
        dir.join(key).display().to_string(),
        sshd.host_fingerprint()
    )
}

/// A bastion with a fresh authorized client key `client` in `dir`.
fn bastion(dir: &std::path::Path) -> Sshd {
    let sshd = Sshd::start("");
    let name = format!("client{}", sshd.port);
    let (_, public) = sshd::ssh_keygen(dir, &name, &["-t", "ed25519"], "");
    sshd.authorize(&public);
    std::fs::rename(dir.join(&name), dir.join(format!("key{}", sshd.port))).unwrap();
    sshd
}

#[test]
fn direct_full_then_incremental_every_type_and_the_md5_role() {
    let pg = local_pg();
    pg.seed_types();
    pg.seed_rows(ORDERS, 20_000);

    let job = pg_job(&pg, READER, READER_PASSWORD, "localhost", "", "");
    let run = sync(&job).expect(0);
    assert_eq!(upserts(&run, ORDERS), 20_000);
    assert_orders_synced(&pg, &job);
    assert_types_synced(&pg, &job);
    // The server saw a TLS session from the connector (SSLRequest, then the
    // host's handshake), authenticated by SCRAM.
    assert!(
        pg.log()
            .contains(&format!("identity=\"{READER}\" method=scram-sha-256")),
        "{}",
        pg.log()
    );

    // Incremental: 200 rows change, 50 are new; only those 250 come again.
    assert_eq!(pg.touch(ORDERS, "id % 100 = 0"), 200);
    pg.psql(
        "INSERT INTO orders SELECT g, 'new-' || g, 'alpha', 1, 1.00, NULL, \
         timestamp '2025-01-01', now() FROM generate_series(20001, 20050) g",
    );
    let run = sync(&job).expect(0);
    assert_eq!(upserts(&run, ORDERS), 250, "{}", run.stderr);
    assert_eq!(upserts(&run, "all_types"), 0);
    assert_orders_synced(&pg, &job);
    // Nothing changed: nothing comes.
    let run = sync(&job).expect(0);
    assert_eq!(upserts(&run, ORDERS), 0, "{}", run.stderr);

    // The md5 role, into a fresh destination.
    let legacy = pg_job(&pg, LEGACY, LEGACY_PASSWORD, "localhost", "", "");
    sync(&legacy).expect(0);
    assert_orders_synced(&pg, &legacy);
    assert!(
        pg.log()
            .contains(&format!("identity=\"{LEGACY}\" method=md5")),
        "{}",
        pg.log()
    );
}

/// Every mapped type arrives with its value: compared column by column,
/// each side rendered to the same text.
fn assert_types_synced(pg: &Postgres, job: &Job) {
    let pg_side = pg.query(
        "SELECT id, c_int2, c_int4, c_int8, c_numeric, c_numeric_any, c_bool, c_text, c_varchar, \
         c_char, encode(c_bytea, 'hex'), (extract(epoch from c_timestamp) * 1000000)::bigint, \
         (extract(epoch from c_timestamptz) * 1000000)::bigint, c_date - date '1970-01-01', \
         c_json, c_jsonb, c_uuid, c_inet, c_interval, c_float4, c_float8 \
         FROM all_types ORDER BY id",
    );
    let cols = [
        "id",
        "c_int2",
        "c_int4",
        "c_int8",
        "c_numeric",
        "c_numeric_any",
        "CASE WHEN c_bool THEN 't' WHEN NOT c_bool THEN 'f' END",
        "c_text",
        "c_varchar",
        "c_char",
        "lower(hex(c_bytea))",
        "epoch_us(c_timestamp)",
        "epoch_us(c_timestamptz)",
        "c_date - DATE '1970-01-01'",
        "c_json",
        "c_jsonb",
        "c_uuid",
        "c_inet",
        "c_interval",
        "c_float4",
        "c_float8",
    ];
    let list: Vec<String> = cols.iter().map(|c| format!("({c})::VARCHAR")).collect();
    let dest = job.query(&format!(
        "SELECT {} FROM all_types ORDER BY id",
        list.join(", ")
    ));
    assert_eq!(dest.len(), pg_side.len(), "all_types: row count");
    let float = |s: &str| -> Option<f64> {
        match s.to_ascii_lowercase().as_str() {
            "" | "null" => None,
            "nan" => Some(f64::NAN),
            "infinity" | "inf" => Some(f64::INFINITY),
            "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => Some(other.parse().unwrap_or_else(|e| panic!("{other}: {e}"))),
        }
    };
    for (d, s) in dest.iter().zip(&pg_side) {
        // NULL is "NULL" on both sides (both harness queries print it so);
        // compared as "".
        let norm = |v: &str| {
            if v == "NULL" {
                String::new()
            } else {
                v.to_owned()
            }
        };
        let (d_cols, s_cols) = (&d[..d.len() - 2], &s[..s.len() - 2]);
        let d_cols: Vec<String> = d_cols.iter().map(|v| norm(v)).collect();
        let s_cols: Vec<String> = s_cols.iter().map(|v| norm(v)).collect();
        assert_eq!(d_cols, s_cols, "all_types row {}", s[0]);
        for i in [d.len() - 2, d.len() - 1] {
            let (a, b) = (float(&d[i]), float(&s[i]));
            let same = match (a, b) {
                (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
                (None, None) => true,
                _ => false,
            };
            assert!(
                same,
                "all_types row {} float column {i}: {a:?} vs {b:?}",
                s[0]
            );
        }
    }
}

#[test]
fn server_errors_reach_the_user_as_such() {
    let pg = local_pg();
    pg.seed_rows(ORDERS, 10);
    pg.psql("CREATE TABLE secret (id int PRIMARY KEY); REVOKE ALL ON secret FROM reader, legacy;");
    let wrong = pg_job(&pg, READER, "not-the-password", "localhost", "", "");
    let run = sync(&wrong);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("password authentication failed for user \"reader\""),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-the-password"), "{}", run.stderr);

    let missing = pg_job(
        &pg,
        READER,
        READER_PASSWORD,
        "localhost",
        "",
        "tables = [\"public.nope\"]",
    );
    let run = sync(&missing);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("public.nope"), "{}", run.stderr);

    let denied = pg_job(
        &pg,
        READER,
        READER_PASSWORD,
        "localhost",
        "",
        "tables = [\"public.secret\"]",
    );
    let run = sync(&denied);
    assert_ne!(run.code, 0, "{}", run.stderr);
    // Checked before reading, with the fix; the server would say "permission denied".
    assert!(
        run.stderr.contains("may not read table `public.secret`")
            && run.stderr.contains("GRANT SELECT"),
        "{}",
        run.stderr
    );
}

#[test]
fn through_an_openssh_bastion_and_a_two_hop_jump_chain() {
    let pg = local_pg();
    pg.seed_rows(ORDERS, 20_000);
    let keys = tempfile::tempdir().unwrap();
    let (outer, inner) = (bastion(keys.path()), bastion(keys.path()));

    let one = format!(
        "[endpoints.postgres.via.ssh]\n{}",
        hop(&inner, keys.path(), &format!("key{}", inner.port))
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, "localhost", &one, "");
    sync(&job).expect(0);
    assert_orders_synced(&pg, &job);
    assert_eq!(inner.sessions(), 1, "one SSH login carries the sync");

    let two = format!(
        "{one}\n[[endpoints.postgres.via.ssh.jump]]\n{}",
        hop(&outer, keys.path(), &format!("key{}", outer.port))
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, "localhost", &two, "");
    sync(&job).expect(0);
    assert_orders_synced(&pg, &job);
    assert_eq!(outer.sessions(), 1, "the jump host carried the second sync");
    assert_eq!(inner.sessions(), 2);
}

#[test]
fn through_the_relay_with_a_stock_ssh_r() {
    use airlock::relay::{Relay, RelayConfig};
    // Certificate for the database's real name: the relay and the customer's
    // ssh carry bytes, TLS is verified end to end against it.
    let pg = Postgres::start();
    pg.seed_rows(ORDERS, 20_000);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, customer) = sshd::ssh_keygen(d, "customer", &["-t", "ed25519"], "");
    let (_, worker) = sshd::ssh_keygen(d, "worker", &["-t", "ed25519"], "");
    let port = sshd::free_port();
    std::fs::write(
        d.join("relay.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nhost_key = \"relay_host_key\"\n\n\
             [[tunnels]]\nname = \"shop-db\"\nport = 15432\ncustomer_keys = [\"{}\"]\n\n\
             [[workers]]\nkey = \"{}\"\ntunnels = [\"shop-db\"]\n",
            customer.trim(),
            worker.trim()
        ),
    )
    .unwrap();
    let rt = harness::net::runtime();
    let relay = rt
        .block_on(Relay::start(
            RelayConfig::load(&d.join("relay.toml")).unwrap(),
        ))
        .expect("start the relay");
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{port} {}\n", relay.host_public_key()),
    )
    .unwrap();
    // The customer's DBA, inside their network: stock OpenSSH.
    let mut customer = sshd::reverse_tunnel(
        d,
        "customer",
        port,
        &format!("15432:127.0.0.1:{}", pg.port()),
        "tunnel",
    )
    .spawn()
    .expect("ssh -R");
    let started = Instant::now();
    while !relay.status().iter().any(|t| t.up) {
        assert!(started.elapsed() < Duration::from_secs(15), "tunnel not up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let route = format!(
        "[endpoints.postgres.via.reverse_ssh]\nrelay = \"127.0.0.1:{port}\"\ntunnel = \"shop-db\"\n\
         user = \"airlock\"\nprivate_key = {{ file = {:?} }}\nhost_key = \"{}\"\n",
        d.join("worker").display().to_string(),
        relay.host_key_fingerprint()
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, TLS_NAME, &route, "");
    let run = sync(&job);
    let _ = customer.kill();
    let _ = customer.wait();
    run.expect(0);
    assert_orders_synced(&pg, &job);
    let status = relay.status();
    assert!(
        status[0].connections >= 1 && status[0].bytes > 4_000_000,
        "{status:?}"
    );
}

#[test]
fn through_a_private_endpoint_in_a_network_namespace() {
    let ns = Namespace::create("pe", 77);
    let pg = Postgres::start_with(Options {
        netns: Some(ns.name.clone()),
        listen: ns.peer_ip.into(),
        ..Options::default()
    });
    pg.seed_rows(ORDERS, 20_000);
    let route = format!(
        "[endpoints.postgres.via.private_endpoint]\naddress = \"{}\"\nprovider = \"aws\"\n",
        ns.peer_ip
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, TLS_NAME, &route, "");
    sync(&job).expect(0);
    assert_orders_synced(&pg, &job);
}

/// PostgreSQL lives where only the bastion's namespace routes: the direct
/// route fails, naming the address, and the SSH route through the bastion
/// in that namespace works.
#[test]
fn behind_the_bastion_only_the_ssh_route_reaches_the_database() {
    let topo = Topology::create();
    let pg = Postgres::start_with(Options {
        netns: Some(topo.db_ns.clone()),
        listen: topo.db_ip.into(),
        ..Options::default()
    });
    pg.seed_rows(ORDERS, 20_000);
    let db = topo.db_ip.to_string();

    let direct = pg_job(&pg, READER, READER_PASSWORD, &db, "", "");
    let run = sync(&direct);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&db) && run.stderr.contains("unreachable"),
        "{}",
        run.stderr
    );

    let sshd = Sshd::start_in(&topo.bastion.name, topo.bastion.peer_ip.into(), "");
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = sshd::ssh_keygen(keys.path(), "client", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    // The bastion reaches the database by address; TLS still checks its name.
    let route = format!(
        "[endpoints.postgres.via.ssh]\n{}target = \"{db}:{}\"\n",
        hop(&sshd, keys.path(), "client"),
        pg.port()
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, TLS_NAME, &route, "");
    sync(&job).expect(0);
    assert_orders_synced(&pg, &job);
}

/// The bastion dies mid-sync after some checkpoints: the sync fails naming
/// the bastion; after it is back, the next sync resumes from the last
/// checkpoint and the destination equals the source, nothing twice.
#[test]
fn a_bastion_killed_mid_sync_then_the_next_sync_resumes_exactly() {
    use airlock::config::JobConfig;
    use airlock::job::{self, Progress, Runtime};
    use airlock::net::EgressPolicy;
    use airlock::sandbox::SandboxOptions;
    use std::sync::Arc;

    const ROWS: u64 = 100_000;
    let pg = local_pg();
    pg.seed_rows(ORDERS, ROWS);
    let keys = tempfile::tempdir().unwrap();
    let sshd = bastion(keys.path());
    let route = format!(
        "[endpoints.postgres.via.ssh]\n{}keepalive_interval_secs = 2\nkeepalive_count = 2\n",
        hop(&sshd, keys.path(), &format!("key{}", sshd.port))
    );
    let job = pg_job(&pg, READER, READER_PASSWORD, "localhost", &route, "");
    let config = JobConfig::load(&job.config).expect("connection file");
    let runtime = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(harness::cache_dir()),
            pooled_instances: None,
        },
        EgressPolicy::loopback_allowed(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    let progress = Arc::new(Progress::default());
    let (failed, mut sshd) = std::thread::scope(|s| {
        let watch = progress.clone();
        let killer = s.spawn(move || {
            let started = Instant::now();
            // Past 4,000 rows the connector has asked for three checkpoints
            // (one per 1,000); the destination may still hold them folded
            // into its open transaction, which the failing sync must commit.
            while watch.snapshot().total_upserts() < 4_000 {
                assert!(started.elapsed() < Duration::from_secs(120), "no rows");
                std::thread::sleep(Duration::from_millis(5));
            }
            let mut sshd = sshd;
            sshd.kill();
            sshd
        });
        let result = rt.block_on(job::sync(&runtime, &config, progress.clone()));
        (result, killer.join().unwrap())
    });
    let err = failed
        .expect_err("the sync must fail when the bastion dies")
        .to_string();
    let bastion = format!("{}@127.0.0.1:{}", sshd::USER, sshd.port);
    assert!(
        err.contains(&bastion) && err.contains("SSH connection"),
        "the error names the bastion: {err}"
    );
    let committed = harness::scalar(&job.db(), "SELECT count(*) FROM orders") as u64;
    assert!(
        (3_000..ROWS).contains(&committed),
        "some checkpoints were committed, not everything: {committed}"
    );

    // Rows change while the sync is down, behind and ahead of the committed key.
    let touched = pg.touch(ORDERS, "id % 1000 = 0");
    assert_eq!(touched, ROWS / 1000);
    sshd.restart();
    let resumed = rt
        .block_on(job::sync(&runtime, &config, Arc::new(Progress::default())))
        .expect("the sync after the bastion is back");
    let again = resumed.stats.total_upserts();
    assert!(
        again <= ROWS - committed + 1_000 + touched,
        "resumed from the last checkpoint: {again} rows read again after {committed} committed"
    );
    // The first read resumed in key order, then caught up on the changed rows.
    assert_orders_synced(&pg, &job);
}
