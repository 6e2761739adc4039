//! `airlock reset --config FILE`: forget the job's committed state.

use std::path::Path;

use crate::job::{self, JobError};

/// Forgets the state (rows stay) and says whether there was any.
pub(super) fn run(config: &Path) -> Result<(), JobError> {
    let config = super::load_config(config)?;
    if job::reset(&config)? {
        println!(
            "forgot the state of job `{}`; the next sync starts from scratch (rows are kept)",
            config.name
        );
    } else {
        println!("job `{}` had no committed state", config.name);
    }
    Ok(())
}
