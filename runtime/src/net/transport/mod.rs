//! Transports: how the bytes of a connection travel to an endpoint. One file
//! each; every transport yields a [`BoxStream`](super::BoxStream) and a
//! description of the path it took.

pub mod direct;
pub mod private_endpoint;
pub mod reverse_ssh;
pub mod ssh;

use std::net::SocketAddr;

/// How a connection got where it is, for `airlock check` and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// Each hop in order, e.g. `"tcp 127.0.0.1:2222"`, `"ssh airlock@bastion:22 (host key SHA256:... pinned, publickey)"`.
    pub hops: Vec<String>,
    /// The address this host dialed first (the endpoint itself on a direct
    /// route, the first SSH server on a tunnel).
    pub dialed: Option<SocketAddr>,
}
