//! The private-endpoint transport: a TCP connection from this host to a cloud
//! private endpoint (AWS PrivateLink, Azure Private Link, GCP Private Service
//! Connect) — a network interface the customer's cloud placed in this host's
//! network.
//!
//! What makes it more than a direct route is the promise the customer relies
//! on: the bytes stay on private address space. So the endpoint's `address` is
//! resolved here, *every* address it resolves to must be inside the operator's
//! `private_endpoint_networks` (one public answer refuses the whole endpoint:
//! a name that resolves partly outside is misconfigured or answered by someone
//! else), and the connection goes to an address that was checked — there is
//! no second lookup. TLS, if asked, is done afterwards by
//! [`Network::connect`](crate::net::Network::connect) against the endpoint's
//! `host`, never against the private endpoint's name.

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;

use super::PathInfo;
use crate::config::PrivateEndpoint;
use crate::conn::{Deadline, NetError};
use crate::net::policy::EgressPolicy;

/// Resolves `pe.address`, checks every address with
/// [`EgressPolicy::check_private_endpoint`], and connects to the first that
/// answers, all by `deadline`. `key_path` is the config key of the route
/// (`endpoints.db.via.private_endpoint`), for errors.
pub async fn dial(
    pe: &PrivateEndpoint,
    policy: &EgressPolicy,
    key_path: &str,
    deadline: Deadline,
) -> Result<(TcpStream, PathInfo), NetError> {
    let doing = || format!("connecting to {}:{}", pe.address, pe.port);
    let result = deadline.run(doing, dial_inner(pe, policy)).await;
    let (tcp, addr) = result.map_err(|e| e.context(key_path))?;
    let path = PathInfo {
        hops: vec![hop(pe, addr)],
        dialed: Some(addr),
    };
    Ok((tcp, path))
}

/// The `airlock check` line: provider, the configured address and the
/// private address it resolved to and was dialed.
fn hop(pe: &PrivateEndpoint, addr: SocketAddr) -> String {
    format!(
        "private endpoint ({}) {}:{} → {addr}",
        pe.provider, pe.address, pe.port
    )
}

async fn dial_inner(
    pe: &PrivateEndpoint,
    policy: &EgressPolicy,
) -> Result<(TcpStream, SocketAddr), NetError> {
    let addrs = resolve(pe).await?;
    check_all(pe, &addrs, policy)?;
    super::direct::connect_first(&addrs).await.map_err(|errors| {
        NetError::unreachable(format!(
            "cannot connect to the {} private endpoint {}:{} ({}); check that it is in a state that accepts connections and that its security group / network rules admit this host",
            pe.provider,
            pe.address,
            pe.port,
            errors.join("; ")
        ))
    })
}

/// The addresses `pe.address` resolves to on this host, deduplicated, in
/// resolver order. An IP literal resolves to itself without a lookup.
async fn resolve(pe: &PrivateEndpoint) -> Result<Vec<SocketAddr>, NetError> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in tokio::net::lookup_host((pe.address.as_str(), pe.port))
        .await
        .map_err(|e| {
            NetError::unreachable(format!(
                "cannot resolve {}: {e}; private endpoint names usually resolve only inside the network the endpoint lives in (a private DNS zone)",
                pe.address
            ))
        })?
    {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    if addrs.is_empty() {
        return Err(NetError::unreachable(format!(
            "{} resolves to no address",
            pe.address
        )));
    }
    Ok(addrs)
}

/// Every address must pass; the error lists what the name resolved to and
/// each refusal, so the operator sees the whole DNS answer.
fn check_all(
    pe: &PrivateEndpoint,
    addrs: &[SocketAddr],
    policy: &EgressPolicy,
) -> Result<(), NetError> {
    let refusals: Vec<String> = addrs
        .iter()
        .filter_map(|a| policy.check_private_endpoint(a.ip()).err())
        .map(|r| r.to_string())
        .collect();
    if refusals.is_empty() {
        return Ok(());
    }
    let is_literal = pe.address.parse::<IpAddr>().is_ok();
    let what = if is_literal {
        pe.address.clone()
    } else {
        let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        format!("{} resolved to {}", pe.address, ips.join(", "))
    };
    Err(NetError::denied(format!("{what}: {}", refusals.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;

    fn pe(address: &str) -> PrivateEndpoint {
        PrivateEndpoint {
            address: address.into(),
            port: 5432,
            provider: Provider::Aws,
        }
    }

    #[tokio::test]
    async fn a_public_address_is_refused_before_any_connect() {
        let e = dial(
            &pe("198.51.100.7"),
            &EgressPolicy::default(),
            "endpoints.db.via.private_endpoint",
            Deadline::after(std::time::Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, crate::conn::NetErrorKind::Denied);
        assert!(
            e.message.starts_with(
                "endpoints.db.via.private_endpoint: 198.51.100.7: 198.51.100.7 is outside the operator's private_endpoint_networks (10.0.0.0/8"
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_with_what_it_resolved_to() {
        let policy = EgressPolicy::loopback_allowed();
        let e = dial(
            &pe("localhost"),
            &policy,
            "endpoints.db.via.private_endpoint",
            Deadline::after(std::time::Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, crate::conn::NetErrorKind::Denied);
        assert!(
            e.message.contains("localhost resolved to ") && e.message.contains("is loopback"),
            "{e}"
        );
    }

    #[test]
    fn one_bad_answer_refuses_the_whole_name() {
        let addrs: Vec<SocketAddr> = vec![
            "10.0.0.5:5432".parse().unwrap(),
            "203.0.113.7:5432".parse().unwrap(),
        ];
        let e = check_all(&pe("vpce-1.example"), &addrs, &EgressPolicy::default()).unwrap_err();
        assert!(
            e.message.starts_with(
                "vpce-1.example resolved to 10.0.0.5, 203.0.113.7: 203.0.113.7 is outside"
            ),
            "{e}"
        );
        assert_eq!(
            check_all(&pe("vpce-1.example"), &addrs[..1], &EgressPolicy::default()),
            Ok(())
        );
    }

    #[test]
    fn the_hop_names_provider_address_and_resolved_address() {
        let h = hop(&pe("vpce-0abc.example"), "10.77.0.2:5432".parse().unwrap());
        assert_eq!(
            h,
            "private endpoint (aws) vpce-0abc.example:5432 → 10.77.0.2:5432"
        );
    }
}
