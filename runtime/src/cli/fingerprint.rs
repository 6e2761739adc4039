//! `airlock fingerprint HOST[:PORT]`: an SSH server's host key, to pin.

use std::time::Duration;

use crate::job::JobError;

/// Fetches the host key of `target` and prints its fingerprint and the
/// `host_key = "..."` line to pin.
pub(super) async fn run(target: &str, timeout_secs: u64) -> Result<(), JobError> {
    let (host, port) = split_host_port(target).map_err(JobError::Usage)?;
    let (key_type, fingerprint) =
        crate::ssh::fetch_host_key(&host, port, Duration::from_secs(timeout_secs))
            .await
            .map_err(|e| JobError::Failed(e.to_string()))?;
    println!("{host}:{port} presents a {key_type} host key: {fingerprint}");
    println!(
        "compare it with the bastion admin's `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`, then pin it:"
    );
    println!("host_key = \"{fingerprint}\"");
    Ok(())
}

/// `HOST` or `HOST:PORT` (IPv6 as `[::1]:22`) → host and port (22 by default).
fn split_host_port(target: &str) -> Result<(String, u16), String> {
    let bad = || format!("\"{target}\" is not HOST or HOST:PORT");
    if let Some(rest) = target.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => 22,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
        }
        _ if target.is_empty() => Err(bad()),
        _ => Ok((target.to_owned(), 22)),
    }
}
