//! Establishing an SSH route: the first hop over the caller's TCP connection,
//! each further hop over a `direct-tcpip` channel of the previous one
//! (ProxyJump-style), host key checks and authentication on every hop, and
//! opening channels to targets.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{Handle, Msg};
use russh::{Channel, ChannelOpenFailure, MethodKind};
use tokio::io::{AsyncRead, AsyncWrite};

use super::handler::{HopError, HopHandler};
use super::host_key::Verified;
use super::pool::FirstHopDialer;
use crate::config::{SshAuth, SshHop, SshRoute};
use crate::conn::{NetError, SshRefusal};
use crate::ssh::keys;
use crate::ssh::stream::{Peer, SessionFlow, SshStream, StallPolicy};
use crate::ssh::tuning;

/// What `airlock check` shows about an SSH route.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// The hops in dialing order (jump hosts first, the bastion last).
    pub hops: Vec<HopInfo>,
    /// The address the first hop's TCP connection went to.
    pub first_hop_peer: Option<SocketAddr>,
}

/// One hop of an established route.
#[derive(Debug, Clone)]
pub struct HopInfo {
    /// `user@host:port`.
    pub target: String,
    /// The hop's config key path (`endpoints.db.via.ssh`).
    pub key_path: String,
    /// Host key algorithm (`ssh-ed25519`, ...).
    pub host_key_type: String,
    /// Host key fingerprint, `SHA256:...`.
    pub host_key_fingerprint: String,
    /// How the host key was accepted.
    pub verified: Verified,
    /// The authentication that succeeded, e.g. `publickey (ssh-ed25519 SHA256:...)`.
    pub auth: String,
    /// Negotiated key exchange.
    pub kex: String,
    /// Negotiated cipher.
    pub cipher: String,
    /// Strict key exchange (Terrapin countermeasure) in effect.
    pub strict_kex: bool,
}

impl fmt::Display for RouteInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.hops.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "ssh {} ({}): host key {} {} [{}]; auth {}; {} / {}{}",
                h.target,
                h.key_path,
                h.host_key_type,
                h.host_key_fingerprint,
                h.verified,
                h.auth,
                h.kex,
                h.cipher,
                if h.strict_kex { ", strict kex" } else { "" }
            )?;
            if i == 0
                && let Some(peer) = self.first_hop_peer
            {
                write!(f, "; connected to {peer}")?;
            }
        }
        Ok(())
    }
}

/// `user@host:port (key path)`, how errors name a hop.
pub(crate) fn hop_label(hop: &SshHop) -> String {
    format!("{}@{}:{} ({})", hop.user, hop.host, hop.port, hop.key_path)
}

/// A live route: one russh session per hop, the last one carrying targets.
pub(crate) struct Established {
    handles: Vec<Handle<HopHandler>>,
    flows: Vec<Arc<SessionFlow>>,
    pub(crate) info: RouteInfo,
    last_label: String,
}

/// Why opening a channel failed.
pub(crate) enum OpenError {
    /// The session is gone; a new one may work.
    SessionGone,
    /// The server refused or the target is unreachable.
    Failed(NetError),
}

impl Established {
    /// Whether every hop's session is still running.
    pub(crate) fn is_alive(&self) -> bool {
        self.handles.iter().all(|h| !h.is_closed())
    }

    /// Opens a `direct-tcpip` channel from the last hop to `host:port`.
    pub(crate) async fn open(
        &self,
        host: &str,
        port: u16,
        stall: Duration,
    ) -> Result<SshStream, OpenError> {
        let (Some(last), Some(flow)) = (self.handles.last(), self.flows.last()) else {
            return Err(OpenError::SessionGone);
        };
        let label = format!("{host}:{port} via {}", self.last_label);
        match open_channel(last, host, port).await {
            Ok(ch) => Ok(SshStream::new(
                ch,
                flow.clone(),
                StallPolicy::close_after(stall),
                label,
                Peer::Bastion,
            )),
            Err(ChannelError::Gone) => Err(OpenError::SessionGone),
            Err(ChannelError::Refused(reason)) => Err(OpenError::Failed(refusal(
                &self.last_label,
                host,
                port,
                reason,
            ))),
        }
    }
}

enum ChannelError {
    Gone,
    Refused(ChannelOpenFailure),
}

async fn open_channel(
    handle: &Handle<HopHandler>,
    host: &str,
    port: u16,
) -> Result<Channel<Msg>, ChannelError> {
    // The originator is informational (sshd logs it); the connector's real
    // address is nobody's business on the bastion.
    match handle
        .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
        .await
    {
        Ok(ch) => Ok(ch),
        Err(russh::Error::ChannelOpenFailure(reason)) => Err(ChannelError::Refused(reason)),
        Err(_) => Err(ChannelError::Gone),
    }
}

/// The error for a `direct-tcpip` open the bastion refused.
fn refusal(bastion: &str, host: &str, port: u16, reason: ChannelOpenFailure) -> NetError {
    match reason {
        ChannelOpenFailure::ConnectFailed => NetError::unreachable(format!(
            "the SSH server {bastion} could not connect to {host}:{port} (connect failed: refused, \
             unreachable or unknown name in the bastion's network); check that {host}:{port} is right \
             and reachable from the bastion"
        ))
        .refused_by(SshRefusal::ChannelConnectFailed),
        ChannelOpenFailure::AdministrativelyProhibited => NetError::denied(format!(
            "the SSH server {bastion} refused to open a connection to {host}:{port} (administratively \
             prohibited): its sshd must allow TCP forwarding for this user: `AllowTcpForwarding yes` \
             (or `local`), and if `PermitOpen` is set it must list {host}:{port}"
        ))
        .refused_by(SshRefusal::ChannelProhibited),
        ChannelOpenFailure::ResourceShortage => NetError::unreachable(format!(
            "the SSH server {bastion} refused to open a connection to {host}:{port} (resource \
             shortage: it has too many connections open on this SSH session); close some, or run \
             fewer jobs at once through this bastion per worker process"
        ))
        .refused_by(SshRefusal::ChannelResourceShortage),
        other => NetError::unreachable(format!(
            "the SSH server {bastion} refused to open a connection to {host}:{port} ({other:?}); \
             its sshd must allow TCP forwarding (AllowTcpForwarding / PermitOpen)"
        )),
    }
}

/// Progress of an establishment, so a timeout can say which hop it was on.
pub(crate) type Stage = Arc<Mutex<String>>;

fn set_stage(stage: &Stage, s: String) {
    *stage.lock().unwrap_or_else(|e| e.into_inner()) = s;
}

/// Connects every hop of `route`. The first hop's TCP connection comes from
/// `first_hop` (the caller's resolver and egress policy).
pub(crate) async fn establish(
    route: &SshRoute,
    first_hop: &FirstHopDialer,
    stage: &Stage,
) -> Result<Established, NetError> {
    let Some(first) = route.hops.first() else {
        return Err(NetError::denied("an SSH route needs at least one hop"));
    };
    set_stage(
        stage,
        format!("connecting to the SSH server {}", hop_label(first)),
    );
    let tcp = first_hop(first.host.clone(), first.port)
        .await
        .map_err(|e| e.context(format!("SSH server {}", hop_label(first))))?;
    // The tunnel carries request/response protocols: send small packets now.
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().ok();
    let mut est = Established {
        handles: Vec::with_capacity(route.hops.len()),
        flows: Vec::with_capacity(route.hops.len()),
        info: RouteInfo {
            hops: Vec::with_capacity(route.hops.len()),
            first_hop_peer: peer,
        },
        last_label: hop_label(first),
    };
    let (handle, info) = handshake(first, tcp, stage).await?;
    est.push(handle, info, first);
    for hop in &route.hops[1..] {
        set_stage(
            stage,
            format!(
                "opening a channel to the next SSH server {} through {}",
                hop_label(hop),
                est.last_label
            ),
        );
        let (Some(prev), Some(flow)) = (est.handles.last(), est.flows.last()) else {
            break;
        };
        let ch = match open_channel(prev, &hop.host, hop.port).await {
            Ok(ch) => ch,
            Err(ChannelError::Refused(reason)) => {
                return Err(refusal(&est.last_label, &hop.host, hop.port, reason));
            }
            Err(ChannelError::Gone) => {
                return Err(NetError::unreachable(format!(
                    "the SSH session to {} closed while opening a channel to {}",
                    est.last_label,
                    hop_label(hop)
                )));
            }
        };
        // The next session reads this channel as its transport; its own
        // channels handle stalls, so this one only ever waits.
        let stream = SshStream::new(
            ch,
            flow.clone(),
            StallPolicy::WAIT,
            hop_label(hop),
            Peer::Bastion,
        );
        let (handle, info) = handshake(hop, stream, stage).await?;
        est.push(handle, info, hop);
    }
    Ok(est)
}

impl Established {
    fn push(&mut self, handle: Handle<HopHandler>, info: HopInfo, hop: &SshHop) {
        self.handles.push(handle);
        self.flows.push(Arc::new(SessionFlow::default()));
        self.info.hops.push(info);
        self.last_label = hop_label(hop);
    }
}

/// Key exchange, host key check and authentication with one hop over `stream`.
pub(crate) async fn handshake<S>(
    hop: &SshHop,
    stream: S,
    stage: &Stage,
) -> Result<(Handle<HopHandler>, HopInfo), NetError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let label = hop_label(hop);
    set_stage(stage, format!("SSH handshake with {label}"));
    let handler = HopHandler::new(hop);
    let negotiated = handler.negotiated.clone();
    let mut handle = russh::client::connect_stream(tuning::client_config(hop), stream, handler)
        .await
        .map_err(|e| handshake_error(&label, e))?;
    let n = negotiated.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some((key, verified)) = n.host_key else {
        return Err(NetError::unreachable(format!(
            "SSH handshake with {label} ended without a host key"
        )));
    };
    if !n.strict_kex {
        tracing::debug!(
            "{label}: the server does not offer strict key exchange (kex-strict-s-v00@openssh.com)"
        );
    }
    set_stage(stage, format!("authenticating as {} to {label}", hop.user));
    let auth = authenticate(&mut handle, hop, &label).await?;
    let info = HopInfo {
        target: format!("{}@{}:{}", hop.user, hop.host, hop.port),
        key_path: hop.key_path.clone(),
        host_key_type: keys::key_type(&key),
        host_key_fingerprint: keys::fingerprint(&key),
        verified,
        auth,
        kex: n.kex,
        cipher: n.cipher,
        strict_kex: n.strict_kex,
    };
    Ok((handle, info))
}

fn handshake_error(label: &str, e: HopError) -> NetError {
    match e {
        HopError::Refused(e) => e,
        HopError::Ssh(russh::Error::NoCommonAlgo { kind, theirs, .. }) => {
            NetError::denied(format!(
                "SSH server {label} offers no {kind:?} algorithm airlock accepts (it offers {}); airlock \
             uses only modern algorithms (curve25519/ECDH/DH group 16+ key exchange, AES-GCM/ChaCha20, \
             ed25519/ECDSA/RSA-SHA2 host keys); upgrade the server's OpenSSH",
                theirs.join(",")
            ))
        }
        HopError::Ssh(e) => {
            NetError::unreachable(format!("SSH handshake with {label} failed: {e}"))
        }
    }
}

async fn authenticate(
    handle: &mut Handle<HopHandler>,
    hop: &SshHop,
    label: &str,
) -> Result<String, NetError> {
    let auth_error =
        |e: russh::Error| NetError::unreachable(format!("authenticating to {label}: {e}"));
    let (method, described, result) = match &hop.auth {
        SshAuth::Key { key, passphrase } => {
            let key = keys::load_client_key(key, passphrase.as_ref(), &hop.key_path)?;
            let fp = keys::fingerprint(key.public_key());
            let rsa = if matches!(key.algorithm(), russh::keys::Algorithm::Rsa { .. }) {
                handle.best_supported_rsa_hash().await.map_err(auth_error)?
            } else {
                None
            };
            let key = keys::with_signature_hash(key, rsa, label)?;
            let described = format!("publickey ({} key {fp})", keys::signature_algorithm(&key));
            let r = handle
                .authenticate_publickey(hop.user.clone(), key)
                .await
                .map_err(auth_error)?;
            (MethodKind::PublicKey, described, r)
        }
        SshAuth::Password(password) => {
            let r = handle
                .authenticate_password(hop.user.clone(), password.expose())
                .await
                .map_err(auth_error)?;
            (MethodKind::Password, "password".to_owned(), r)
        }
    };
    match result {
        russh::client::AuthResult::Success => Ok(described),
        russh::client::AuthResult::Failure {
            remaining_methods,
            partial_success,
        } => {
            let accepted: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
            let accepted = if accepted.is_empty() {
                "none".to_owned()
            } else {
                accepted.join(", ")
            };
            let hint = if partial_success {
                "the server requires more than one authentication method, which airlock does not do"
                    .to_owned()
            } else if !remaining_methods.contains(&method) {
                format!(
                    "the server does not accept {} authentication for {}",
                    <&str>::from(&method),
                    hop.user
                )
            } else if method == MethodKind::PublicKey {
                format!(
                    "add the public key to ~{}/.ssh/authorized_keys on {} (`airlock keygen` prints the line)",
                    hop.user, hop.host
                )
            } else {
                format!("check {}.password", hop.key_path)
            };
            let e = NetError::denied(format!(
                "SSH server {}:{} ({}) rejected {described} authentication as user \"{}\"; \
                 the server accepts: {accepted}; {hint}",
                hop.host, hop.port, hop.key_path, hop.user
            ));
            Err(match method {
                MethodKind::PublicKey if !partial_success => e.refused_by(SshRefusal::KeyRejected),
                _ => e,
            })
        }
    }
}
