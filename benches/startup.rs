//! Time from nothing to a connector ready for its first call, three ways:
//! cold (compile with Cranelift), cached (load the compiled artifact), and
//! pre-linked + pooled (instantiate an `InstancePre` into a pooling slot).
//!
//! Run: `cargo bench --bench startup` (release profile). Prints medians.

// The allocator the `airlock` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::config::JobConfig;
use airlock::net::Network;
use airlock::sandbox::{JobEnv, LoadedConnector, Sandbox, SandboxOptions};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

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

#[tokio::main]
async fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let wasm =
        airlock::guest_build::build(&repo.join("guest-examples/hello")).expect("build hello");
    let cfg = JobConfig::parse("connector = \"hello.wasm\"", repo, "bench").unwrap();
    println!(
        "connector: {} ({} KiB)",
        wasm.display(),
        std::fs::metadata(&wasm).unwrap().len() / 1024
    );

    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let opts = SandboxOptions {
            cache_dir: Some(dir.path().to_owned()),
            pooled_instances: None,
        };
        let t = Instant::now();
        let sandbox = Sandbox::new(&opts).unwrap();
        first_call(&sandbox.load(&wasm).unwrap(), &cfg).await;
        cold.push(t.elapsed());
        for _ in 0..4 {
            let t = Instant::now();
            let sandbox = Sandbox::new(&opts).unwrap();
            first_call(&sandbox.load(&wasm).unwrap(), &cfg).await;
            cached.push(t.elapsed());
        }
    }

    // Pre-linked: the component is loaded once; each run only instantiates.
    let dir = tempfile::tempdir().unwrap();
    let mut prelinked = Vec::new();
    for pooled in [None, Some(16)] {
        let opts = SandboxOptions {
            cache_dir: Some(dir.path().to_owned()),
            pooled_instances: pooled,
        };
        let sandbox = Sandbox::new(&opts).unwrap();
        let loaded = sandbox.load(&wasm).unwrap();
        first_call(&loaded, &cfg).await; // warm the slot and page cache
        let mut v = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            first_call(&loaded, &cfg).await;
            v.push(t.elapsed());
        }
        prelinked.push(median(v));
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("time to the first call (median):");
    println!(
        "  cold (compile + instantiate)         {:>9.2} ms",
        ms(median(cold))
    );
    println!(
        "  cached artifact (load + instantiate) {:>9.2} ms",
        ms(median(cached))
    );
    println!(
        "  pre-linked, on-demand allocation     {:>9.3} ms",
        ms(prelinked[0])
    );
    println!(
        "  pre-linked, pooling allocator        {:>9.3} ms",
        ms(prelinked[1])
    );
}
