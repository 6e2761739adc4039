//! The relay's russh server handler: who a connection is (a customer key or a
//! worker key), what each may do, and splicing a worker's `direct-tcpip`
//! channel onto a `forwarded-tcpip` channel of the customer's session.
//!
//! Customers may only `tcpip-forward` their own tunnel's port; everything else
//! (shells, exec, subsystems, ptys, agent and X11 forwarding, `direct-tcpip`)
//! is refused. Workers may only open `direct-tcpip` to the *name* of a tunnel
//! they are allowed (the port is ignored).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use russh::keys::ssh_key::public::KeyData;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelOpenFailure};

use super::config::{RelayConfig, key_id};
use super::counted::{Counted, OpenConnection};
use super::registry::{Forward, Registry};
use crate::ssh::stream::{Peer, SessionFlow, SshStream, StallPolicy};
use crate::ssh::tuning::MAX_CHANNELS_PER_CONNECTION;

/// How long the customer's side may take to accept a forwarded channel
/// (its `ssh` connects to the database meanwhile).
const FORWARD_OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a spliced connection whose far side stopped reading may hold up
/// the other connections of its SSH session while they wait (see
/// `ssh::stream`): a stuck database behind one tunnel must not stall a
/// worker's connections to others.
const STALL_TIMEOUT: Duration = crate::ssh::tuning::DEFAULT_STALL_TIMEOUT;
/// ...and in any case, as a parked session also holds up connections that
/// cannot open meanwhile. Long enough for a reader that pauses (a destination
/// committing), well inside a client's keepalive limit (3 × 15 s).
const STUCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Who may do what, built once from the config.
pub(crate) struct Rules {
    /// Customer key → (tunnel name, port).
    customers: HashMap<KeyData, (String, u16)>,
    /// Worker key → tunnel names it may reach.
    workers: HashMap<KeyData, BTreeSet<String>>,
}

impl Rules {
    pub(crate) fn new(config: &RelayConfig) -> Rules {
        let mut customers = HashMap::new();
        for t in &config.tunnels {
            for k in &t.customer_keys {
                customers.insert(key_id(k), (t.name.clone(), t.port));
            }
        }
        let workers = config
            .workers
            .iter()
            .map(|w| (key_id(&w.key), w.tunnels.clone()))
            .collect();
        Rules { customers, workers }
    }

    fn knows(&self, id: &KeyData) -> bool {
        self.customers.contains_key(id) || self.workers.contains_key(id)
    }
}

/// State shared by every connection of a relay.
pub(crate) struct Shared {
    pub rules: Rules,
    pub registry: Registry,
    next_session: AtomicU64,
}

impl Shared {
    pub(crate) fn new(rules: Rules) -> Shared {
        Shared {
            rules,
            registry: Registry::default(),
            next_session: AtomicU64::new(1),
        }
    }
}

/// The russh `Server`: one [`Connection`] per TCP connection.
#[derive(Clone)]
pub(crate) struct RelayServer {
    pub shared: Arc<Shared>,
}

impl russh::server::Server for RelayServer {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            shared: self.shared.clone(),
            id: self.shared.next_session.fetch_add(1, Ordering::Relaxed),
            peer: peer.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
            role: Role::Unauthenticated,
            channels: Arc::new(AtomicUsize::new(0)),
            flow: Arc::default(),
        }
    }
}

enum Role {
    Unauthenticated,
    /// A customer key: may forward exactly this tunnel's port.
    Customer {
        tunnel: String,
        port: u16,
    },
    /// A worker key: may reach these tunnels.
    Worker {
        tunnels: BTreeSet<String>,
    },
}

/// One SSH connection to the relay.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    id: u64,
    peer: String,
    role: Role,
    /// Spliced connections open on this SSH connection.
    channels: Arc<AtomicUsize>,
    /// Flow state shared by this SSH connection's spliced connections.
    flow: Arc<SessionFlow>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The session ended: its forwards are gone with it.
        for name in self.shared.registry.unregister_session(self.id) {
            tracing::info!(
                "tunnel \"{name}\" is down (customer {} disconnected)",
                self.peer
            );
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Unknown keys are refused before the client signs anything, so the
        // client moves on to its next key.
        if self.shared.rules.knows(&key_id(offer.public_key)) {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let id = key_id(key.public_key);
        let rules = &self.shared.rules;
        if let Some((tunnel, port)) = rules.customers.get(&id) {
            tracing::info!(
                "customer {} ({user}) authenticated for tunnel \"{tunnel}\"",
                self.peer
            );
            self.role = Role::Customer {
                tunnel: tunnel.clone(),
                port: *port,
            };
            return Ok(Auth::Accept);
        }
        if let Some(tunnels) = rules.workers.get(&id) {
            tracing::debug!("worker {} ({user}) authenticated", self.peer);
            self.role = Role::Worker {
                tunnels: tunnels.clone(),
            };
            return Ok(Auth::Accept);
        }
        tracing::info!("refused an unknown key from {} ({user})", self.peer);
        Ok(Auth::reject())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Role::Customer {
            tunnel,
            port: allowed,
        } = &self.role
        else {
            tracing::info!("refused tcpip-forward from worker {}", self.peer);
            return Ok(false);
        };
        if *port != u32::from(*allowed) {
            tracing::warn!(
                "customer {} of tunnel \"{tunnel}\" asked to forward port {port}; only {allowed} is theirs",
                self.peer
            );
            return Ok(false);
        }
        self.shared.registry.register(
            tunnel,
            Forward {
                handle: session.handle(),
                address: address.to_owned(),
                port: *port,
                session: self.id,
                since: SystemTime::now(),
                peer: self.peer.clone(),
                flow: self.flow.clone(),
            },
        );
        tracing::info!("tunnel \"{tunnel}\" is up (customer {})", self.peer);
        Ok(true)
    }

    async fn cancel_tcpip_forward(
        &mut self,
        _address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Role::Customer { tunnel, port: own } = &self.role else {
            return Ok(false);
        };
        if port != u32::from(*own) {
            return Ok(false);
        }
        let removed = self.shared.registry.unregister(tunnel, self.id);
        if removed {
            tracing::info!("tunnel \"{tunnel}\" is down (forward cancelled)");
        }
        Ok(removed)
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // No shells, exec or subsystems: `ssh -N` opens no session channel.
        reply
            .reject(ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host: &str,
        _port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Role::Worker { tunnels } = &self.role else {
            tracing::info!("refused direct-tcpip from customer {}", self.peer);
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        if !tunnels.contains(host) {
            tracing::info!(
                "worker {} may not reach tunnel \"{host}\" (not in its [[workers]] tunnels)",
                self.peer
            );
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        let Some(forward) = self.shared.registry.get(host) else {
            tracing::info!(
                "worker {} asked for tunnel \"{host}\", which is not up",
                self.peer
            );
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        };
        if self.channels.load(Ordering::SeqCst) >= MAX_CHANNELS_PER_CONNECTION {
            tracing::info!(
                "worker {} already has {MAX_CHANNELS_PER_CONNECTION} connections open on one SSH \
                 connection; refused another to tunnel \"{host}\"",
                self.peer
            );
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.channels.fetch_add(1, Ordering::SeqCst);
        let open = OpenChannels(self.channels.clone());
        let shared = self.shared.clone();
        let tunnel = host.to_owned();
        let worker = Worker {
            channel,
            flow: self.flow.clone(),
            peer: self.peer.clone(),
        };
        // The customer's answer may take a while (its ssh connects to the
        // database first); waiting here would hold up this worker's session.
        tokio::spawn(async move {
            let _open = open;
            splice(shared, tunnel, forward, worker, reply).await;
        });
        Ok(())
    }
}

/// Decrements the connection's channel count when a splice ends.
struct OpenChannels(Arc<AtomicUsize>);

impl Drop for OpenChannels {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A worker's `direct-tcpip` channel waiting to be spliced.
struct Worker {
    channel: Channel<Msg>,
    /// Flow state of the worker's SSH connection.
    flow: Arc<SessionFlow>,
    /// The worker's address, for logs.
    peer: String,
}

/// Opens the `forwarded-tcpip` channel on the customer's session, answers the
/// worker, and copies bytes both ways until both sides are done.
///
/// Both channels go through [`SshStream`]: russh parks a whole session while
/// one channel's small queue is full, so a side that stops reading (a stuck
/// database, a stalled worker) would otherwise stall every other connection
/// of the session it sends on, for as long as it stays stuck.
async fn splice(
    shared: Arc<Shared>,
    tunnel: String,
    forward: Forward,
    worker: Worker,
    reply: ChannelOpenHandle,
) {
    let open = forward.handle.channel_open_forwarded_tcpip(
        forward.address.clone(),
        forward.port,
        "127.0.0.1",
        0,
    );
    let customer = match tokio::time::timeout(FORWARD_OPEN_TIMEOUT, open).await {
        Ok(Ok(ch)) => ch,
        Ok(Err(e)) => {
            tracing::info!("tunnel \"{tunnel}\": the customer side refused the connection: {e}");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
        Err(_) => {
            tracing::info!("tunnel \"{tunnel}\": the customer side did not answer in time");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    let traffic = shared.registry.traffic(&tunnel);
    let _open = OpenConnection::new(traffic.clone());
    let stall = StallPolicy::close_when_stuck(STALL_TIMEOUT, STUCK_TIMEOUT);
    let worker = SshStream::new(
        worker.channel,
        worker.flow,
        stall,
        format!(
            "tunnel \"{tunnel}\": a connection from worker {}",
            worker.peer
        ),
        Peer::RelayClient,
    );
    let customer = SshStream::new(
        customer,
        forward.flow.clone(),
        stall,
        format!(
            "tunnel \"{tunnel}\": a connection to customer {}",
            forward.peer
        ),
        Peer::RelayClient,
    );
    // A side closed for stalling is torn down at once: the copy out of it may
    // be blocked writing to the other side and never read the error.
    let stalled = (worker.stalled(), customer.stalled());
    let mut a = Counted::new(worker, traffic.clone());
    let mut b = Counted::new(customer, traffic);
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut a, &mut b) => {
            if let Err(e) = copied {
                tracing::debug!("tunnel \"{tunnel}\": connection ended: {e}");
            }
        }
        () = stalled.0 => {}
        () = stalled.1 => {}
    }
}
