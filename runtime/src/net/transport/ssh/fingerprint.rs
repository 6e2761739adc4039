//! `airlock fingerprint HOST[:PORT]`: fetch a server's host key without logging in.

use std::time::Duration;

use super::handler::{CAPTURED, HopError, HopHandler};
use crate::config::{HostKeyCheck, Secret, SshAuth, SshHop};
use crate::conn::NetError;
use crate::ssh::{keys, tuning};

/// Connects to `host:port`, runs the key exchange, and returns the server's host
/// key type (`ssh-ed25519`) and fingerprint (`SHA256:...`). It disconnects right
/// after the key exchange: nothing is authenticated and no credential exists.
/// This dials directly (an operator command, not a connector's connection).
pub async fn fetch_host_key(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(String, String), NetError> {
    let server = format!("{host}:{port}");
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| NetError::unreachable(format!("connecting to {server}: {e}")))?;
        let hop = probe_hop(host, port);
        let handler = HopHandler::capture(&hop);
        let negotiated = handler.negotiated.clone();
        let result = russh::client::connect_stream(tuning::client_config(&hop), tcp, handler).await;
        let captured = negotiated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .host_key
            .take();
        match (captured, result) {
            (Some((key, _)), _) => Ok((keys::key_type(&key), keys::fingerprint(&key))),
            (None, Err(HopError::Refused(e))) if e.message != CAPTURED => Err(e),
            (None, Err(HopError::Ssh(e))) => Err(NetError::unreachable(format!(
                "SSH key exchange with {server} failed: {e}"
            ))),
            (None, _) => Err(NetError::unreachable(format!(
                "{server} ended the SSH handshake without presenting a host key"
            ))),
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        NetError::timeout(format!(
            "{server} did not complete an SSH key exchange within {} s",
            timeout.as_secs_f32()
        ))
    })?
}

/// A hop description for the probe; no credential is ever used.
fn probe_hop(host: &str, port: u16) -> SshHop {
    SshHop {
        host: host.to_owned(),
        port,
        user: String::new(),
        auth: SshAuth::Password(Secret::new("")),
        host_key: HostKeyCheck::Missing,
        keepalive_interval: Duration::from_secs(15),
        keepalive_count: 3,
        key_path: "fingerprint".to_owned(),
    }
}
