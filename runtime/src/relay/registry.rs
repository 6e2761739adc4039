//! The tunnels that are up: tunnel name → the customer's SSH session and the
//! address/port its `ssh -R` asked for. Forwards are never listening sockets;
//! a worker's connection becomes a `forwarded-tcpip` channel on that session.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use crate::ssh::stream::SessionFlow;

/// One forward a customer's session holds.
#[derive(Clone)]
pub(crate) struct Forward {
    /// The customer's session, to open `forwarded-tcpip` channels on.
    pub handle: russh::server::Handle,
    /// The address the customer's `tcpip-forward` named (echoed back so
    /// OpenSSH finds its forward).
    pub address: String,
    /// The port it named (the tunnel's port).
    pub port: u32,
    /// Which relay connection registered it.
    pub session: u64,
    /// When it came up.
    pub since: SystemTime,
    /// The customer's address, for the status file and logs.
    pub peer: String,
    /// Flow state of the customer's session, shared by its spliced connections.
    pub flow: Arc<SessionFlow>,
}

/// Traffic counters of one tunnel, updated while connections run.
#[derive(Default)]
pub(crate) struct Traffic {
    /// Bytes carried both ways, counted as they are read from either side.
    pub bytes: AtomicU64,
    /// Worker connections spliced since the relay started.
    pub connections: AtomicU64,
    /// Worker connections spliced right now.
    pub open: AtomicU64,
}

/// Registry shared by every connection of a relay.
#[derive(Default)]
pub(crate) struct Registry {
    up: Mutex<BTreeMap<String, Forward>>,
    traffic: Mutex<BTreeMap<String, Arc<Traffic>>>,
}

/// A tunnel as the status file shows it.
#[derive(Debug, Serialize)]
pub struct TunnelStatus {
    /// Tunnel name.
    pub name: String,
    /// Whether a customer session holds the forward now.
    pub up: bool,
    /// Since when (seconds since the Unix epoch), if up.
    pub since: Option<u64>,
    /// The customer's address, if up.
    pub customer: Option<String>,
    /// Bytes carried both ways since the relay started, including
    /// connections still open.
    pub bytes: u64,
    /// Worker connections carried since the relay started.
    pub connections: u64,
    /// Worker connections open now.
    pub open: u64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Forward>> {
        self.up.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `forward` for `tunnel`. A newer session replaces an older one:
    /// a customer that reconnects (autossh) must not wait for the dead
    /// session's keepalive to expire.
    pub fn register(&self, tunnel: &str, forward: Forward) {
        if let Some(old) = self.lock().insert(tunnel.to_owned(), forward) {
            tracing::info!(
                "tunnel \"{tunnel}\": a new customer session replaces the one from {}",
                old.peer
            );
        }
    }

    /// Removes `tunnel` if `session` holds it.
    pub fn unregister(&self, tunnel: &str, session: u64) -> bool {
        let mut up = self.lock();
        if up.get(tunnel).is_some_and(|f| f.session == session) {
            up.remove(tunnel);
            return true;
        }
        false
    }

    /// Removes every tunnel `session` holds; returns their names.
    pub fn unregister_session(&self, session: u64) -> Vec<String> {
        let mut up = self.lock();
        let gone: Vec<String> = up
            .iter()
            .filter(|(_, f)| f.session == session)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &gone {
            up.remove(n);
        }
        gone
    }

    /// The forward of `tunnel`, if up.
    pub fn get(&self, tunnel: &str) -> Option<Forward> {
        self.lock().get(tunnel).cloned()
    }

    /// The traffic counters of `tunnel` (created on first use).
    pub fn traffic(&self, tunnel: &str) -> Arc<Traffic> {
        self.traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tunnel.to_owned())
            .or_default()
            .clone()
    }

    /// Status of each of `names`.
    pub fn status<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<TunnelStatus> {
        let up = self.lock().clone();
        names
            .map(|n| {
                let f = up.get(n);
                let t = self.traffic(n);
                TunnelStatus {
                    name: n.to_owned(),
                    up: f.is_some(),
                    since: f.and_then(|f| {
                        f.since
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_secs())
                    }),
                    customer: f.map(|f| f.peer.clone()),
                    bytes: t.bytes.load(Ordering::Relaxed),
                    connections: t.connections.load(Ordering::Relaxed),
                    open: t.open.load(Ordering::Relaxed),
                }
            })
            .collect()
    }
}
