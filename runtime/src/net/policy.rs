//! The operator's egress policy: which resolved addresses this host may dial.
//!
//! Pure (no sockets, no wasmtime). It is checked on *resolved* addresses, after
//! name lookup and right before the dial that uses the same address, so a name
//! that resolves somewhere forbidden cannot slip through. It belongs to the
//! operator — a runtime-level file — and a connection config cannot loosen it.
//!
//! Order of the checks, first match wins:
//! 1. `deny` ranges the operator listed;
//! 2. addresses nothing should dial: unspecified (`0.0.0.0`, `::`), multicast,
//!    broadcast — always refused;
//! 3. `allow` ranges the operator listed;
//! 4. link-local and cloud metadata (`169.254.0.0/16`, `fe80::/10`,
//!    `fd00:ec2::254`) — refused unless allowed in step 3;
//! 5. loopback — only with `allow_loopback`;
//! 6. private ranges (RFC 1918, `100.64.0.0/10`, `fc00::/7`) — only with `allow_private`;
//! 7. anything else is public — allowed unless `allow_public = false`.
//!
//! A private endpoint (`via.private_endpoint`) is judged by
//! [`EgressPolicy::check_private_endpoint`] instead: it must land inside the
//! operator's `private_endpoint_networks`, whatever `allow_private` says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

/// Which addresses may be dialed. `Default` is the safe default described in
/// the module docs: public addresses only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressPolicy {
    /// Allow `127.0.0.0/8` and `::1` (local development, tests, the demo).
    pub allow_loopback: bool,
    /// Allow RFC 1918, `100.64.0.0/10` (CGNAT) and `fc00::/7` (ULA).
    pub allow_private: bool,
    /// Allow every address not covered by another rule.
    pub allow_public: bool,
    /// Ranges always allowed (unless also in `deny`), e.g. one private subnet.
    pub allow: Vec<IpNet>,
    /// Ranges always refused.
    pub deny: Vec<IpNet>,
    /// Where a private endpoint (`via.private_endpoint`) may resolve to: every
    /// address its name resolves to must be inside one of these. Defaults to
    /// RFC 1918, `100.64.0.0/10` and `fc00::/7`
    /// ([`default_private_endpoint_networks`]).
    pub private_endpoint_networks: Vec<IpNet>,
}

/// RFC 1918 (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`), CGNAT
/// `100.64.0.0/10` and IPv6 ULA `fc00::/7`: the address space cloud private
/// endpoints (AWS PrivateLink, Azure Private Link, GCP Private Service Connect)
/// get their addresses from.
pub fn default_private_endpoint_networks() -> Vec<IpNet> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    ]
    .iter()
    .map(|n| n.parse().expect("a valid network literal"))
    .collect()
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            allow_loopback: false,
            allow_private: false,
            allow_public: true,
            allow: Vec::new(),
            deny: Vec::new(),
            private_endpoint_networks: default_private_endpoint_networks(),
        }
    }
}

/// Why an address was refused: the address and the rule that refused it.
/// `Display` names the rule, and the setting that would change it where the
/// operator may change it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} {rule}")]
pub struct Refusal {
    /// The address as judged (an IPv4-mapped IPv6 address as its IPv4 address).
    pub address: IpAddr,
    /// The rule that refused it.
    pub rule: Rule,
}

/// The rules of the policy that refuse an address (see the module docs for
/// their order). `Display` is the sentence after the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    /// In one of the operator's `deny` ranges.
    #[error("is in a range the egress policy denies (`deny`)")]
    Denied,
    /// Unspecified, multicast or broadcast (what it is): never dialed.
    #[error("is {0}, which is never dialed")]
    NeverDialed(&'static str),
    /// Link-local or a cloud metadata address, not under `allow`.
    #[error(
        "is link-local or a cloud metadata address; the egress policy denies it (an operator can list it under `allow`)"
    )]
    LinkLocalOrMetadata,
    /// Loopback without `allow_loopback`.
    #[error(
        "is loopback; the egress policy denies it (an operator can set `allow_loopback = true`)"
    )]
    Loopback,
    /// A private range without `allow_private`.
    #[error(
        "is a private address; the egress policy denies it (an operator can set `allow_private = true` or list the range under `allow`)"
    )]
    Private,
    /// A public address with `allow_public = false`.
    #[error("is not in any range the egress policy allows (`allow_public = false`)")]
    NotAllowed,
    /// A private endpoint that resolved to loopback.
    #[error(
        "is loopback; a private endpoint must resolve to an address in the customer's network, never to this host"
    )]
    PrivateEndpointOnLoopback,
    /// A private endpoint that resolved outside `private_endpoint_networks`
    /// (listed, for the message).
    #[error(
        "is outside the operator's private_endpoint_networks ({networks}); a private endpoint must resolve to a private address"
    )]
    OutsidePrivateEndpointNetworks {
        /// The operator's networks as `a, b, c` (or `none`).
        networks: String,
    },
}

impl Rule {
    fn at(self, address: IpAddr) -> Refusal {
        Refusal {
            address,
            rule: self,
        }
    }
}

/// An egress policy file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("egress policy {}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid policy (bad TOML, unknown key, bad range).
    #[error("egress policy {}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with the key and line.
        problem: String,
    },
}

impl EgressPolicy {
    /// A policy that also allows loopback (tests, `airlock demo`).
    pub fn loopback_allowed() -> EgressPolicy {
        EgressPolicy {
            allow_loopback: true,
            ..EgressPolicy::default()
        }
    }

    /// Reads a policy file (TOML with the fields of this struct).
    pub fn load(path: &Path) -> Result<EgressPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| PolicyError::Invalid {
            path: path.to_owned(),
            problem: e.to_string(),
        })
    }

    /// What no route may dial: the operator's `deny` list and the addresses
    /// that are never dialed. Both checks below start here.
    fn check_denied(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return Err(Rule::Denied.at(ip));
        }
        if let Some(what) = never_dialable(ip) {
            return Err(Rule::NeverDialed(what).at(ip));
        }
        Ok(())
    }

    /// Whether `ip` may be dialed, and if not, why.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        // `::ffff:169.254.169.254` is 169.254.169.254 on the wire.
        let ip = ip.to_canonical();
        self.check_denied(ip)?;
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        if is_link_local_or_metadata(ip) {
            return Err(Rule::LinkLocalOrMetadata.at(ip));
        }
        let (allowed, rule) = if ip.is_loopback() {
            (self.allow_loopback, Rule::Loopback)
        } else if is_private(ip) {
            (self.allow_private, Rule::Private)
        } else {
            (self.allow_public, Rule::NotAllowed)
        };
        if allowed { Ok(()) } else { Err(rule.at(ip)) }
    }
}

impl EgressPolicy {
    /// Whether `ip`, an address a private endpoint resolved to, may be dialed.
    ///
    /// Differs from [`check`](Self::check) in one rule only: instead of
    /// `allow_private` / `allow_public`, the address must be inside
    /// `private_endpoint_networks` — a private endpoint *is* private, and one
    /// that resolves anywhere else is a misconfiguration or a DNS answer
    /// someone else controls. The rest stays: `deny`, never-dialable
    /// addresses, and link-local/metadata unless under `allow`. Loopback is
    /// always refused, even with `allow_loopback` or a network that covers it:
    /// a private endpoint is an interface in the customer's network, never a
    /// service on this host, and loopback is where the runtime's own services
    /// listen.
    pub fn check_private_endpoint(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = ip.to_canonical();
        self.check_denied(ip)?;
        if ip.is_loopback() {
            return Err(Rule::PrivateEndpointOnLoopback.at(ip));
        }
        if is_link_local_or_metadata(ip) && !self.allow.iter().any(|n| n.contains(&ip)) {
            return Err(Rule::LinkLocalOrMetadata.at(ip));
        }
        if self
            .private_endpoint_networks
            .iter()
            .any(|n| n.contains(&ip))
        {
            Ok(())
        } else {
            Err(Rule::OutsidePrivateEndpointNetworks {
                networks: self.private_endpoint_networks_list(),
            }
            .at(ip))
        }
    }

    /// `private_endpoint_networks` as `a, b, c` (or `none`), for messages.
    pub fn private_endpoint_networks_list(&self) -> String {
        if self.private_endpoint_networks.is_empty() {
            return "none".to_owned();
        }
        self.private_endpoint_networks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn never_dialable(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(v4) if v4.is_multicast() => Some("multicast"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("multicast"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        _ => None,
    }
}

/// The AWS IPv6 instance metadata service; inside `fc00::/7`, so it must be
/// caught before the private-range rule.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn is_link_local_or_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6 == AWS_METADATA_V6 || (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || is_shared_v4(v4),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// `100.64.0.0/10`, carrier-grade NAT space; private in practice.
fn is_shared_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (64..128).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refused(p: &EgressPolicy, s: &str) -> String {
        p.check(ip(s)).expect_err(s).to_string()
    }

    #[test]
    fn default_allows_public_only() {
        let p = EgressPolicy::default();
        for ok in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert_eq!(p.check(ip(ok)), Ok(()), "{ok}");
        }
        assert!(refused(&p, "127.0.0.1").contains("allow_loopback = true"));
        assert!(refused(&p, "::1").contains("loopback"));
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd12::1",
        ] {
            assert!(refused(&p, private).contains("allow_private"), "{private}");
        }
    }

    #[test]
    fn metadata_link_local_unspecified_multicast_broadcast_are_denied() {
        let p = EgressPolicy::default();
        assert!(refused(&p, "169.254.169.254").contains("metadata"));
        assert!(refused(&p, "fd00:ec2::254").contains("metadata"));
        assert!(refused(&p, "fe80::1").contains("link-local"));
        assert!(refused(&p, "0.0.0.0").contains("unspecified"));
        assert!(refused(&p, "::").contains("unspecified"));
        assert!(refused(&p, "224.0.0.1").contains("multicast"));
        assert!(refused(&p, "ff02::1").contains("multicast"));
        assert!(refused(&p, "255.255.255.255").contains("broadcast"));
    }

    #[test]
    fn mapped_v6_is_judged_as_v4() {
        let p = EgressPolicy::loopback_allowed();
        assert!(refused(&p, "::ffff:169.254.169.254").contains("169.254.169.254"));
        assert_eq!(p.check(ip("::ffff:127.0.0.1")), Ok(()));
    }

    #[test]
    fn allowing_private_does_not_allow_metadata() {
        let p = EgressPolicy {
            allow_private: true,
            allow_loopback: true,
            ..EgressPolicy::default()
        };
        assert_eq!(p.check(ip("10.0.0.5")), Ok(()));
        assert!(p.check(ip("fd00:ec2::254")).is_err());
        assert!(p.check(ip("169.254.169.254")).is_err());
        assert!(p.check(ip("0.0.0.0")).is_err());
    }

    #[test]
    fn explicit_ranges_win_in_order() {
        let p: EgressPolicy = toml::from_str(
            r#"
            allow_public = false
            allow = ["10.20.0.0/16", "169.254.10.0/24", "224.0.0.0/4"]
            deny = ["10.20.30.0/24"]
            "#,
        )
        .unwrap();
        assert_eq!(p.check(ip("10.20.1.1")), Ok(()));
        assert!(refused(&p, "10.20.30.4").contains("deny"));
        assert!(refused(&p, "10.21.0.1").contains("private"));
        assert_eq!(p.check(ip("169.254.10.9")), Ok(()));
        assert!(refused(&p, "224.0.0.1").contains("never dialed"));
        assert!(refused(&p, "8.8.8.8").contains("allow_public = false"));
    }

    #[test]
    fn private_endpoints_default_to_private_ranges_regardless_of_allow_private() {
        let p = EgressPolicy::default();
        assert!(!p.allow_private);
        for ok in [
            "10.77.0.2",
            "172.31.255.1",
            "192.168.0.9",
            "100.64.3.4",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(p.check_private_endpoint(ip(ok)), Ok(()), "{ok}");
        }
        let e = p
            .check_private_endpoint(ip("203.0.113.7"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("203.0.113.7")
                && e.contains("private_endpoint_networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7)")
                && e.contains("must resolve to a private address"),
            "{e}"
        );
        assert!(p.check_private_endpoint(ip("2606:2800:220:1::1")).is_err());
    }

    #[test]
    fn private_endpoints_never_go_to_loopback_metadata_or_unspecified() {
        let p = EgressPolicy {
            allow_loopback: true,
            private_endpoint_networks: vec![
                "127.0.0.0/8".parse().unwrap(),
                "169.254.0.0/16".parse().unwrap(),
                "0.0.0.0/0".parse().unwrap(),
            ],
            ..EgressPolicy::default()
        };
        for (addr, why) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("169.254.169.254", "metadata"),
            ("fd00:ec2::254", "metadata"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
        ] {
            let e = p.check_private_endpoint(ip(addr)).unwrap_err().to_string();
            assert!(e.contains(why), "{addr}: {e}");
        }
    }

    #[test]
    fn private_endpoint_networks_come_from_the_policy_file_and_deny_wins() {
        let p: EgressPolicy = toml::from_str(
            r#"
            private_endpoint_networks = ["10.20.0.0/16"]
            deny = ["10.20.30.0/24"]
            allow = ["169.254.10.0/24"]
            "#,
        )
        .unwrap();
        assert_eq!(p.check_private_endpoint(ip("10.20.1.1")), Ok(()));
        assert!(
            p.check_private_endpoint(ip("10.20.30.4"))
                .unwrap_err()
                .to_string()
                .contains("deny")
        );
        let e = p
            .check_private_endpoint(ip("10.77.0.2"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("private_endpoint_networks (10.20.0.0/16)"),
            "{e}"
        );
        // Allowed as link-local, but still outside the networks.
        assert!(p.check_private_endpoint(ip("169.254.10.9")).is_err());
        // Omitting the setting keeps the defaults.
        let d: EgressPolicy = toml::from_str("allow_loopback = true").unwrap();
        assert_eq!(
            d.private_endpoint_networks,
            default_private_endpoint_networks()
        );
        let none: EgressPolicy = toml::from_str("private_endpoint_networks = []").unwrap();
        assert!(
            none.check_private_endpoint(ip("10.0.0.1"))
                .unwrap_err()
                .to_string()
                .contains("private_endpoint_networks (none)")
        );
    }

    #[test]
    fn unknown_keys_in_a_policy_file_are_errors() {
        let e = toml::from_str::<EgressPolicy>("allow_loopbak = true").unwrap_err();
        assert!(e.to_string().contains("allow_loopbak"));
    }
}
