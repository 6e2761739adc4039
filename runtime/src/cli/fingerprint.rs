//! `airlock fingerprint HOST[:PORT]`: an SSH server's host key, to pin.

use std::time::Duration;

use crate::job::JobError;

/// Fetches the host key of `target` and prints its fingerprint and the
/// `host_key = "..."` line to pin.
pub(super) async fn run(target: &str, timeout_secs: u64) -> Result<(), JobError> {
    let (host, port) = crate::config::split_host_port(target, Some(22))
        .ok_or_else(|| JobError::Usage(format!("\"{target}\" is not HOST or HOST:PORT")))?;
    let (key_type, fingerprint) =
        crate::net::fetch_host_key(&host, port, Duration::from_secs(timeout_secs))
            .await
            .map_err(|e| JobError::Failed(e.to_string()))?;
    println!("{host}:{port} presents a {key_type} host key: {fingerprint}");
    println!(
        "compare it with the bastion admin's `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`, then pin it:"
    );
    println!("host_key = \"{fingerprint}\"");
    Ok(())
}
