//! Checkpoint = commit: a sync that crashes after its k-th checkpoint resumes
//! from it, and ends with exactly the tables of a clean run.

use crate::harness;

use harness::{Job, guest, scalar};

const TABLES: [&str; 2] = ["users", "events"];

fn dump(job: &Job, table: &str) -> Vec<Vec<String>> {
    job.query(&format!(
        "SELECT * EXCLUDE (_airlock_synced_at) FROM {table} ORDER BY id"
    ))
}

#[test]
fn crash_after_third_checkpoint_then_resume_equals_clean_run() {
    let hello = guest("guest-examples/hello");
    let config = "[config]\nusers = 200\ncheckpoint_every = 20\n";

    let clean = Job::new(&hello, config);
    clean.airlock(&["sync"]).expect(0);

    let crashy = Job::new(&hello, &format!("{config}fail_after_checkpoints = 3\n"));
    let run = crashy.airlock(&["sync"]).expect(1);
    assert!(run.stderr.contains("crashed in `sync`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("panicked"),
        "the panic message is shown: {}",
        run.stderr
    );
    assert!(run.stderr.contains("3 checkpoints"), "{}", run.stderr);
    assert!(run.stderr.contains("resumes from it"), "{}", run.stderr);

    // The state is that of the 3rd checkpoint, and the data is not behind it.
    let db = crashy.db();
    let state: String = db
        .query_row("SELECT state FROM _airlock_state", [], |r| r.get(0))
        .unwrap();
    let next: i64 = serde_json::from_str::<serde_json::Value>(&state).unwrap()["next_id"]
        .as_i64()
        .unwrap();
    let start = scalar(&clean.db(), "SELECT min(id) FROM users");
    assert_eq!(next, start + 60, "state of checkpoint 3: {state}");
    assert!(
        scalar(
            &db,
            &format!("SELECT count(*) FROM users WHERE id < {next}")
        ) == 60
    );
    drop(db);

    // Same job, fault removed: resumes from checkpoint 3.
    std::fs::write(
        &crashy.config,
        std::fs::read_to_string(&crashy.config)
            .unwrap()
            .replace("fail_after_checkpoints = 3\n", ""),
    )
    .unwrap();
    let run = crashy.airlock(&["sync", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        v["tables"]["users"]["upserts"], 140,
        "only the remaining 140 users are emitted: {v}"
    );

    for t in TABLES {
        let (a, b) = (dump(&clean, t), dump(&crashy, t));
        assert_eq!(a.len(), b.len(), "{t}: row count");
        assert_eq!(a, b, "{t}: contents");
        assert_eq!(
            scalar(
                &crashy.db(),
                &format!("SELECT count(*) - count(DISTINCT id) FROM {t}")
            ),
            0
        );
    }
    let state = |j: &Job| j.query("SELECT state FROM _airlock_state");
    assert_eq!(state(&clean), state(&crashy));
}
