//! The reverse-SSH transport: back through a customer's `ssh -R` tunnel held by
//! an `airlock relay`. To this host it is an SSH route with one hop, the relay,
//! whose `direct-tcpip` target host is the tunnel's *name* (the relay ignores
//! the port); so it shares the pooled session, keepalive, reconnect and
//! host-key pinning of [`ssh`].

use super::{PathInfo, ssh};
use crate::config::ReverseSshRoute;
use crate::conn::{BoxStream, Deadline, NetError, SshRefusal};
use crate::net::Dialer;

/// Opens a connection through the tunnel `route.tunnel`; `port` is the
/// endpoint's port, passed along for the relay's logs only.
pub async fn open(
    dialer: &Dialer,
    route: &ReverseSshRoute,
    port: u16,
    deadline: Deadline,
) -> Result<(BoxStream, PathInfo), NetError> {
    let tunnel = &route.tunnel;
    let (stream, mut path) = ssh::open(dialer, &route.relay, tunnel, port, deadline)
        .await
        .map_err(|e| explain(e, route))?;
    if let Some(last) = path.hops.last_mut() {
        *last =
            format!("reverse tunnel \"{tunnel}\" (the customer's ssh -R, carried by the relay)");
    }
    Ok((stream, path))
}

/// SSH refusals are worded for a bastion's sshd by the SSH client; say what
/// they mean coming from a relay.
fn explain(e: NetError, route: &ReverseSshRoute) -> NetError {
    let tunnel = &route.tunnel;
    let relay = route
        .relay
        .hops
        .last()
        .map(|h| format!("{}:{}", h.host, h.port))
        .unwrap_or_default();
    match e.refusal {
        Some(SshRefusal::ChannelProhibited) => NetError::denied(format!(
            "the relay {relay} refused tunnel \"{tunnel}\": this worker's key may not reach it, \
             or the relay has no tunnel of that name (relay.toml: [[tunnels]] name and the \
             [[workers]] entry's tunnels)"
        )),
        // The SSH client's hint (authorized_keys) is a bastion's, not the relay's.
        Some(SshRefusal::KeyRejected) => NetError::denied(format!(
            "the relay {relay} does not know this worker's key: add its public line as \
             `key` of a [[workers]] entry (with tunnels = [\"{tunnel}\"]) in the relay's relay.toml \
             ({})",
            e.message
        )),
        Some(SshRefusal::ChannelConnectFailed) => NetError::unreachable(format!(
            "tunnel \"{tunnel}\" is not up on the relay {relay}: the customer's `ssh -R` (autossh) is \
             not connected, or its side could not reach the database"
        )),
        Some(SshRefusal::ChannelResourceShortage) => NetError::unreachable(format!(
            "the relay {relay} refused tunnel \"{tunnel}\": this worker's SSH connection to it \
             already carries the relay's limit of {} connections; close some, or run fewer jobs \
             through this relay per worker process",
            crate::ssh::tuning::MAX_CHANNELS_PER_CONNECTION
        )),
        None => e,
    }
}
