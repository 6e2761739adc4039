//! [`SshPool`]: one SSH session per hop chain for the whole process, shared by
//! every connection of every job; dead sessions are replaced on the next open,
//! with bounded backoff between failed attempts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::session::{self, Established, OpenError, RouteInfo, Stage, hop_label};
use crate::config::{SshAuth, SshRoute};
use crate::conn::{Deadline, NetError};
use crate::ssh::stream::SshStream;
use crate::ssh::tuning::DEFAULT_STALL_TIMEOUT;

/// Dials the first hop's TCP connection: the caller resolves the name and applies
/// the operator's egress policy. The pool never opens a socket itself.
pub type FirstHopDialer = dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = Result<tokio::net::TcpStream, NetError>> + Send>>
    + Send
    + Sync;

/// First wait after a failed attempt to establish a session.
const BACKOFF_START: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The process-wide SSH session pool. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct SshPool {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    stall_timeout: Duration,
}

#[derive(Default)]
struct Slot {
    session: Option<Arc<Established>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<NetError>,
}

impl Default for SshPool {
    fn default() -> Self {
        SshPool::new()
    }
}

impl std::fmt::Debug for SshPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshPool").finish_non_exhaustive()
    }
}

impl SshPool {
    /// An empty pool with the default stall timeout.
    pub fn new() -> SshPool {
        SshPool::with_stall_timeout(DEFAULT_STALL_TIMEOUT)
    }

    /// An empty pool whose connections may hold up their session for at most
    /// `stall_timeout` when their reader stops (see [`DEFAULT_STALL_TIMEOUT`]).
    pub fn with_stall_timeout(stall_timeout: Duration) -> SshPool {
        SshPool {
            inner: Arc::new(Inner {
                slots: Mutex::new(HashMap::new()),
                stall_timeout,
            }),
        }
    }

    /// Opens a connection to `host:port` through `route`: a `direct-tcpip`
    /// channel on the route's shared session, establishing the session (every
    /// hop: key exchange, host key check, authentication) if there is none or
    /// it died. The whole call, including any wait between retries, ends by
    /// `deadline`. `host` is resolved by the last hop.
    pub async fn open_direct_tcpip(
        &self,
        route: &SshRoute,
        host: &str,
        port: u16,
        deadline: Deadline,
        first_hop: &FirstHopDialer,
    ) -> Result<(SshStream, RouteInfo), NetError> {
        let stage: Stage = Arc::new(Mutex::new(format!("opening {host}:{port}")));
        let open = self.open_inner(route, host, port, first_hop, deadline.at(), &stage);
        let doing = || {
            let stage = stage.lock().unwrap_or_else(|e| e.into_inner()).clone();
            format!("connecting to {host}:{port} through SSH ({stage})")
        };
        deadline.run(doing, open).await
    }

    async fn open_inner(
        &self,
        route: &SshRoute,
        host: &str,
        port: u16,
        first_hop: &FirstHopDialer,
        deadline: Instant,
        stage: &Stage,
    ) -> Result<(SshStream, RouteInfo), NetError> {
        let slot = self.slot(route);
        // A session that died since its last use may still look alive for a
        // moment; one fresh session is tried before giving up.
        for attempt in 0..2 {
            let est = session_for(&slot, route, first_hop, deadline, stage).await?;
            let last = route.hops.last().map(hop_label).unwrap_or_default();
            *stage.lock().unwrap_or_else(|e| e.into_inner()) =
                format!("opening a channel to {host}:{port} through {last}");
            match est.open(host, port, self.inner.stall_timeout).await {
                Ok(stream) => return Ok((stream, est.info.clone())),
                Err(OpenError::Failed(e)) => return Err(e),
                Err(OpenError::SessionGone) => {
                    let mut s = slot.lock().await;
                    if s.session.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &est)) {
                        s.session = None;
                    }
                    if attempt == 1 {
                        return Err(NetError::unreachable(format!(
                            "the SSH session to {last} closed while opening a channel to {host}:{port}"
                        )));
                    }
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn slot(&self, route: &SshRoute) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(chain_key(route)).or_default().clone()
    }
}

/// The live session of `slot`, establishing one if needed. Concurrent callers
/// wait on the slot's lock, so a burst of opens makes one session.
async fn session_for(
    slot: &tokio::sync::Mutex<Slot>,
    route: &SshRoute,
    first_hop: &FirstHopDialer,
    deadline: Instant,
    stage: &Stage,
) -> Result<Arc<Established>, NetError> {
    let mut s = slot.lock().await;
    if let Some(est) = &s.session {
        if est.is_alive() {
            return Ok(est.clone());
        }
        tracing::info!(
            "SSH session to {} has closed; reconnecting",
            route.hops.last().map(hop_label).unwrap_or_default()
        );
        s.session = None;
    }
    if let Some(at) = s.retry_at
        && at > Instant::now()
    {
        if at >= deadline {
            // The connect timeout wins: fail now with what went wrong last time.
            let last = s
                .last_error
                .clone()
                .unwrap_or_else(|| NetError::unreachable("the previous attempt failed"));
            return Err(last.context(format!(
                "not retrying for another {:.1} s (backoff after {} failed attempt(s))",
                (at - Instant::now()).as_secs_f32(),
                s.failures
            )));
        }
        tokio::time::sleep_until(at).await;
    }
    match session::establish(route, first_hop, stage).await {
        Ok(est) => {
            let est = Arc::new(est);
            s.session = Some(est.clone());
            s.failures = 0;
            s.retry_at = None;
            s.last_error = None;
            Ok(est)
        }
        Err(e) => {
            s.failures += 1;
            let backoff = BACKOFF_START
                .saturating_mul(1 << (s.failures - 1).min(16))
                .min(BACKOFF_MAX);
            s.retry_at = Some(Instant::now() + backoff);
            s.last_error = Some(e.clone());
            Err(e)
        }
    }
}

/// Identifies a hop chain: every hop's address, user, credential (as a hash, so
/// the key never sits in a map key), host key policy and keepalive settings.
/// Two configs share a session only when all of these agree; in particular a
/// session verified under one config's host key pins is never reused for a
/// config with other pins.
fn chain_key(route: &SshRoute) -> String {
    let mut key = String::new();
    for hop in &route.hops {
        let mut h = Sha256::new();
        match &hop.auth {
            SshAuth::Key { key, passphrase } => {
                h.update(b"key\0");
                h.update(key.expose().as_bytes());
                h.update(b"\0");
                h.update(
                    passphrase
                        .as_ref()
                        .map(|p| p.expose())
                        .unwrap_or("")
                        .as_bytes(),
                );
            }
            SshAuth::Password(p) => {
                h.update(b"password\0");
                h.update(p.expose().as_bytes());
            }
        }
        let identity: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = write!(
            key,
            "{}@{}:{}#{identity}#{:?}#{:?}x{}|",
            hop.user, hop.host, hop.port, hop.host_key, hop.keepalive_interval, hop.keepalive_count
        );
    }
    key
}
