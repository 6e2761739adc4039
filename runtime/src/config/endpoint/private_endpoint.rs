//! `via.private_endpoint`: a TCP connection from this host to a network
//! interface the customer's cloud put in this host's network.

use std::fmt;

use serde::Deserialize;

use super::{Route, RouteContext, is_simple_name};
use crate::config::ConfigError;

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

/// `[endpoints.NAME.via.private_endpoint]`, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrivateEndpoint {
    address: String,
    port: Option<u16>,
    provider: String,
}

impl RawPrivateEndpoint {
    /// Checks the provider and that `address` is a bare name or IP address.
    pub(super) fn resolve(self, cx: RouteContext<'_>) -> Result<Route, ConfigError> {
        let path = cx.key;
        let provider = match self.provider.as_str() {
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
        let address_key = format!("{path}.address");
        let address = self.address.trim();
        if address.is_empty() {
            return Err(ConfigError::key(
                address_key,
                "must not be empty; give the private endpoint's DNS name or IP address",
            ));
        }
        // An IP literal (v4 or v6) is fine as is; anything else must look like a
        // bare host name, so a pasted URL or `host:port` is caught here with the
        // fix rather than as a lookup failure at sync time.
        if address.parse::<std::net::IpAddr>().is_err() {
            if address.contains("://") || address.contains('/') {
                return Err(ConfigError::key(
                    address_key,
                    format!("\"{address}\" looks like a URL; give only the DNS name or IP address"),
                ));
            }
            if address.contains(':') || address.contains('[') {
                return Err(ConfigError::key(
                    address_key,
                    format!(
                        "\"{address}\" is not a DNS name or IP address; put the port in `port`, and write IPv6 addresses without brackets"
                    ),
                ));
            }
            if !is_simple_name(address) {
                return Err(ConfigError::key(
                    address_key,
                    format!("\"{address}\" is not a DNS name or IP address"),
                ));
            }
        }
        let port = self.port.unwrap_or(cx.endpoint_port);
        if port == 0 {
            return Err(ConfigError::key(
                format!("{path}.port"),
                "must be 1..=65535",
            ));
        }
        Ok(Route::PrivateEndpoint(PrivateEndpoint {
            address: address.to_owned(),
            port,
            provider,
        }))
    }
}
