//! The SSH transport: a `direct-tcpip` channel through a bastion (or a chain of
//! them), over a session the process shares (see [`crate::ssh::SshPool`]).
//! The first hop is dialed through [`direct::dial`], so the
//! egress policy judges the bastion's resolved address like any other.

use super::{PathInfo, direct};
use crate::config::SshRoute;
use crate::net::{BoxStream, Deadline, Dialer, NetError};
use crate::ssh::FirstHopDialer;

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
