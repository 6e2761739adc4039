//! The job's network: its endpoints, and `check`'s walk through each of them.

use super::{JobError, Runtime};
use crate::config::{JobConfig, TlsMode};
use crate::net::{NetError, Network, PathInfo, TlsInfo};

/// The job's network: its endpoints, dialed through the runtime's dialer.
pub fn network(rt: &Runtime, config: &JobConfig) -> Result<Network, JobError> {
    Ok(Network::new(&config.endpoints, rt.dialer.clone())?)
}

/// What `check` found on the way to one endpoint.
#[derive(Debug)]
pub struct EndpointCheck {
    /// The endpoint's name.
    pub name: String,
    /// `host:port` as configured.
    pub target: String,
    /// The path taken and the TLS session, or what failed.
    pub outcome: Result<(PathInfo, Option<TlsInfo>), NetError>,
    /// TLS as configured, for the report ("immediate", "in-band (by the connector)", "disabled").
    pub tls_setting: String,
}

/// Opens (and closes) one connection to every endpoint of the config through
/// its route: transport hops, resolved address, host keys, auth and TLS.
pub async fn check_endpoints(
    rt: &Runtime,
    config: &JobConfig,
) -> Result<Vec<EndpointCheck>, JobError> {
    let network = network(rt, config)?;
    let mut out = Vec::new();
    for e in network.endpoints() {
        let outcome = network.connect(&e.name).await.map(|d| (d.path, d.tls));
        let tls_setting = match (e.tls.mode, e.tls.immediate) {
            (TlsMode::Disable, _) => "disabled".to_owned(),
            (TlsMode::Require, true) => "required, immediate".to_owned(),
            (m, _) => format!(
                "{}, in-band (started by the connector; checked by its own check)",
                if m == TlsMode::Require {
                    "required"
                } else {
                    "preferred"
                }
            ),
        };
        out.push(EndpointCheck {
            name: e.name.clone(),
            target: format!("{}:{}", e.host, e.port),
            outcome,
            tls_setting,
        });
    }
    Ok(out)
}
