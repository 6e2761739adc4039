//! PostgreSQL read throughput, side by side in one run, every leg reading the
//! same table from the same server (the harness's, TLS required everywhere):
//!
//! - **psql**: `\copy (select * from t) to /dev/null` — the source's own limit
//!   (libpq, COPY text format, nothing written) — direct, and through
//!   `ssh -N -L` over the bastion; each also with the connector's own query
//!   for a first sync (`order by id`: in primary-key order).
//! - **airlock**: the `guest-examples/postgres` connector, run in-process by
//!   the library, syncing the table into a fresh DuckDB file — direct, and
//!   through the same bastion (russh, `via.ssh`).
//! - **sling** (`pip install sling`, the Go binary from the PyPI wheel
//!   `sling-linux-<arch>`): the same table to a local CSV file — direct, and
//!   through the same bastion (its `ssh_tunnel` option).
//!
//! The bastion is a real OpenSSH sshd on loopback with one cipher
//! (AES-256-GCM) for every client. Rows/s, and MB/s of the table's COPY text
//! size (the same numerator for every leg), median of the rounds; legs take
//! turns within a round so drift hits them alike.
//!
//! Run: `cargo bench --bench postgres` (release; as root, like the tests).
//! `AIRLOCK_BENCH_ROWS` (default 1000000), `AIRLOCK_BENCH_ROUNDS` (default 3),
//! `AIRLOCK_BENCH_ONLY=psql,airlock,sling` (a subset of legs). sling is
//! installed into a venv under the target dir on first use.
//! `AIRLOCK_BENCH_BASELINE=path/to/postgres.wasm` adds two legs that run
//! another build of the connector (say, from an older commit) the same way,
//! to compare two builds within one run.

// The allocator the `airlock` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use airlock::config::JobConfig;
use airlock::job::{self, Progress, Runtime};
use airlock::net::EgressPolicy;
use airlock::sandbox::SandboxOptions;

#[path = "../tests/all/harness/sshd.rs"]
#[allow(dead_code)]
mod sshd;

#[path = "../tests/all/harness/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use postgres::{DATABASE, Options, Postgres, READER, READER_PASSWORD};

/// The one cipher every SSH client here negotiates (what airlock prefers).
const CIPHER: &str = "aes256-gcm@openssh.com";
/// The table every leg reads.
const TABLE: &str = "bench";
/// Where the connector's `[config] password` comes from.
const PASSWORD_ENV: &str = "AIRLOCK_BENCH_PG_PASSWORD";

fn main() {
    // SAFETY: the first thing main does, while this is the only thread.
    unsafe { std::env::set_var(PASSWORD_ENV, READER_PASSWORD) };
    let rows: u64 = env_or("AIRLOCK_BENCH_ROWS", 1_000_000);
    let rounds: usize = env_or("AIRLOCK_BENCH_ROUNDS", 3).max(1);
    let only = std::env::var("AIRLOCK_BENCH_ONLY").unwrap_or_default();
    let wanted = |leg: &str| only.is_empty() || only.split(',').any(|o| o.trim() == leg);

    // `localhost`: a name that resolves here and on the bastion, so TLS
    // verifies a real name on every route.
    let pg = Postgres::start_with(Options {
        tls_name: "localhost".into(),
        require_tls: true,
        ..Options::default()
    });
    let started = Instant::now();
    pg.seed_rows(TABLE, rows);
    let bytes = copy_bytes(&pg);
    println!(
        "postgres benchmark: {rows} rows, {:.1} MB as COPY text ({:.0} B/row), seeded in {:.1}s, {rounds} rounds",
        bytes as f64 / 1e6,
        bytes as f64 / rows as f64,
        started.elapsed().as_secs_f64()
    );

    let sshd = sshd::Sshd::start(&format!("Ciphers {CIPHER}"));
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = sshd::ssh_keygen(keys.path(), "bench", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    let key = keys.path().join("bench");
    let bastion = Bastion {
        port: sshd.port,
        key: key.clone(),
        host_key: sshd.host_fingerprint(),
        log: sshd.dir.path().join("sshd.log"),
    };

    let mut legs: Vec<Leg> = Vec::new();
    let mut _forward = None;
    if wanted("psql") {
        legs.push(Leg::new("psql direct", psql_leg(&pg, pg.addr, PLAIN)));
        legs.push(Leg::new(
            "psql direct, by key",
            psql_leg(&pg, pg.addr, KEYED),
        ));
        let fwd = sshd::LocalForward::start(
            [127, 0, 0, 1].into(),
            bastion.port,
            &bastion.key,
            &pg.addr.to_string(),
            &["-c", CIPHER],
        );
        let local = SocketAddr::from(([127, 0, 0, 1], fwd.port));
        legs.push(Leg::new("psql via ssh -L", psql_leg(&pg, local, PLAIN)));
        legs.push(Leg::new(
            "psql via ssh -L, by key",
            psql_leg(&pg, local, KEYED),
        ));
        _forward = Some(fwd);
    }
    if wanted("airlock") {
        match airlock_legs(&pg, &bastion, rows) {
            Ok(mut l) => legs.append(&mut l),
            Err(why) => println!("  airlock: skipped: {why}"),
        }
    }
    if wanted("sling") {
        match Sling::install() {
            Ok(sling) => {
                let sling = Arc::new(sling);
                legs.push(Leg::new("sling direct", sling.leg(&pg, None, rows)));
                legs.push(Leg::new(
                    "sling via ssh",
                    sling.leg(&pg, Some(&bastion), rows),
                ));
            }
            Err(why) => println!("  sling: skipped: {why}"),
        }
    }

    for round in 0..rounds {
        let mut line = format!("  round {round}:");
        for leg in &mut legs {
            let secs = (leg.run)();
            leg.secs.push(secs);
            line += &format!("  {} {:.2}s", leg.name, secs);
        }
        println!("{line}");
    }

    println!("median of {rounds}:");
    let mut medians = Vec::new();
    for leg in &legs {
        let secs = median(leg.secs.clone());
        medians.push((leg.name, secs));
        println!(
            "  {:<22} {:>7.2} s  {:>10.0} rows/s  {:>7.1} MB/s",
            leg.name,
            secs,
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    }
    let secs = |name: &str| medians.iter().find(|m| m.0 == name).map(|m| m.1);
    for (a, b) in [
        ("airlock direct", "psql direct"),
        ("airlock via ssh", "psql via ssh -L"),
        ("airlock direct", "sling direct"),
        ("airlock via ssh", "sling via ssh"),
        ("airlock direct", "baseline direct"),
        ("airlock via ssh", "baseline via ssh"),
    ] {
        if let (Some(sa), Some(sb)) = (secs(a), secs(b)) {
            // Throughput ratio: above 1 means airlock moves rows faster.
            println!("  throughput {a} / {b} = {:.2}", sb / sa);
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One way of reading the table: runs once, returns wall seconds.
struct Leg {
    name: &'static str,
    run: Box<dyn FnMut() -> f64>,
    secs: Vec<f64>,
}

impl Leg {
    fn new(name: &'static str, run: Box<dyn FnMut() -> f64>) -> Leg {
        Leg {
            name,
            run,
            secs: Vec::new(),
        }
    }
}

/// The sshd every tunnelled leg goes through.
struct Bastion {
    port: u16,
    key: PathBuf,
    host_key: String,
    /// sshd's log, to prove a leg really logged in through it.
    log: PathBuf,
}

/// SSH logins the bastion has accepted so far.
fn logins(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("Accepted publickey"))
        .count()
}

/// Bytes of the table in COPY text format, read once through psql (untimed).
fn copy_bytes(pg: &Postgres) -> u64 {
    let mut child = Command::new(postgres::bindir().join("psql"))
        .args(["-X", "-q", "-d"])
        .arg(pg.conninfo(READER, READER_PASSWORD, "sslmode=require"))
        .args(["-c", &format!("\\copy (select * from {TABLE}) to stdout")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("psql");
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match out.read(&mut buf).unwrap() {
            0 => break,
            k => n += k as u64,
        }
    }
    assert!(child.wait().unwrap().success(), "psql \\copy failed");
    n
}

/// What psql copies: the whole table as it lies on disk.
const PLAIN: &str = "select * from bench";
/// The connector's own query for a first sync of an incremental table: the
/// same rows in primary-key order (the key's index serves it).
const KEYED: &str = "select * from bench order by id";

/// `psql \copy (query) to /dev/null`, connecting to `addr`.
fn psql_leg(pg: &Postgres, addr: SocketAddr, query: &'static str) -> Box<dyn FnMut() -> f64> {
    let conninfo = pg.conninfo_via(addr, READER, READER_PASSWORD, "sslmode=require");
    Box::new(move || {
        let started = Instant::now();
        let out = Command::new(postgres::bindir().join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &conninfo])
            .args(["-c", &format!("\\copy ({query}) to /dev/null")])
            .output()
            .expect("psql");
        let secs = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        secs
    })
}

/// The connector's two legs (direct, via the bastion), each a sync into a
/// fresh DuckDB file; or why they cannot run.
fn airlock_legs(pg: &Postgres, bastion: &Bastion, rows: u64) -> Result<Vec<Leg>, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let crate_dir = repo.join("guest-examples/postgres");
    if !crate_dir.join("Cargo.toml").is_file() {
        return Err(format!("{} is not there yet", crate_dir.display()));
    }
    let wasm = airlock::guest_build::build(&crate_dir).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(
        Runtime::new(
            &SandboxOptions {
                cache_dir: Some(dir.path().join("cache")),
                pooled_instances: None,
            },
            // The server and the bastion are on loopback here.
            EgressPolicy::loopback_allowed(),
        )
        .map_err(|e| e.to_string())?,
    );
    let rt = Arc::new(tokio::runtime::Runtime::new().unwrap());
    let baseline = std::env::var_os("AIRLOCK_BENCH_BASELINE").map(PathBuf::from);
    let builds = [
        Some((wasm, ["airlock direct", "airlock via ssh"])),
        baseline.map(|w| (w, ["baseline direct", "baseline via ssh"])),
    ];
    let dir = Arc::new(dir);
    let mut legs = Vec::new();
    for (wasm, names) in builds.into_iter().flatten() {
        // Compile the component into the cache before any clock starts, as a
        // worker that has run this connector before would have it.
        rt.block_on(job::spec(&runtime, &wasm))
            .map_err(|e| format!("{}: {e}", wasm.display()))?;
        legs.extend(sync_legs(
            pg, bastion, rows, &wasm, names, &runtime, &rt, &dir,
        )?);
    }
    Ok(legs)
}

/// A sync of the bench table by the connector `wasm`, direct and via the bastion.
#[allow(clippy::too_many_arguments)]
fn sync_legs(
    pg: &Postgres,
    bastion: &Bastion,
    rows: u64,
    wasm: &Path,
    names: [&'static str; 2],
    runtime: &Arc<Runtime>,
    rt: &Arc<tokio::runtime::Runtime>,
    dir: &Arc<tempfile::TempDir>,
) -> Result<Vec<Leg>, String> {
    let base = format!(
        "connector = {wasm:?}\n\
         [destination]\nduckdb = \"out.duckdb\"\n\
         [config]\ndatabase = \"{DATABASE}\"\nuser = \"{READER}\"\n\
         password = {{ env = \"{PASSWORD_ENV}\" }}\ntables = [\"public.{TABLE}\"]\n\
         [endpoints.postgres]\nhost = \"localhost\"\nport = {port}\n\
         tls = \"require\"\ntls_handshake = \"in-band\"\nca_file = {ca:?}\n",
        wasm = wasm.display().to_string(),
        port = pg.port(),
        ca = pg.ca_file().display().to_string(),
    );
    let via = format!(
        "[endpoints.postgres.via.ssh]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n\
         private_key = {{ file = {:?} }}\nhost_key = \"{}\"\n",
        bastion.port,
        sshd::USER,
        bastion.key.display().to_string(),
        bastion.host_key,
    );
    let mut legs = Vec::new();
    for (name, text) in [(names[0], base.clone()), (names[1], format!("{base}{via}"))] {
        let cfg = JobConfig::parse(&text, dir.path(), "bench").map_err(|e| e.to_string())?;
        let (runtime, rt, dir) = (runtime.clone(), rt.clone(), dir.clone());
        legs.push(Leg::new(
            name,
            Box::new(move || {
                // A fresh destination each round, so every round syncs everything.
                for f in ["out.duckdb", "out.duckdb.wal"] {
                    let _ = std::fs::remove_file(dir.path().join(f));
                }
                let started = Instant::now();
                let report = rt
                    .block_on(job::sync(&runtime, &cfg, Arc::new(Progress::default())))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let secs = started.elapsed().as_secs_f64();
                assert_eq!(report.stats.total_upserts(), rows, "{name}");
                secs
            }),
        ));
    }
    Ok(legs)
}

/// sling as `pip install sling` gives it, in a venv under the target dir.
struct Sling {
    /// The `sling` command the package installs (a Python wrapper).
    wrapper: PathBuf,
    /// The Go binary it runs.
    binary: PathBuf,
    /// Its home (`SLING_HOME_DIR`) and the files it writes.
    dir: tempfile::TempDir,
}

impl Sling {
    /// Installs sling into `<target tmp>/sling-venv` unless it is there. The
    /// `sling` package's wrapper downloads its Go binary from GitHub on first
    /// use, which only works with open internet; the wheel
    /// `sling-linux-<arch>` ships the same binary through PyPI, and
    /// `SLING_BINARY` points the wrapper at it.
    fn install() -> Result<Sling, String> {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sling-venv");
        let python = venv.join("bin/python");
        let wheel = match std::env::consts::ARCH {
            "x86_64" => "sling-linux-amd64",
            "aarch64" => "sling-linux-arm64",
            other => return Err(format!("no sling binary wheel for {other}")),
        };
        let module = wheel.replace('-', "_");
        let binary = |python: &Path| -> Option<PathBuf> {
            let out = Command::new(python)
                .args(["-c", &format!("import {module}; print({module}.SLING_BIN)")])
                .output()
                .ok()?;
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            (out.status.success() && p.is_file()).then_some(p)
        };
        if binary(&python).is_none() || !venv.join("bin/sling").is_file() {
            println!("  installing sling into {}", venv.display());
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", "sling", wheel])
                    .status()
                    .is_ok_and(|s| s.success());
            if !ok {
                return Err("python3 -m venv / pip install sling failed".into());
            }
        }
        let binary = binary(&python).ok_or(format!("{wheel} has no binary"))?;
        Ok(Sling {
            wrapper: venv.join("bin/sling"),
            binary,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// `sling run` from the table to a local CSV file, optionally through
    /// `bastion`.
    fn leg(
        self: &Arc<Sling>,
        pg: &Postgres,
        bastion: Option<&Bastion>,
        rows: u64,
    ) -> Box<dyn FnMut() -> f64> {
        let mut conn = serde_json::json!({
            "type": "postgres",
            "host": "127.0.0.1",
            "port": pg.port(),
            "user": READER,
            "password": READER_PASSWORD,
            "database": DATABASE,
            "sslmode": "require",
        });
        if let Some(b) = bastion {
            conn["ssh_tunnel"] = format!("ssh://{}@127.0.0.1:{}", sshd::USER, b.port).into();
            conn["ssh_private_key"] = b.key.display().to_string().into();
        }
        let conn = conn.to_string();
        let sling = self.clone();
        let bastion_log = bastion.map(|b| b.log.clone());
        Box::new(move || {
            let before = bastion_log.as_deref().map(logins);
            let out_file = sling.dir.path().join("bench.csv");
            let _ = std::fs::remove_file(&out_file);
            let started = Instant::now();
            let out = Command::new(&sling.wrapper)
                .args(["run", "--src-conn", "PG_BENCH", "--src-stream"])
                .arg(format!("public.{TABLE}"))
                .arg("--tgt-object")
                .arg(format!("file://{}", out_file.display()))
                .env("PG_BENCH", &conn)
                .env("SLING_BINARY", &sling.binary)
                .env("SLING_HOME_DIR", sling.dir.path())
                .env("SLING_DISABLE_TELEMETRY", "true")
                .output()
                .expect("run sling");
            let secs = started.elapsed().as_secs_f64();
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "sling: {log}");
            // sling ends with "wrote N rows [...]"; make sure it moved them all.
            assert!(
                log.contains(&format!("wrote {rows} rows")),
                "sling did not write {rows} rows: {log}"
            );
            if let (Some(path), Some(before)) = (&bastion_log, before) {
                assert!(
                    logins(path) > before,
                    "sling never logged in to the bastion"
                );
            }
            secs
        })
    }
}
