//! `[endpoints.NAME]`: the network handles a connector may open, and the route
//! the host takes to each (direct, through SSH bastions, to a cloud private
//! endpoint, or back through a customer's reverse tunnel held by an `airlock relay`).
//!
//! Parsing only; dialing lives in `net`, SSH in `ssh`. Transport credentials
//! (keys, passphrases, passwords, TLS client keys) are [`Secret`]s: resolved from
//! `{ env = ".." }` / `{ file = ".." }`, registered with the job's redactor, and
//! never handed to the connector.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, secret_ref};
use crate::redact::Redactor;

/// A secret value (key material, passphrase, password). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (for tests and for tools that hold a secret in memory).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call sites are the few places that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

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

/// TLS on an endpoint. The host does the handshake; the connector sees plaintext.
#[derive(Debug, Clone)]
pub struct Tls {
    /// disable, prefer or require.
    pub mode: TlsMode,
    /// `true`: handshake as soon as the connection is open (HTTPS). `false`: the
    /// connector starts it in-band with `upgrade-tls` (PostgreSQL, MySQL, STARTTLS).
    pub immediate: bool,
    /// PEM file of extra CA certificates to trust (besides the Web PKI roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for servers that require one.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<Secret>,
}

/// Whether TLS is used on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Clear text only.
    Disable,
    /// TLS if the connector negotiates it in-band; clear otherwise.
    Prefer,
    /// TLS always: the host refuses application bytes in clear.
    Require,
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

/// `via.private_endpoint`: a network interface the customer's cloud put in
/// this host's network (AWS PrivateLink interface endpoint, Azure Private
/// Endpoint, GCP Private Service Connect endpoint). The host resolves
/// `address`, insists every address is inside the operator's
/// `private_endpoint_networks`, and dials it; TLS still verifies the
/// endpoint's `host`, so the certificate is checked against the source's real
/// name, not the endpoint's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateEndpoint {
    /// The endpoint's DNS name or IP address, e.g.
    /// `vpce-0abc.vpce-svc-123.us-east-1.vpce.amazonaws.com` or `10.1.2.3`.
    pub address: String,
    /// The port on the private endpoint; the endpoint's `port` unless set.
    pub port: u16,
    /// Whose private endpoint it is (shown by `airlock check` and in errors).
    pub provider: Provider,
}

/// The cloud a private endpoint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// AWS PrivateLink (an interface VPC endpoint).
    Aws,
    /// Azure Private Link (a private endpoint).
    Azure,
    /// Google Cloud Private Service Connect.
    Gcp,
}

impl Provider {
    /// The config spelling: `aws`, `azure` or `gcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// SSH hops, in the order they are dialed: `jump` hosts first, the bastion last.
/// The bastion opens the final connection to the endpoint's `host:port`
/// (a `direct-tcpip` channel), so `host` is resolved in the bastion's network.
#[derive(Debug, Clone)]
pub struct SshRoute {
    /// At least one hop; the last is `via.ssh` itself.
    pub hops: Vec<SshHop>,
}

/// One SSH server on the way.
#[derive(Debug, Clone)]
pub struct SshHop {
    /// Host name or address of the SSH server (for a jump hop after the first,
    /// as seen from the previous hop).
    pub host: String,
    /// SSH port, 22 unless set.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// How to authenticate.
    pub auth: SshAuth,
    /// How the server's host key is checked.
    pub host_key: HostKeyCheck,
    /// Keepalive probe interval; a session is declared dead after
    /// `keepalive_count` unanswered probes.
    pub keepalive_interval: Duration,
    /// Unanswered keepalives before the session is dropped.
    pub keepalive_count: u32,
    /// The config key path of this hop (`endpoints.db.via.ssh.jump[0]`), for errors.
    pub key_path: String,
}

/// SSH client authentication.
#[derive(Debug, Clone)]
pub enum SshAuth {
    /// A private key (OpenSSH, PEM or PKCS#8 text), optionally encrypted.
    Key {
        /// The key file's contents.
        key: Secret,
        /// Passphrase of an encrypted key.
        passphrase: Option<Secret>,
    },
    /// A password.
    Password(Secret),
}

/// How a server's host key is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Accept only keys with one of these SHA256 fingerprints (`SHA256:...`).
    Pinned(Vec<String>),
    /// Accept keys listed for the host in this OpenSSH known_hosts file.
    KnownHosts(PathBuf),
    /// Accept anything (local development only; logged loudly on every connect).
    InsecureAcceptAny,
    /// Nothing configured: connecting is refused with the presented fingerprint
    /// and the config line to add.
    Missing,
}

/// Default SSH keepalive interval.
pub const DEFAULT_KEEPALIVE_SECS: u64 = 15;
/// Default unanswered keepalives before a session is declared dead.
pub const DEFAULT_KEEPALIVE_COUNT: u32 = 3;
/// Default connect timeout of an endpoint.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    host: String,
    port: u16,
    #[serde(default = "default_tls_mode")]
    tls: TlsMode,
    /// "immediate" (default) or "in-band".
    tls_handshake: Option<String>,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<toml::Value>,
    connect_timeout_secs: Option<u64>,
    via: Option<RawVia>,
}

fn default_tls_mode() -> TlsMode {
    TlsMode::Disable
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVia {
    direct: Option<toml::Table>,
    ssh: Option<RawSsh>,
    private_endpoint: Option<RawPrivateEndpoint>,
    reverse_ssh: Option<RawReverseSsh>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivateEndpoint {
    address: String,
    port: Option<u16>,
    provider: String,
}

/// `[endpoints.NAME.via.reverse_ssh]`: like a bastion hop, but `relay =
/// "host:port"` and the `tunnel` to ask for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReverseSsh {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSsh {
    /// `"host:port"` the bastion connects to instead of the endpoint's.
    target: Option<String>,
    #[serde(flatten)]
    hop: RawHop,
    #[serde(default)]
    jump: Vec<RawHop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHop {
    host: String,
    port: Option<u16>,
    user: String,
    private_key: Option<toml::Value>,
    passphrase: Option<toml::Value>,
    password: Option<toml::Value>,
    host_key: Option<HostKeyPins>,
    known_hosts: Option<PathBuf>,
    #[serde(default)]
    insecure_accept_any_host_key: bool,
    keepalive_interval_secs: Option<u64>,
    keepalive_count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HostKeyPins {
    One(String),
    Many(Vec<String>),
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
    let immediate = match e.tls_handshake.as_deref() {
        None | Some("immediate") => true,
        Some("in-band") => false,
        Some(other) => {
            return Err(ConfigError::key(
                format!("{path}.tls_handshake"),
                format!(
                    "\"{other}\" is not a handshake; use \"immediate\" (HTTPS-style) or \"in-band\" (the connector calls upgrade-tls, as PostgreSQL does)"
                ),
            ));
        }
    };
    if e.tls == TlsMode::Prefer && immediate {
        return Err(ConfigError::key(
            format!("{path}.tls"),
            "\"prefer\" means TLS if the connector negotiates it in-band; set tls_handshake = \"in-band\", or use tls = \"require\" for a TLS-only port",
        ));
    }
    if e.tls == TlsMode::Disable
        && (e.ca_file.is_some() || e.client_cert.is_some() || e.client_key.is_some())
    {
        return Err(ConfigError::key(
            path,
            "ca_file/client_cert/client_key are set but tls = \"disable\"; set tls = \"require\" or remove them",
        ));
    }
    if e.client_cert.is_some() != e.client_key.is_some() {
        return Err(ConfigError::key(
            path,
            "client_cert and client_key go together; set both or neither",
        ));
    }
    let client_key = e
        .client_key
        .as_ref()
        .map(|v| secret(v, &format!("{path}.client_key"), base, redactor))
        .transpose()?;
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
        Some(RawVia {
            direct: Some(t),
            ssh: None,
            private_endpoint: None,
            reverse_ssh: None,
        }) => {
            if let Some(k) = t.keys().next() {
                return Err(ConfigError::key(
                    format!("{path}.via.direct.{k}"),
                    "a direct route takes no settings",
                ));
            }
            Route::Direct
        }
        Some(RawVia {
            direct: None,
            ssh: None,
            private_endpoint: None,
            reverse_ssh: Some(r),
        }) => Route::ReverseSsh(resolve_reverse(
            r,
            format!("{path}.via.reverse_ssh"),
            base,
            redactor,
        )?),
        Some(RawVia {
            direct: None,
            ssh: Some(ssh),
            private_endpoint: None,
            reverse_ssh: None,
        }) => {
            let bastion_path = format!("{path}.via.ssh");
            let mut hops = Vec::with_capacity(ssh.jump.len() + 1);
            for (i, hop) in ssh.jump.into_iter().enumerate() {
                hops.push(resolve_hop(
                    hop,
                    format!("{bastion_path}.jump[{i}]"),
                    base,
                    redactor,
                )?);
            }
            let target = match &ssh.target {
                None => None,
                Some(t) => Some(split_host_port(t).ok_or_else(|| {
                    ConfigError::key(format!("{bastion_path}.target"), format!("\"{t}\" is not host:port; write where the bastion connects, e.g. \"localhost:15432\" for a customer's `ssh -R 15432:db:5432` to that bastion"))
                })?),
            };
            hops.push(resolve_hop(ssh.hop, bastion_path, base, redactor)?);
            Route::Ssh {
                route: SshRoute { hops },
                target,
            }
        }
        Some(RawVia {
            direct: None,
            ssh: None,
            private_endpoint: Some(pe),
            reverse_ssh: None,
        }) => Route::PrivateEndpoint(resolve_private_endpoint(
            pe,
            &format!("{path}.via.private_endpoint"),
            e.port,
        )?),
        Some(_) => {
            return Err(ConfigError::key(
                format!("{path}.via"),
                "give exactly one route: `via.ssh`, `via.reverse_ssh` or `via.private_endpoint`, or leave `via` out for a direct connection",
            ));
        }
    };
    Ok(Endpoint {
        name,
        host: e.host,
        port: e.port,
        tls: Tls {
            mode: e.tls,
            immediate,
            ca_file: e.ca_file.map(|p| base.join(p)),
            client_cert: e.client_cert.map(|p| base.join(p)),
            client_key,
        },
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        route,
    })
}

fn resolve_hop(
    h: RawHop,
    path: String,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<SshHop, ConfigError> {
    if h.host.trim().is_empty() {
        return Err(ConfigError::key(
            format!("{path}.host"),
            "must not be empty",
        ));
    }
    if h.user.trim().is_empty() {
        return Err(ConfigError::key(
            format!("{path}.user"),
            "must not be empty",
        ));
    }
    let auth = match (&h.private_key, &h.password) {
        (Some(k), None) => SshAuth::Key {
            key: secret(k, &format!("{path}.private_key"), base, redactor)?,
            passphrase: h
                .passphrase
                .as_ref()
                .map(|v| secret(v, &format!("{path}.passphrase"), base, redactor))
                .transpose()?,
        },
        (None, Some(p)) => {
            if h.passphrase.is_some() {
                return Err(ConfigError::key(
                    format!("{path}.passphrase"),
                    "only meaningful with private_key",
                ));
            }
            SshAuth::Password(secret(p, &format!("{path}.password"), base, redactor)?)
        }
        (None, None) => {
            return Err(ConfigError::key(
                path,
                "no credentials; set private_key = { file = \"keys/airlock\" } (make one with `airlock keygen --out keys/airlock`) or password = { env = \"...\" }",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::key(
                path,
                "set private_key or password, not both",
            ));
        }
    };
    let host_key = match (h.host_key, h.known_hosts, h.insecure_accept_any_host_key) {
        (Some(pins), None, false) => {
            let pins = match pins {
                HostKeyPins::One(p) => vec![p],
                HostKeyPins::Many(p) => p,
            };
            let key = format!("{path}.host_key");
            for p in &pins {
                check_fingerprint(p, &key)?;
            }
            if pins.is_empty() {
                return Err(ConfigError::key(key, "list at least one fingerprint"));
            }
            HostKeyCheck::Pinned(pins)
        }
        (None, Some(file), false) => HostKeyCheck::KnownHosts(base.join(file)),
        (None, None, true) => HostKeyCheck::InsecureAcceptAny,
        (None, None, false) => HostKeyCheck::Missing,
        _ => {
            return Err(ConfigError::key(
                path,
                "choose one of host_key, known_hosts and insecure_accept_any_host_key",
            ));
        }
    };
    let keepalive_interval_secs = h.keepalive_interval_secs.unwrap_or(DEFAULT_KEEPALIVE_SECS);
    let keepalive_count = h.keepalive_count.unwrap_or(DEFAULT_KEEPALIVE_COUNT);
    if keepalive_interval_secs == 0 || keepalive_count == 0 {
        return Err(ConfigError::key(
            path,
            "keepalive_interval_secs and keepalive_count must be at least 1",
        ));
    }
    Ok(SshHop {
        host: h.host,
        port: h.port.unwrap_or(22),
        user: h.user,
        auth,
        host_key,
        keepalive_interval: Duration::from_secs(keepalive_interval_secs),
        keepalive_count,
        key_path: path,
    })
}

fn resolve_private_endpoint(
    pe: RawPrivateEndpoint,
    path: &str,
    endpoint_port: u16,
) -> Result<PrivateEndpoint, ConfigError> {
    let provider = match pe.provider.as_str() {
        "aws" => Provider::Aws,
        "azure" => Provider::Azure,
        "gcp" => Provider::Gcp,
        other => {
            return Err(ConfigError::key(
                format!("{path}.provider"),
                format!(
                    "\"{other}\" is not a provider; use \"aws\" (PrivateLink), \"azure\" (Private Link) or \"gcp\" (Private Service Connect)"
                ),
            ));
        }
    };
    let address = pe.address.trim();
    if address.is_empty() {
        return Err(ConfigError::key(
            format!("{path}.address"),
            "must not be empty; give the private endpoint's DNS name or IP address",
        ));
    }
    // An IP literal (v4 or v6) is fine as is; anything else must look like a
    // bare host name, so a pasted URL or `host:port` is caught here with the
    // fix rather than as a lookup failure at sync time.
    if address.parse::<std::net::IpAddr>().is_err() {
        if address.contains("://") || address.contains('/') {
            return Err(ConfigError::key(
                format!("{path}.address"),
                format!("\"{address}\" looks like a URL; give only the DNS name or IP address"),
            ));
        }
        if address.contains(':') || address.contains('[') {
            return Err(ConfigError::key(
                format!("{path}.address"),
                format!(
                    "\"{address}\" is not a DNS name or IP address; put the port in `port`, and write IPv6 addresses without brackets"
                ),
            ));
        }
        if !is_simple_name(address) {
            return Err(ConfigError::key(
                format!("{path}.address"),
                format!("\"{address}\" is not a DNS name or IP address"),
            ));
        }
    }
    let port = pe.port.unwrap_or(endpoint_port);
    if port == 0 {
        return Err(ConfigError::key(
            format!("{path}.port"),
            "must be 1..=65535",
        ));
    }
    Ok(PrivateEndpoint {
        address: address.to_owned(),
        port,
        provider,
    })
}

fn resolve_reverse(
    r: RawReverseSsh,
    path: String,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<ReverseSshRoute, ConfigError> {
    let (host, port) = split_host_port(&r.relay).ok_or_else(|| {
        ConfigError::key(
            format!("{path}.relay"),
            format!(
                "\"{}\" is not HOST:PORT, e.g. \"relay.example.com:2222\"",
                r.relay
            ),
        )
    })?;
    if !is_simple_name(&r.tunnel) {
        return Err(ConfigError::key(
            format!("{path}.tunnel"),
            "the tunnel name as in the relay's relay.toml (letters, digits, '-', '_', '.')",
        ));
    }
    if r.private_key.is_none() {
        return Err(ConfigError::key(
            format!("{path}.private_key"),
            "the relay accepts keys only; set private_key = { file = \"keys/airlock\" } \
             (make one with `airlock keygen --out keys/airlock`, and list its public line under [[workers]] in relay.toml)",
        ));
    }
    let hop = RawHop {
        host,
        port: Some(port),
        user: r.user,
        private_key: r.private_key,
        passphrase: r.passphrase,
        password: None,
        host_key: r.host_key,
        known_hosts: r.known_hosts,
        insecure_accept_any_host_key: r.insecure_accept_any_host_key,
        keepalive_interval_secs: r.keepalive_interval_secs,
        keepalive_count: r.keepalive_count,
    };
    let hop = resolve_hop(hop, path, base, redactor)?;
    Ok(ReverseSshRoute {
        relay: SshRoute { hops: vec![hop] },
        tunnel: r.tunnel,
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

/// `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, tail) = rest.split_once(']')?;
            (h, tail.strip_prefix(':')?)
        }
        None => {
            let (h, p) = s.rsplit_once(':')?;
            if h.contains(':') {
                return None;
            }
            (h, p)
        }
    };
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port != 0).then(|| (host.to_owned(), port))
}

/// `SHA256:` followed by 43 unpadded base64 characters, as `ssh-keygen -l`
/// prints; `key` is where the pin is written.
fn check_fingerprint(p: &str, key: &str) -> Result<(), ConfigError> {
    let Some(b64) = p.strip_prefix("SHA256:") else {
        return Err(ConfigError::key(
            key,
            format!(
                "\"{p}\" is not a SHA256 fingerprint; expected \"SHA256:...\" as `airlock fingerprint HOST` or `ssh-keygen -lf` print it"
            ),
        ));
    };
    let ok = b64.len() == 43
        && b64
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::key(
            key,
            format!("\"{p}\" is not a SHA256 fingerprint (43 base64 characters after \"SHA256:\")"),
        ))
    }
}

/// A transport credential: must be a `{ env }` or `{ file }` reference, so it is
/// not written in the connection file itself.
fn secret(
    v: &toml::Value,
    path: &str,
    base: &Path,
    redactor: &mut Redactor,
) -> Result<Secret, ConfigError> {
    let r = match v {
        toml::Value::Table(t) => secret_ref(t),
        _ => None,
    }
    .ok_or_else(|| {
        ConfigError::key(
            path,
            "give it as { file = \"...\" } or { env = \"VAR\" }, not inline",
        )
    })?;
    let value = r.resolve(path, base)?;
    // Each line on its own too: a log line may quote one line of a key file.
    for line in value.lines() {
        redactor.add(line.trim());
    }
    redactor.add(&value);
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JobConfig;

    const PIN: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

    /// The message, as the user sees it: the assertions compare words.
    fn parse(body: &str) -> Result<JobConfig, String> {
        let dir = std::env::temp_dir();
        JobConfig::parse(&format!("connector = \"c.wasm\"\n{body}"), &dir, "t")
            .map_err(|e| e.to_string())
    }

    fn err(body: &str) -> String {
        parse(body).expect_err("must be refused")
    }

    #[test]
    fn direct_endpoint_gets_defaults() {
        let c =
            parse("[endpoints.api]\nhost = \"api.example.com\"\nport = 443\ntls = \"require\"\n")
                .unwrap();
        let e = &c.endpoints[0];
        assert_eq!(
            (e.name.as_str(), e.host.as_str(), e.port),
            ("api", "api.example.com", 443)
        );
        assert!(matches!(e.route, Route::Direct));
        assert_eq!(e.tls.mode, TlsMode::Require);
        assert!(e.tls.immediate);
        assert_eq!(
            e.connect_timeout,
            Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS)
        );
    }

    #[test]
    fn ssh_route_with_jump_hosts_in_dial_order_and_secrets_redacted() {
        // SAFETY: this test alone uses these variables.
        unsafe {
            std::env::set_var(
                "AIRLOCK_TEST_KEY_1",
                "-----BEGIN KEY-----\nsecretline\n-----END KEY-----\n",
            );
            std::env::set_var("AIRLOCK_TEST_PW_1", "hunter2-bastion");
        }
        let c = parse(&format!(
            r#"
[endpoints.db]
host = "db.internal"
port = 5432
tls = "require"
tls_handshake = "in-band"

[endpoints.db.via.ssh]
host = "bastion.example.com"
user = "airlock"
private_key = {{ env = "AIRLOCK_TEST_KEY_1" }}
host_key = "{PIN}"
keepalive_interval_secs = 5

[[endpoints.db.via.ssh.jump]]
host = "outer.example.com"
port = 2222
user = "jump"
password = {{ env = "AIRLOCK_TEST_PW_1" }}
known_hosts = "kh"
"#
        ))
        .unwrap();
        let e = &c.endpoints[0];
        assert!(!e.tls.immediate);
        let Route::Ssh { route: r, target } = &e.route else {
            panic!("ssh route")
        };
        assert_eq!(target, &None);
        assert_eq!(r.hops.len(), 2);
        assert_eq!(
            (r.hops[0].host.as_str(), r.hops[0].port),
            ("outer.example.com", 2222)
        );
        assert_eq!(r.hops[0].key_path, "endpoints.db.via.ssh.jump[0]");
        assert!(matches!(r.hops[0].auth, SshAuth::Password(_)));
        assert!(matches!(r.hops[0].host_key, HostKeyCheck::KnownHosts(_)));
        assert_eq!(
            (r.hops[1].host.as_str(), r.hops[1].port),
            ("bastion.example.com", 22)
        );
        assert_eq!(r.hops[1].host_key, HostKeyCheck::Pinned(vec![PIN.into()]));
        assert_eq!(r.hops[1].keepalive_interval, Duration::from_secs(5));
        assert_eq!(r.hops[1].keepalive_count, DEFAULT_KEEPALIVE_COUNT);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("secretline") && !debug.contains("hunter2"),
            "{debug}"
        );
        let masked = c
            .redactor
            .redact("key line secretline, password hunter2-bastion");
        assert_eq!(masked, "key line ***, password ***");
    }

    #[test]
    fn mistakes_name_the_key_and_the_fix() {
        let base = "[endpoints.db]\nhost = \"db\"\nport = 5432\n";
        assert!(err("[endpoints.db]\nhost = \"db\"\nport = 0\n").contains("endpoints.db.port"));
        assert!(err(&format!("{base}tls = \"prefer\"\n")).contains("tls_handshake = \"in-band\""));
        assert!(
            err(&format!("{base}tls_handshake = \"later\"\n"))
                .contains("endpoints.db.tls_handshake")
        );
        assert!(err(&format!("{base}ca_file = \"ca.pem\"\n")).contains("tls = \"disable\""));
        let ssh = format!("{base}[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\n");
        assert!(err(&ssh).contains("airlock keygen"));
        assert!(
            err(&format!("{ssh}password = \"inline\"\n"))
                .contains("endpoints.db.via.ssh.password: give it as { file")
        );
        let with_key = format!("{ssh}password = {{ file = \"/dev/null\" }}\n");
        assert!(
            err(&format!("{with_key}host_key = \"MD5:aa\"\n")).contains("not a SHA256 fingerprint")
        );
        assert!(
            err(&format!(
                "{with_key}host_key = \"{PIN}\"\ninsecure_accept_any_host_key = true\n"
            ))
            .contains("choose one of host_key")
        );
        assert!(err(&format!("{with_key}hots_key = \"x\"\n")).contains("hots_key"));
        assert!(err(&format!("{base}[endpoints.db.via.wormhole]\n")).contains("wormhole"));
        assert!(err("[endpoints.\"a b\"]\nhost = \"x\"\nport = 1\n").contains("letters, digits"));
    }

    const PE_BASE: &str = "[endpoints.db]\nhost = \"db.shop.example\"\nport = 5432\n[endpoints.db.via.private_endpoint]\n";

    #[test]
    fn private_endpoint_route_defaults_its_port_to_the_endpoints() {
        let c = parse(&format!(
            "{PE_BASE}address = \"vpce-0abc.vpce-svc-123.us-east-1.vpce.amazonaws.com\"\nprovider = \"aws\"\n"
        ))
        .unwrap();
        let e = &c.endpoints[0];
        assert_eq!(
            e.host, "db.shop.example",
            "TLS still verifies the real name"
        );
        let Route::PrivateEndpoint(pe) = &e.route else {
            panic!("private endpoint route: {:?}", e.route)
        };
        assert_eq!(
            pe,
            &PrivateEndpoint {
                address: "vpce-0abc.vpce-svc-123.us-east-1.vpce.amazonaws.com".into(),
                port: 5432,
                provider: Provider::Aws,
            }
        );

        for (provider, address, expect) in [
            ("azure", "10.1.2.3", Provider::Azure),
            ("gcp", "fd20::7", Provider::Gcp),
        ] {
            let c = parse(&format!(
                "{PE_BASE}address = \"{address}\"\nport = 6432\nprovider = \"{provider}\"\n"
            ))
            .unwrap();
            let Route::PrivateEndpoint(pe) = &c.endpoints[0].route else {
                panic!()
            };
            assert_eq!(
                (pe.address.as_str(), pe.port, pe.provider),
                (address, 6432, expect)
            );
            assert_eq!(pe.provider.to_string(), provider);
        }
    }

    #[test]
    fn private_endpoint_mistakes_name_the_key_and_the_fix() {
        let pe = |rest: &str| err(&format!("{PE_BASE}{rest}"));
        let e = pe("address = \"10.0.0.1\"\nprovider = \"oracle\"\n");
        assert!(
            e.contains("endpoints.db.via.private_endpoint.provider")
                && e.contains("\"oracle\"")
                && e.contains("\"aws\"")
                && e.contains("\"azure\"")
                && e.contains("\"gcp\""),
            "{e}"
        );
        let e = pe("address = \"  \"\nprovider = \"aws\"\n");
        assert!(
            e.contains("endpoints.db.via.private_endpoint.address: must not be empty"),
            "{e}"
        );
        let e = pe("address = \"https://vpce-1.example\"\nprovider = \"aws\"\n");
        assert!(e.contains("looks like a URL"), "{e}");
        let e = pe("address = \"10.0.0.1:5432\"\nprovider = \"aws\"\n");
        assert!(e.contains("put the port in `port`"), "{e}");
        let e = pe("address = \"10.0.0.1\"\nport = 0\nprovider = \"aws\"\n");
        assert!(e.contains("endpoints.db.via.private_endpoint.port"), "{e}");
        let e = pe("address = \"10.0.0.1\"\n");
        assert!(e.contains("provider"), "{e}");
        let e = pe("provider = \"aws\"\n");
        assert!(e.contains("address"), "{e}");
        let e = pe("address = \"10.0.0.1\"\nprovider = \"aws\"\nzone = \"a\"\n");
        assert!(e.contains("zone"), "{e}");
        let e = err(&format!(
            "{PE_BASE}address = \"10.0.0.1\"\nprovider = \"aws\"\n[endpoints.db.via.direct]\n"
        ));
        assert!(e.contains("exactly one route"), "{e}");
    }

    #[test]
    fn reverse_ssh_is_a_one_hop_route_to_the_relay_asking_for_the_tunnel() {
        let base =
            "[endpoints.db]\nhost = \"db.internal\"\nport = 5432\n[endpoints.db.via.reverse_ssh]\n";
        let c = parse(&format!(
            "{base}relay = \"relay.example.com:2222\"\ntunnel = \"shop-db\"\nuser = \"airlock\"\n\
             private_key = {{ file = \"/dev/null\" }}\nhost_key = \"{PIN}\"\n"
        ))
        .unwrap();
        let Route::ReverseSsh(r) = &c.endpoints[0].route else {
            panic!("reverse_ssh route")
        };
        assert_eq!(r.tunnel, "shop-db");
        assert_eq!(r.relay.hops.len(), 1);
        let hop = &r.relay.hops[0];
        assert_eq!((hop.host.as_str(), hop.port), ("relay.example.com", 2222));
        assert_eq!(hop.key_path, "endpoints.db.via.reverse_ssh");
        assert_eq!(hop.host_key, HostKeyCheck::Pinned(vec![PIN.into()]));

        let e = err(&format!(
            "{base}relay = \"relay\"\ntunnel = \"t\"\nuser = \"u\"\nprivate_key = {{ file = \"/dev/null\" }}\n"
        ));
        assert!(e.contains("endpoints.db.via.reverse_ssh.relay"), "{e}");
        let e = err(&format!(
            "{base}relay = \"r:1\"\ntunnel = \"t\"\nuser = \"u\"\n"
        ));
        assert!(
            e.contains("endpoints.db.via.reverse_ssh.private_key"),
            "{e}"
        );
        let e = err(&format!(
            "{base}relay = \"r:1\"\ntunnel = \"a b\"\nuser = \"u\"\nprivate_key = {{ file = \"/dev/null\" }}\n"
        ));
        assert!(e.contains("endpoints.db.via.reverse_ssh.tunnel"), "{e}");
        assert!(
            err(&format!(
                "{base}relay = \"r:1\"\ntunnel = \"t\"\nuser = \"u\"\nhost = \"x\"\n"
            ))
            .contains("host")
        );
    }

    #[test]
    fn ssh_target_replaces_where_the_bastion_connects_and_is_checked() {
        let c = parse(
            "[endpoints.db]\nhost = \"db.shop.example\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\ntarget = \"localhost:15432\"\npassword = { file = \"/dev/null\" }\n",
        )
        .unwrap();
        let Route::Ssh { target, .. } = &c.endpoints[0].route else {
            panic!()
        };
        assert_eq!(target, &Some(("localhost".to_owned(), 15432)));
        let e = parse(
            "[endpoints.db]\nhost = \"db\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\ntarget = \"localhost\"\npassword = { file = \"/dev/null\" }\n",
        )
        .unwrap_err();
        assert!(
            e.contains("endpoints.db.via.ssh.target") && e.contains("host:port"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_pin_parses_so_check_can_show_the_fingerprint() {
        let c = parse(
            "[endpoints.db]\nhost = \"db\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\npassword = { file = \"/dev/null\" }\n",
        )
        .unwrap();
        let Route::Ssh { route: r, .. } = &c.endpoints[0].route else {
            panic!()
        };
        assert_eq!(r.hops[0].host_key, HostKeyCheck::Missing);
    }
}
