//! The direct transport: resolve on this host, check every address against the
//! egress policy, dial the checked address. Also the first hop of every tunnel.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use crate::conn::{Deadline, NetError};
use crate::net::policy::EgressPolicy;

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
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match policy.check(a.ip()) {
            Ok(()) => true,
            Err(r) => {
                refusals.push(r.to_string());
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(NetError::denied(format!(
            "{host}:{port} denied by the egress policy: {}",
            refusals.join("; ")
        )));
    }
    connect_first(&allowed).await.map_err(|errors| {
        NetError::unreachable(format!(
            "cannot connect to {host}:{port} ({})",
            errors.join("; ")
        ))
    })
}

/// Connects to the first of `addrs` (already checked) that answers; or each
/// address's error, as `addr: error`.
pub(super) async fn connect_first(
    addrs: &[SocketAddr],
) -> Result<(TcpStream, SocketAddr), Vec<String>> {
    let mut errors = Vec::new();
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Requests and handshakes are small writes that must go out now.
                let _ = s.set_nodelay(true);
                return Ok((s, addr));
            }
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(errors)
}
