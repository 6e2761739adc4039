//! `airlock reset --config FILE`: forget the job's committed state.

use std::path::Path;

use crate::job::{self, JobError, Runtime};

/// Forgets the state (rows stay) and says whether there was any.
pub(super) async fn run(rt: &Runtime, config: &Path) -> Result<(), JobError> {
    let config = super::load_config(config)?;
    if job::reset(rt, &config).await? {
        println!(
            "forgot the state of job `{}`; the next sync starts from scratch (rows are kept)",
            config.name
        );
    } else {
        println!("job `{}` had no committed state", config.name);
    }
    Ok(())
}
