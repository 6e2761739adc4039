//! `airlock discover --config FILE [--json]`: the tables a connector writes.

use std::path::Path;

use super::tables;
use crate::job::{self, JobError, Runtime};

/// Prints the tables as a listing, or as JSON with `json`.
pub(super) async fn run(rt: &Runtime, config: &Path, json: bool) -> Result<(), JobError> {
    let config = super::load_config(config)?;
    let tables = job::discover(rt, &config).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tables::to_json(&tables)).expect("serializes")
        );
    } else {
        tables::print(&tables);
    }
    Ok(())
}
