//! Transports: how the bytes of a connection travel to an endpoint. One file
//! each; every transport yields a [`BoxStream`] and a
//! description of the path it took. [`open`] is the one place that picks the
//! transport for a route: a new transport is a file here and an arm there
//! (and its config in `config/endpoint/`).

pub mod direct;
pub mod private_endpoint;
pub mod reverse_ssh;
pub mod ssh;

use std::net::SocketAddr;

use crate::config::{Endpoint, Route};
use crate::conn::{BoxStream, Deadline, NetError};
use crate::net::Dialer;

/// How a connection got where it is, for `airlock check` and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// Each hop in order, e.g. `"tcp 127.0.0.1:2222"`, `"ssh airlock@bastion:22 (host key SHA256:... pinned, publickey)"`.
    pub hops: Vec<String>,
    /// The address this host dialed first (the endpoint itself on a direct
    /// route, the first SSH server on a tunnel).
    pub dialed: Option<SocketAddr>,
}

/// Opens the bytes of a connection to `e` along its route, by `deadline`.
/// TLS, if the endpoint asks for it, is the caller's next step.
pub async fn open(
    dialer: &Dialer,
    e: &Endpoint,
    deadline: Deadline,
) -> Result<(BoxStream, PathInfo), NetError> {
    Ok(match &e.route {
        Route::Direct => {
            let (tcp, addr) = direct::dial(&e.host, e.port, &dialer.policy, deadline).await?;
            let path = PathInfo {
                hops: vec![format!("tcp {addr}")],
                dialed: Some(addr),
            };
            (Box::new(tcp), path)
        }
        Route::Ssh { route, target } => {
            let (host, port) = match target {
                Some((host, port)) => (host.as_str(), *port),
                None => (e.host.as_str(), e.port),
            };
            ssh::open(dialer, route, host, port, deadline).await?
        }
        Route::PrivateEndpoint(pe) => {
            // `e.host` is not looked up: the bytes go to the private endpoint's
            // address; TLS afterwards still verifies `e.host`.
            let key = format!("endpoints.{}.via.private_endpoint", e.name);
            let (tcp, path) = private_endpoint::dial(pe, &dialer.policy, &key, deadline).await?;
            (Box::new(tcp), path)
        }
        Route::ReverseSsh(route) => reverse_ssh::open(dialer, route, e.port, deadline).await?,
    })
}
