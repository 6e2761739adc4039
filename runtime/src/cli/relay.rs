//! `airlock relay --config RELAY_TOML [status]`: run the reverse-SSH relay, or
//! show what the running one carries.

use std::path::PathBuf;

use super::RelayAction;
use crate::job::JobError;

/// Runs the relay until it stops, or prints its status with `status`.
pub(super) async fn run(
    config: Option<PathBuf>,
    action: Option<RelayAction>,
) -> Result<(), JobError> {
    let config = config.ok_or_else(|| {
        JobError::Usage(
            "airlock relay: --config RELAY_TOML is required (see docs/network.md for the file)"
                .into(),
        )
    })?;
    match action {
        None => crate::relay::run(&config).await.map_err(JobError::Usage)?,
        Some(RelayAction::Status) => {
            let relay = crate::relay::RelayConfig::load(&config).map_err(JobError::Usage)?;
            let shown =
                crate::relay::status::render(&relay.status_file, std::time::SystemTime::now())
                    .map_err(JobError::Usage)?;
            print!("{shown}");
        }
    }
    Ok(())
}
