//! `[endpoints.NAME]`: the network handles a connector may open, and the route
//! the host takes to each (direct, through SSH bastions, to a cloud private
//! endpoint, or back through a customer's reverse tunnel held by an `airlock relay`).
//!
//! Parsing only; dialing lives in `net`, SSH in `ssh`. Transport credentials
//! (keys, passphrases, passwords, TLS client keys) are
//! [`Secret`](super::Secret)s: resolved from `{ env = ".." }` / `{ file = ".." }`,
//! registered with the job's redactor, and never handed to the connector.
//!
//! This file holds what every endpoint has (name, host, port, timeout) and the
//! two route enums; `tls.rs` the TLS settings; `via.rs` how the `via` table is
//! read; each route a file of its own, with its raw settings (`via.NAME`), what
//! they resolve to, and the checks between. A new route is a new file here, a
//! variant in `RawRoute` and in [`Route`], and its arm in `RawRoute::resolve`.

mod direct;
mod private_endpoint;
mod reverse_ssh;
mod ssh;
#[cfg(test)]
mod tests;
mod tls;
mod via;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use self::private_endpoint::{PrivateEndpoint, Provider};
pub use self::reverse_ssh::ReverseSshRoute;
pub use self::ssh::{
    DEFAULT_KEEPALIVE_COUNT, DEFAULT_KEEPALIVE_SECS, HostKeyCheck, SshAuth, SshHop, SshRoute,
};
pub use self::tls::{Tls, TlsMode};
use super::ConfigError;
use crate::redact::Redactor;

/// Default connect timeout of an endpoint.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 30;

/// One endpoint: a name the connector can `connect` to, and how the host gets there.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The key under `[endpoints]`, what the connector passes to `connect`.
    pub name: String,
    /// The source's real host name: dialed on a direct route, handed to the last
    /// SSH hop on a tunnel, not looked up on a private endpoint route (the
    /// endpoint's `address` is), and always the name TLS verifies.
    pub host: String,
    /// The source's port.
    pub port: u16,
    /// TLS settings.
    pub tls: Tls,
    /// How long a connect (including every SSH hop and the TLS handshake) may take.
    pub connect_timeout: Duration,
    /// How the bytes travel.
    pub route: Route,
}

/// The path from this host to an endpoint.
#[derive(Debug, Clone)]
pub enum Route {
    /// A TCP connection from this host.
    Direct,
    /// Through one SSH bastion, or a chain of them.
    Ssh {
        /// The hops; connections through the same hops share one session.
        route: SshRoute,
        /// Where the last hop connects instead of the endpoint's `host:port`
        /// (`via.ssh.target`), e.g. `localhost:15432` when the customer's own
        /// `ssh -R` ends on their bastion. TLS still verifies `host`.
        target: Option<(String, u16)>,
    },
    /// A TCP connection from this host to a cloud private endpoint.
    PrivateEndpoint(PrivateEndpoint),
    /// Back through a customer's reverse tunnel (`ssh -R`) held by an
    /// `airlock relay`.
    ReverseSsh(ReverseSshRoute),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    host: String,
    port: u16,
    #[serde(default = "tls::default_mode")]
    tls: TlsMode,
    /// "immediate" (default) or "in-band".
    tls_handshake: Option<String>,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<toml::Value>,
    connect_timeout_secs: Option<u64>,
    via: Option<via::RawVia>,
}

/// One table under `via`, named for its route: `[endpoints.NAME.via.ssh]` is
/// `RawRoute::Ssh`. Externally tagged, and every variant wraps its route's
/// settings type (`via.rs` says how the table is read). The variants'
/// order is the order an unknown route's error lists them in.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawRoute {
    /// `via.direct`: the default, spelled out.
    Direct(direct::RawDirect),
    /// `via.ssh`: a bastion, and its jump hosts.
    Ssh(ssh::RawSsh),
    /// `via.private_endpoint`: a cloud private endpoint.
    PrivateEndpoint(private_endpoint::RawPrivateEndpoint),
    /// `via.reverse_ssh`: a tunnel held by an `airlock relay`.
    ReverseSsh(reverse_ssh::RawReverseSsh),
}

/// What a route's settings are resolved with.
struct RouteContext<'a> {
    /// The key path of the route's table, `endpoints.NAME.via.ROUTE`: the
    /// start of every error about it.
    key: String,
    /// The endpoint's own port.
    endpoint_port: u16,
    /// The connection file's directory, where relative paths start.
    base: &'a Path,
    /// Learns every secret the route resolves.
    redactor: &'a mut Redactor,
}

impl RouteContext<'_> {
    /// The context of the route table `name` under this `via`.
    fn route(mut self, name: &str) -> Self {
        self.key = format!("{}.{name}", self.key);
        self
    }
}

impl RawRoute {
    /// Checks the route's settings and resolves its secrets; `cx.key` is the
    /// endpoint's `via`.
    fn resolve(self, cx: RouteContext<'_>) -> Result<Route, ConfigError> {
        match self {
            RawRoute::Direct(r) => r.resolve(cx.route("direct")),
            RawRoute::Ssh(r) => r.resolve(cx.route("ssh")),
            RawRoute::PrivateEndpoint(r) => r.resolve(cx.route("private_endpoint")),
            RawRoute::ReverseSsh(r) => r.resolve(cx.route("reverse_ssh")),
        }
    }
}

/// Turns `[endpoints]` into endpoints, resolving secrets into `redactor`.
pub(super) fn resolve_endpoints(
    raw: BTreeMap<String, RawEndpoint>,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Vec<Endpoint>, ConfigError> {
    raw.into_iter()
        .map(|(name, e)| resolve_endpoint(name, e, base, redactor))
        .collect()
}

fn resolve_endpoint(
    name: String,
    e: RawEndpoint,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Endpoint, ConfigError> {
    let path = format!("endpoints.{name}");
    if !is_simple_name(&name) {
        return Err(ConfigError::key(
            path,
            "endpoint names use letters, digits, '-', '_' and '.' only",
        ));
    }
    if e.host.trim().is_empty() {
        return Err(ConfigError::key(
            format!("{path}.host"),
            "must not be empty",
        ));
    }
    if e.port == 0 {
        return Err(ConfigError::key(
            format!("{path}.port"),
            "must be 1..=65535",
        ));
    }
    let tls = tls::RawTls {
        mode: e.tls,
        handshake: e.tls_handshake,
        ca_file: e.ca_file,
        client_cert: e.client_cert,
        client_key: e.client_key,
    }
    .resolve(&path, base, redactor)?;
    let connect_timeout_secs = e
        .connect_timeout_secs
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS);
    if connect_timeout_secs == 0 {
        return Err(ConfigError::key(
            format!("{path}.connect_timeout_secs"),
            "must be at least 1",
        ));
    }
    let route = match e.via {
        None => Route::Direct,
        Some(via) => {
            let key = format!("{path}.via");
            let Ok([route]) = <[RawRoute; 1]>::try_from(via.routes) else {
                return Err(ConfigError::key(
                    key,
                    "give exactly one route: `via.ssh`, `via.reverse_ssh` or `via.private_endpoint`, or leave `via` out for a direct connection",
                ));
            };
            route.resolve(RouteContext {
                key,
                endpoint_port: e.port,
                base,
                redactor,
            })?
        }
    };
    Ok(Endpoint {
        name,
        host: e.host,
        port: e.port,
        tls,
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        route,
    })
}

/// A non-empty name of letters, digits, `-`, `_` and `.`: endpoint and
/// tunnel names (the relay's `relay.toml` uses the same rule), DNS names.
pub(crate) fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
