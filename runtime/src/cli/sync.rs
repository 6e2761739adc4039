//! `airlock sync --config FILE [--json]`: one sync from the last checkpoint.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::progress::BarSlot;
use super::summary;
use crate::job::{self, JobError, Progress, Runtime};

/// Runs the sync with a progress bar on a terminal (not with `json` or
/// `quiet`), then prints the summary, as JSON with `json`.
pub(super) async fn run(
    rt: &Runtime,
    config: &Path,
    json: bool,
    quiet: bool,
    bar: &BarSlot,
) -> Result<(), JobError> {
    let config = super::load_config(config)?;
    let progress = Arc::new(Progress::default());
    let shown = (!json && !quiet && std::io::stderr().is_terminal())
        .then(|| bar.show(&config.name, progress.clone()));
    let result = job::sync(rt, &config, progress).await;
    if let Some(ticker) = shown {
        ticker.abort();
        bar.clear();
    }
    let report = result?;
    if json {
        let mut v = serde_json::to_value(&report).expect("serializes");
        v["ok"] = true.into();
        println!("{v}");
    } else {
        summary::print(&report);
    }
    Ok(())
}
