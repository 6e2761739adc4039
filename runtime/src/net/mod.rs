//! The network capability: the per-job map from endpoint name to route, and the
//! one dial path every connection goes through:
//!
//! endpoint name → route from the connection config → (direct) resolve on this
//! host → egress policy on the resolved addresses → dial the checked address →
//! (tunnel) the same for the first SSH hop, then channels through the hops →
//! (private endpoint) resolve its address, every address inside the operator's
//! `private_endpoint_networks`, dial the checked address →
//! TLS with the endpoint's real host name if the endpoint asks for it.
//!
//! Nothing else in airlock opens sockets for a connector.

pub mod policy;
pub mod tls;
pub mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::conn::{BoxStream, Deadline, NetError, NetErrorKind, SshRefusal, Stream};
pub use policy::EgressPolicy;
pub use tls::{TlsClient, TlsInfo};
pub use transport::PathInfo;
pub use transport::ssh::{HopInfo, RouteInfo, SshPool, Verified, fetch_host_key};

use crate::config::{ConfigError, Endpoint, TlsMode};

/// How long after its deadline a connect attempt is cut off regardless, should
/// a step ever not bound itself.
const BACKSTOP: std::time::Duration = std::time::Duration::from_secs(1);

/// What every job of a process shares: the operator's egress policy and the
/// SSH session pool (one session per bastion, user and key, for all jobs).
#[derive(Clone, Default)]
pub struct Dialer {
    /// The operator's egress policy.
    pub policy: Arc<EgressPolicy>,
    /// SSH sessions shared by every connection of every job.
    pub ssh: SshPool,
}

impl Dialer {
    /// A dialer enforcing `policy`, with an empty SSH pool.
    pub fn new(policy: EgressPolicy) -> Dialer {
        Dialer {
            policy: Arc::new(policy),
            ssh: SshPool::new(),
        }
    }
}

/// One job's network: the endpoints its config declares, each with its TLS client.
pub struct Network {
    dialer: Dialer,
    endpoints: BTreeMap<String, Handle>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("endpoints", &self.endpoints.keys().collect::<Vec<_>>())
            .finish()
    }
}

struct Handle {
    endpoint: Endpoint,
    tls: Option<TlsClient>,
}

/// A connection as the transport and TLS left it.
pub struct Dialed {
    /// The bytes (already TLS if the endpoint does an immediate handshake).
    pub stream: BoxStream,
    /// The way the bytes travel.
    pub path: PathInfo,
    /// The TLS session, if one was negotiated.
    pub tls: Option<TlsInfo>,
}

impl Network {
    /// The network of a job with `endpoints`. Fails (with the key path) if a TLS
    /// setting cannot be loaded, e.g. a missing `ca_file`.
    pub fn new(endpoints: &[Endpoint], dialer: Dialer) -> Result<Network, ConfigError> {
        let mut map = BTreeMap::new();
        for e in endpoints {
            let tls = match e.tls.mode {
                TlsMode::Disable => None,
                _ => Some(TlsClient::new(
                    &e.host,
                    &e.tls,
                    &format!("endpoints.{}", e.name),
                )?),
            };
            map.insert(
                e.name.clone(),
                Handle {
                    endpoint: e.clone(),
                    tls,
                },
            );
        }
        Ok(Network {
            dialer,
            endpoints: map,
        })
    }

    /// A network with no endpoints (connectors that need none).
    pub fn none() -> Network {
        Network {
            dialer: Dialer::default(),
            endpoints: BTreeMap::new(),
        }
    }

    /// The declared endpoints, by name.
    pub fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.values().map(|h| &h.endpoint)
    }

    /// The endpoint called `name`, or an error listing the ones that exist.
    pub fn endpoint(&self, name: &str) -> Result<&Endpoint, NetError> {
        self.handle(name).map(|h| &h.endpoint)
    }

    fn handle(&self, name: &str) -> Result<&Handle, NetError> {
        self.endpoints.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.endpoints.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "the connection config declares none; add an [endpoints.NAME] table".to_owned()
            } else {
                format!("the config declares: {}", known.join(", "))
            };
            NetError::new(
                NetErrorKind::UnknownEndpoint,
                format!("no endpoint named \"{name}\"; {hint}"),
            )
        })
    }

    /// Opens a connection to endpoint `name` along its route, with TLS if the
    /// endpoint does an immediate handshake. The whole of it is bounded by the
    /// endpoint's `connect_timeout_secs`.
    pub async fn connect(&self, name: &str) -> Result<Dialed, NetError> {
        let h = self.handle(name)?;
        let e = &h.endpoint;
        // Every step below ends by this one deadline and names itself when it
        // is the one that runs out of time.
        let deadline = Deadline::after(e.connect_timeout);
        let open = async {
            let (stream, path) = transport::open(&self.dialer, e, deadline).await?;
            match (&h.tls, e.tls.immediate) {
                (Some(tls), true) => {
                    let (stream, info) = tls.handshake(stream, deadline).await?;
                    Ok(Dialed {
                        stream,
                        path,
                        tls: Some(info),
                    })
                }
                _ => Ok(Dialed {
                    stream,
                    path,
                    tls: None,
                }),
            }
        };
        // A backstop only: each step is bounded by the deadline already.
        let result = tokio::time::timeout_at(deadline.at() + BACKSTOP, open)
            .await
            .unwrap_or_else(|_| {
                Err(NetError::timeout(format!(
                    "connecting took longer than {} s (endpoints.{name}.connect_timeout_secs)",
                    deadline.timeout().as_secs_f32()
                )))
            });
        result.map_err(|err| err.context(format!("endpoint \"{name}\" ({}:{})", e.host, e.port)))
    }

    /// Starts TLS in-band on a connection to endpoint `name` (after the protocol's
    /// own negotiation, e.g. PostgreSQL's SSLRequest answered `S`).
    pub async fn start_tls(
        &self,
        name: &str,
        stream: BoxStream,
    ) -> Result<(BoxStream, TlsInfo), NetError> {
        let h = self.handle(name)?;
        let Some(tls) = &h.tls else {
            return Err(NetError::tls(format!(
                "endpoint \"{name}\" has tls = \"disable\"; set tls = \"require\" (or \"prefer\") with tls_handshake = \"in-band\" to let the connector start TLS"
            )));
        };
        tls.handshake(stream, Deadline::after(h.endpoint.connect_timeout))
            .await
            .map_err(|err| err.context(format!("endpoint \"{name}\"")))
    }
}
