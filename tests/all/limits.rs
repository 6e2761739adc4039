//! A connector that loops, hoards memory or floods a host call is stopped with
//! a clear error, and the same host process runs the next job fine.

use crate::harness;

use std::path::Path;
use std::sync::Arc;

use airlock::config::JobConfig;
use airlock::job::Runtime;
use airlock::job::{self, JobError, Progress};
use airlock::net::EgressPolicy;
use airlock::sandbox::SandboxOptions;
use harness::{Job, guest};

fn config(connector: &Path, body: &str, dir: &Path) -> JobConfig {
    let text = format!(
        "connector = {:?}\n[destination]\nduckdb = \"out.duckdb\"\n{body}",
        connector.display().to_string()
    );
    JobConfig::parse(&text, dir, "limits").unwrap()
}

async fn sync_err(sandbox: &Runtime, cfg: &JobConfig) -> String {
    match job::sync(sandbox, cfg, Arc::new(Progress::default())).await {
        Err(JobError::Failed(msg)) => msg,
        other => panic!("expected a failed sync, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_stop_misbehaving_connectors_and_the_host_carries_on() {
    let misbehave = guest("tests/guests/misbehave");
    let hello = guest("guest-examples/hello");
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(harness::cache_dir()),
            pooled_instances: None,
        },
        EgressPolicy::default(),
    )
    .unwrap();

    let looping = config(
        &misbehave,
        "[config]\nmode = \"loop\"\n[limits]\ncall_timeout_secs = 1\n",
        dir.path(),
    );
    let msg = sync_err(&sandbox, &looping).await;
    assert!(
        msg.contains("ran for more than 1s in one call (limits.call_timeout_secs = 1)"),
        "{msg}"
    );

    let hog = config(
        &misbehave,
        "[config]\nmode = \"grow-memory\"\n[limits]\nmemory_mb = 32\n",
        dir.path(),
    );
    let msg = sync_err(&sandbox, &hog).await;
    assert!(
        msg.contains("over its limit of 32 MiB (limits.memory_mb)"),
        "{msg}"
    );

    let flood = config(
        &misbehave,
        "[config]\nmode = \"huge-payload\"\npayload_mb = 8\n[limits]\nhost_call_mb = 2\nmemory_mb = 128\n",
        dir.path(),
    );
    let msg = sync_err(&sandbox, &flood).await;
    assert!(
        msg.contains("over the limit of 2 MiB (limits.host_call_mb)"),
        "{msg}"
    );
    assert!(msg.contains("in one `upsert` call"), "{msg}");

    // A column batch is measured as the rows it stands for: a few bytes of
    // null columns cannot smuggle in gigabytes of rows.
    let nulls = config(&misbehave, "[config]\nmode = \"null-flood\"\n", dir.path());
    let msg = sync_err(&sandbox, &nulls).await;
    assert!(msg.contains("(limits.host_call_mb)"), "{msg}");
    assert!(msg.contains("in one `upsert-columns` call"), "{msg}");

    // Same engine, same process: a well-behaved job runs to the end.
    let good = config(&hello, "[config]\nusers = 20\n", dir.path());
    let report = job::sync(&sandbox, &good, Arc::new(Progress::default()))
        .await
        .expect("hello syncs after the others failed");
    assert_eq!(report.stats.tables["users"].upserts, 20);
}

#[test]
fn limit_errors_reach_the_user_with_exit_code_1() {
    let job = Job::new(
        &guest("tests/guests/misbehave"),
        "[config]\nmode = \"loop\"\n[limits]\ncall_timeout_secs = 1\n",
    );
    let run = job.airlock(&["sync"]).expect(1);
    assert!(
        run.stderr.contains("limits.call_timeout_secs"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("reached: items 0"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_instances_run_jobs_side_by_side() {
    let hello = guest("guest-examples/hello");
    let sandbox = Arc::new(
        Runtime::new(
            &SandboxOptions {
                cache_dir: Some(harness::cache_dir()),
                pooled_instances: Some(8),
            },
            EgressPolicy::default(),
        )
        .unwrap(),
    );
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut jobs = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let cfg = config(
            &hello,
            &format!("[config]\nusers = {}\ncheckpoint_every = 7\n", 10 * (i + 1)),
            d.path(),
        );
        let sandbox = sandbox.clone();
        jobs.push(tokio::spawn(async move {
            job::sync(&sandbox, &cfg, Arc::new(Progress::default())).await
        }));
    }
    for (i, j) in jobs.into_iter().enumerate() {
        let report = j.await.unwrap().expect("job succeeds");
        assert_eq!(report.stats.tables["users"].upserts, 10 * (i as u64 + 1));
    }
}
