//! The direct transport: resolve on this host, check every address against the
//! egress policy, dial the checked address. Also the first hop of every tunnel.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use crate::net::policy::EgressPolicy;
use crate::net::{Deadline, NetError};

/// Resolves `host`, keeps the addresses `policy` allows, and connects to the
/// first that answers, all by `deadline`. The address connected to is the
/// one checked: there is no second lookup an attacker's DNS could answer differently.
pub async fn dial(
    host: &str,
    port: u16,
    policy: &EgressPolicy,
    deadline: Deadline,
) -> Result<(TcpStream, SocketAddr), NetError> {
    let doing = || format!("connecting to {host}:{port}");
    deadline.run(doing, dial_inner(host, port, policy)).await
}

async fn dial_inner(
    host: &str,
    port: u16,
    policy: &EgressPolicy,
) -> Result<(TcpStream, SocketAddr), NetError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| NetError::unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::unreachable(format!(
            "{host} resolves to no address"
        )));
    }
    let mut refusals = Vec::new();
    let mut last_err = None;
    for addr in addrs {
        if let Err(r) = policy.check(addr.ip()) {
            refusals.push(r.0);
            continue;
        }
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Requests and handshakes are small writes that must go out now.
                let _ = s.set_nodelay(true);
                return Ok((s, addr));
            }
            Err(e) => last_err = Some(format!("{addr}: {e}")),
        }
    }
    match last_err {
        Some(e) => Err(NetError::unreachable(format!(
            "cannot connect to {host}:{port} ({e})"
        ))),
        None => Err(NetError::denied(format!(
            "{host}:{port} denied by the egress policy: {}",
            refusals.join("; ")
        ))),
    }
}
