//! `airlock demo`: a real sync through an embedded SSH bastion to a sample
//! HTTPS API (the `demo` feature).

use std::path::PathBuf;

use super::summary;
use crate::demo::run::{API_HOST, DemoOptions};
use crate::job::JobError;

/// Runs the demo in `dir`, saying each stage on stderr unless `quiet`, then
/// prints both syncs' summaries.
pub(super) async fn run(
    dir: PathBuf,
    customers: u64,
    cache_dir: Option<PathBuf>,
    quiet: bool,
) -> Result<(), JobError> {
    let opts = DemoOptions {
        dir,
        customers,
        cache_dir,
    };
    let report = crate::demo::run::run(&opts, |stage, _| {
        if !quiet {
            eprintln!("demo: {stage}…");
        }
    })
    .await?;
    println!(
        "airlock demo: rest-api → SSH bastion (host key {} pinned) → https://{} (TLS verified)",
        report.host_key, API_HOST
    );
    println!("full sync:");
    summary::print(&report.full);
    println!(
        "{} records changed at the source; incremental sync:",
        report.touched
    );
    summary::print(&report.incremental);
    println!("the connection file it used: {}", report.config.display());
    Ok(())
}
