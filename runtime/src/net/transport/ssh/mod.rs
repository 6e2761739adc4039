//! The SSH transport: a `direct-tcpip` channel through a bastion (or a chain of
//! them), over a session the process shares ([`SshPool`]). The first hop is
//! dialed through [`direct::dial`], so the egress policy judges the bastion's
//! resolved address like any other.
//!
//! This is airlock's SSH *client*: the process-wide session pool ([`pool`]),
//! establishing a route hop by hop ([`session`]), the russh handler of a hop
//! (`handler`), the host-key check every hop makes ([`host_key`]) and fetching
//! a server's fingerprint ([`fingerprint`]). What it shares with the relay (keys,
//! algorithms and flow sizes, the channel stream) lives in [`crate::ssh`].

pub mod fingerprint;
mod handler;
pub mod host_key;
pub mod pool;
pub mod session;

pub use fingerprint::fetch_host_key;
pub use host_key::Verified;
pub use pool::{FirstHopDialer, SshPool};
pub use session::{HopInfo, RouteInfo};

use super::{PathInfo, direct};
use crate::config::SshRoute;
use crate::conn::{BoxStream, Deadline, NetError};
use crate::net::Dialer;

/// Opens a channel to `host:port` through `route`; `host` is resolved by the last hop.
pub async fn open(
    dialer: &Dialer,
    route: &SshRoute,
    host: &str,
    port: u16,
    deadline: Deadline,
) -> Result<(BoxStream, PathInfo), NetError> {
    let policy = dialer.policy.clone();
    let first_hop: Box<FirstHopDialer> = Box::new(move |h: String, p: u16| {
        let policy = policy.clone();
        Box::pin(async move {
            direct::dial(&h, p, &policy, deadline)
                .await
                .map(|(tcp, _)| tcp)
        })
    });
    let (stream, info) = dialer
        .ssh
        .open_direct_tcpip(route, host, port, deadline, &*first_hop)
        .await?;
    let mut hops: Vec<String> = info.to_string().lines().map(str::to_owned).collect();
    hops.push(format!(
        "direct-tcpip {host}:{port} (resolved by the last hop)"
    ));
    Ok((
        Box::new(stream),
        PathInfo {
            hops,
            dialed: info.first_hop_peer,
        },
    ))
}
