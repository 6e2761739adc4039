//! `via.reverse_ssh`: back through a customer's reverse tunnel (`ssh -R`) held
//! by an `airlock relay`. The relay is one SSH hop, pooled like any bastion;
//! the tunnel's name is what the host asks it for.

use std::path::PathBuf;

use serde::Deserialize;

use super::ssh::{HostKeyPins, RawHop, SshRoute, resolve_hop};
use super::{Route, RouteContext, is_simple_name};
use crate::config::{ConfigError, split_host_port};

/// A reverse tunnel: an SSH session to the relay (one hop, pooled like any
/// bastion's), whose `direct-tcpip` target host is the tunnel's name; the
/// relay carries the connection over the customer's `ssh -R` session.
#[derive(Debug, Clone)]
pub struct ReverseSshRoute {
    /// The relay as a one-hop SSH route.
    pub relay: SshRoute,
    /// The tunnel name in the relay's `relay.toml`.
    pub tunnel: String,
}

/// `[endpoints.NAME.via.reverse_ssh]`: like a bastion hop, but `relay =
/// "host:port"` and the `tunnel` to ask for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReverseSsh {
    relay: String,
    tunnel: String,
    user: String,
    private_key: Option<toml::Value>,
    passphrase: Option<toml::Value>,
    host_key: Option<HostKeyPins>,
    known_hosts: Option<PathBuf>,
    #[serde(default)]
    insecure_accept_any_host_key: bool,
    keepalive_interval_secs: Option<u64>,
    keepalive_count: Option<u32>,
}

impl RawReverseSsh {
    /// The relay as a hop (keys only: the relay accepts no passwords) and the tunnel.
    pub(super) fn resolve(self, cx: RouteContext<'_>) -> Result<Route, ConfigError> {
        let path = cx.key;
        let (host, port) = split_host_port(&self.relay, None).ok_or_else(|| {
            ConfigError::key(
                format!("{path}.relay"),
                format!(
                    "\"{}\" is not HOST:PORT, e.g. \"relay.example.com:2222\"",
                    self.relay
                ),
            )
        })?;
        if !is_simple_name(&self.tunnel) {
            return Err(ConfigError::key(
                format!("{path}.tunnel"),
                "the tunnel name as in the relay's relay.toml (letters, digits, '-', '_', '.')",
            ));
        }
        if self.private_key.is_none() {
            return Err(ConfigError::key(
                format!("{path}.private_key"),
                "the relay accepts keys only; set private_key = { file = \"keys/airlock\" } \
                 (make one with `airlock keygen --out keys/airlock`, and list its public line under [[workers]] in relay.toml)",
            ));
        }
        let hop = RawHop {
            host,
            port: Some(port),
            user: self.user,
            private_key: self.private_key,
            passphrase: self.passphrase,
            password: None,
            host_key: self.host_key,
            known_hosts: self.known_hosts,
            insecure_accept_any_host_key: self.insecure_accept_any_host_key,
            keepalive_interval_secs: self.keepalive_interval_secs,
            keepalive_count: self.keepalive_count,
        };
        let hop = resolve_hop(hop, path, cx.base, cx.redactor)?;
        Ok(Route::ReverseSsh(ReverseSshRoute {
            relay: SshRoute { hops: vec![hop] },
            tunnel: self.tunnel,
        }))
    }
}
