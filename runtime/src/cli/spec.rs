//! `airlock spec <connector>`: the JSON Schema of a connector's config.

use std::path::Path;

use crate::job::{self, JobError, Runtime};

/// Prints the schema, pretty-printed, on stdout.
pub(super) async fn run(rt: &Runtime, connector: &Path) -> Result<(), JobError> {
    let schema = job::spec(rt, connector).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("a JSON value serializes")
    );
    Ok(())
}
