//! The same hello-shaped connector in Rust (`guest-examples/hello`), Python
//! (`benches/guests/python-hello`) and TypeScript (`guest-examples/js-hello`),
//! side by side: component size, cold compile (Cranelift, no cache), cached
//! start (load the compiled artifact, instantiate, first call), rows/s of a
//! sync into DuckDB, and the host's peak RSS for that sync (measured in a
//! child process of its own per language).
//!
//! Run: `cargo bench --bench languages` (release profile). Environment:
//! `AIRLOCK_BENCH_USERS` (default 200,000; each user is a `users` and an
//! `events` row, every 10th user also a delete), `AIRLOCK_BENCH_ROUNDS`
//! (syncs per language, best counts; default 3), `AIRLOCK_BENCH_COLD` (cold
//! compiles per language; default 3), `AIRLOCK_BENCH_ONLY=rust,python,typescript`.
//! Build tools for Python and TypeScript are installed into the airlock cache
//! (`AIRLOCK_CACHE_DIR`) when missing.

// The allocator the `airlock` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::config::JobConfig;
use airlock::job::{self, Progress, Runtime};
use airlock::net::{EgressPolicy, Network};
use airlock::sandbox::{JobEnv, LoadedConnector, Sandbox, SandboxOptions};

const LANGUAGES: [(&str, &str); 3] = [
    ("rust", "guest-examples/hello"),
    ("python", "benches/guests/python-hello"),
    ("typescript", "guest-examples/js-hello"),
];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Instantiates and calls `spec`: the first call a job makes.
async fn first_call(loaded: &LoadedConnector, cfg: &JobConfig) {
    let env = JobEnv {
        job: "bench",
        limits: &cfg.limits,
        redactor: &cfg.redactor,
        scratch_dir: None,
        network: Arc::new(Network::none()),
    };
    let mut instance = loaded.instantiate(env).await.expect("instantiate");
    instance.spec().await.expect("spec");
}

/// Sandbox, load (compile or from `cache`), instantiate, first call.
async fn start(wasm: &Path, cache: &Path, cfg: &JobConfig) -> Duration {
    let t = Instant::now();
    let sandbox = Sandbox::new(&SandboxOptions {
        cache_dir: Some(cache.to_owned()),
        pooled_instances: None,
    })
    .unwrap();
    first_call(&sandbox.load(wasm).expect("load"), cfg).await;
    t.elapsed()
}

fn sync_config(wasm: &Path, users: u64, db: &str, dir: &Path) -> JobConfig {
    let every = (users / 10).max(1);
    JobConfig::parse(
        &format!(
            "connector = {:?}\n[config]\nusers = {users}\ncheckpoint_every = {every}\n\
             [destination]\nduckdb = {db:?}\n[limits]\nbuffered_rows = 250000\n",
            wasm.display().to_string()
        ),
        dir,
        "bench",
    )
    .unwrap()
}

/// One sync; returns its wall time.
fn sync(rt: &tokio::runtime::Runtime, sandbox: &Runtime, cfg: &JobConfig) -> Duration {
    let report = rt
        .block_on(job::sync(sandbox, cfg, Arc::new(Progress::default())))
        .expect("sync");
    report.stats.elapsed
}

/// `--rss WASM USERS CACHE`: one sync in a fresh process; prints its peak RSS.
fn rss_child(args: &[String]) {
    let (wasm, users, cache) = (Path::new(&args[0]), args[1].parse().unwrap(), &args[2]);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(PathBuf::from(cache)),
            pooled_instances: None,
        },
        EgressPolicy::default(),
    )
    .unwrap();
    sync(
        &rt,
        &sandbox,
        &sync_config(wasm, users, "rss.duckdb", dir.path()),
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    println!("rss_kb {}", hwm.trim().trim_end_matches("kB").trim());
}

struct Row {
    lang: &'static str,
    size: u64,
    cold: Duration,
    cached: Duration,
    rows_per_sec: f64,
    rss_mb: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--rss") {
        return rss_child(&args[at + 1..]);
    }
    let users = env_num("AIRLOCK_BENCH_USERS", 200_000);
    let rounds = env_num("AIRLOCK_BENCH_ROUNDS", 3).max(1);
    let colds = env_num("AIRLOCK_BENCH_COLD", 3).max(1);
    let only = std::env::var("AIRLOCK_BENCH_ONLY").unwrap_or_default();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cfg = JobConfig::parse("connector = \"x.wasm\"", repo, "bench").unwrap();

    let mut results = Vec::new();
    let mut warmed = false;
    for (lang, dir) in LANGUAGES {
        if !only.is_empty() && !only.split(',').any(|l| l == lang) {
            continue;
        }
        let wasm = airlock::guest_build::build(&repo.join(dir))
            .unwrap_or_else(|e| panic!("building {dir}: {e}"));
        let size = std::fs::metadata(&wasm).unwrap().len();
        eprintln!("{lang}: {} ({} KiB)", wasm.display(), size / 1024);

        let mut cold = Vec::new();
        for _ in 0..colds {
            let fresh = tempfile::tempdir().unwrap();
            cold.push(rt.block_on(start(&wasm, fresh.path(), &cfg)));
        }
        let cache = work.path().join(format!("cache-{lang}"));
        rt.block_on(start(&wasm, &cache, &cfg)); // fill the cache
        let mut cached = Vec::new();
        for _ in 0..20 {
            cached.push(rt.block_on(start(&wasm, &cache, &cfg)));
        }

        let sandbox = Runtime::new(
            &SandboxOptions {
                cache_dir: Some(cache.clone()),
                pooled_instances: None,
            },
            EgressPolicy::default(),
        )
        .unwrap();
        if !warmed {
            // The process's first DuckDB file pays one-off setup: not any language's.
            sync(
                &rt,
                &sandbox,
                &sync_config(&wasm, 100, "warm.duckdb", work.path()),
            );
            warmed = true;
        }
        let mut best = Duration::MAX;
        for round in 0..rounds {
            let db = format!("{lang}-{round}.duckdb");
            let t = sync(&rt, &sandbox, &sync_config(&wasm, users, &db, work.path()));
            eprintln!("{lang} round {round}: {t:?}");
            best = best.min(t);
            let _ = std::fs::remove_file(work.path().join(&db));
            let _ = std::fs::remove_file(work.path().join(format!("{db}.wal")));
        }

        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--rss")
            .arg(&wasm)
            .arg(users.to_string())
            .arg(&cache)
            .output()
            .expect("run the RSS child");
        let out = String::from_utf8_lossy(&child.stdout);
        let rss_kb: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("rss_kb "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the RSS child printed no rss_kb: {out}{}",
                    String::from_utf8_lossy(&child.stderr)
                )
            });

        results.push(Row {
            lang,
            size,
            cold: median(cold),
            cached: median(cached),
            rows_per_sec: (2 * users) as f64 / best.as_secs_f64(),
            rss_mb: rss_kb / 1024.0,
        });
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{users} users ({} rows + {} deletes), best of {rounds} syncs; cold: median of {colds}, cached: median of 20",
        2 * users,
        users / 10
    );
    println!(
        "| language | component | cold compile + first call | cached start | rows/s into DuckDB | vs Rust | host peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let rust = results
        .iter()
        .find(|r| r.lang == "rust")
        .map(|r| r.rows_per_sec);
    for r in &results {
        let ratio = rust.map_or("-".to_owned(), |x| format!("{:.2}×", r.rows_per_sec / x));
        println!(
            "| {} | {:.1} MiB | {:.0} ms | {:.1} ms | {:.0} | {ratio} | {:.0} MiB |",
            r.lang,
            r.size as f64 / (1 << 20) as f64,
            ms(r.cold),
            ms(r.cached),
            r.rows_per_sec,
            r.rss_mb
        );
    }
}
