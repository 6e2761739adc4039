//! `via.ssh`: through an SSH bastion, and the jump hosts before it. Each hop
//! has a user, credentials (a key or a password, always a secret reference)
//! and a host-key check (pinned fingerprints, a known_hosts file, or, for
//! local development, none). `via.reverse_ssh` resolves its relay as a hop too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Route, RouteContext};
use crate::config::secret::credential;
use crate::config::{ConfigError, Secret, split_host_port};
use crate::redact::Redactor;

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

/// `[endpoints.NAME.via.ssh]`: the bastion's own hop settings, where it
/// connects, and the `[[...via.ssh.jump]]` hosts before it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSsh {
    /// `"host:port"` the bastion connects to instead of the endpoint's.
    target: Option<String>,
    #[serde(flatten)]
    hop: RawHop,
    #[serde(default)]
    jump: Vec<RawHop>,
}

/// One SSH server's settings, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHop {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) user: String,
    pub(super) private_key: Option<toml::Value>,
    pub(super) passphrase: Option<toml::Value>,
    pub(super) password: Option<toml::Value>,
    pub(super) host_key: Option<HostKeyPins>,
    pub(super) known_hosts: Option<PathBuf>,
    #[serde(default)]
    pub(super) insecure_accept_any_host_key: bool,
    pub(super) keepalive_interval_secs: Option<u64>,
    pub(super) keepalive_count: Option<u32>,
}

/// `host_key`: one fingerprint, or a list (a server with several keys, or
/// a key being rotated).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum HostKeyPins {
    One(String),
    Many(Vec<String>),
}

impl RawSsh {
    /// The hops in dial order (jump hosts, then the bastion) and the target.
    pub(super) fn resolve(self, cx: RouteContext<'_>) -> Result<Route, ConfigError> {
        let bastion_path = cx.key;
        let mut hops = Vec::with_capacity(self.jump.len() + 1);
        for (i, hop) in self.jump.into_iter().enumerate() {
            hops.push(resolve_hop(
                hop,
                format!("{bastion_path}.jump[{i}]"),
                cx.base,
                cx.redactor,
            )?);
        }
        let target = match &self.target {
            None => None,
            Some(t) => Some(split_host_port(t, None).ok_or_else(|| {
                ConfigError::key(
                    format!("{bastion_path}.target"),
                    format!(
                        "\"{t}\" is not host:port; write where the bastion connects, e.g. \"localhost:15432\" for a customer's `ssh -R 15432:db:5432` to that bastion"
                    ),
                )
            })?),
        };
        hops.push(resolve_hop(self.hop, bastion_path, cx.base, cx.redactor)?);
        Ok(Route::Ssh {
            route: SshRoute { hops },
            target,
        })
    }
}

/// Checks one hop at key path `path` and resolves its credentials.
pub(super) fn resolve_hop(
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
            key: credential(k, &format!("{path}.private_key"), base, redactor)?,
            passphrase: h
                .passphrase
                .as_ref()
                .map(|v| credential(v, &format!("{path}.passphrase"), base, redactor))
                .transpose()?,
        },
        (None, Some(p)) => {
            if h.passphrase.is_some() {
                return Err(ConfigError::key(
                    format!("{path}.passphrase"),
                    "only meaningful with private_key",
                ));
            }
            SshAuth::Password(credential(p, &format!("{path}.password"), base, redactor)?)
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
