//! Private endpoints end to end: the `airlock` binary runs the `nettest`
//! connector against a server that lives only inside a network namespace (the
//! "VPC"), reached through `via.private_endpoint`; and the same route is refused
//! when the address is loopback, public, or outside what the operator's
//! `private_endpoint_networks` allows. Needs root (network namespaces).

use crate::harness;

use harness::net::{probes, results};
use harness::netns::{ECHO_PORT, HTTPS_PORT, PrivateNet};
use harness::{Job, guest};

/// An endpoint `name` whose `host` is `host` (the name TLS verifies), routed
/// to the private endpoint `address:port`.
fn endpoint(
    name: &str,
    host: &str,
    extra: &str,
    address: &str,
    port: u16,
    provider: &str,
) -> String {
    format!(
        "[endpoints.{name}]\nhost = \"{host}\"\nport = 443\n{extra}\n\
         [endpoints.{name}.via.private_endpoint]\naddress = \"{address}\"\nport = {port}\nprovider = \"{provider}\"\n\n"
    )
}

fn run(job: &Job, args: &[&str], policy: Option<&str>) -> harness::Run {
    let config = job.config.display().to_string();
    let mut all = args.to_vec();
    all.extend(["--config", &config]);
    let envs: Vec<(&str, &str)> = policy
        .map(|p| vec![("AIRLOCK_EGRESS_POLICY", p)])
        .unwrap_or_default();
    harness::airlock_env(&all, &envs)
}

/// Bytes both ways to 10.77.x.2 inside the namespace, and HTTPS whose
/// certificate is verified against the endpoint's `host` while the bytes go to
/// the private address — under the *default* egress policy, which refuses
/// private addresses for direct routes: a private endpoint is private by design.
#[test]
fn a_private_endpoint_carries_bytes_and_verified_tls_to_the_private_address() {
    let net = PrivateNet::start("api.shop.example");
    let peer = net.peer_ip.to_string();
    let ca = net.ca_file().display().to_string();
    let tls = format!("tls = \"require\"\nca_file = {ca:?}\n");
    let body = [
        endpoint("db", "db.shop.example", "", &peer, ECHO_PORT, "aws"),
        endpoint("api", "api.shop.example", &tls, &peer, HTTPS_PORT, "azure"),
        endpoint(
            "wrongname",
            "other.shop.example",
            &tls,
            &peer,
            HTTPS_PORT,
            "gcp",
        ),
        // Direct to the same address: still refused by the default policy.
        format!("[endpoints.plain]\nhost = \"{peer}\"\nport = {ECHO_PORT}\n\n"),
        probes(&[
            ("db", "echo", "bytes = 300000"),
            ("api", "http-get", "path = \"/\""),
            ("wrongname", "http-get", "path = \"/\""),
            ("plain", "connect", ""),
        ]),
    ]
    .concat();
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    run(&job, &["sync"], None).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "echoed 300000 bytes"),
        "{r:?}"
    );
    assert_eq!(
        (r[1].1.as_str(), r[1].2.as_str()),
        ("ok", "HTTP/1.1 200 OK via TLSv1.3"),
        "{r:?}"
    );
    assert_eq!(r[2].1, "tls", "{r:?}");
    assert!(r[2].2.contains("not valid for other.shop.example"), "{r:?}");
    assert_eq!(r[3].1, "denied", "{r:?}");
    assert!(r[3].2.contains("allow_private"), "{r:?}");

    // `check` shows provider, configured address and the private address dialed.
    let check = run(&job, &["check"], None);
    let out = &check.stdout;
    assert!(
        out.contains(&format!(
            "route: private endpoint (aws) {peer}:{ECHO_PORT} → {peer}:{ECHO_PORT}"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "route: private endpoint (azure) {peer}:{HTTPS_PORT} → {peer}:{HTTPS_PORT}"
        )),
        "{out}"
    );
    assert!(out.contains("CN=api.shop.example"), "{out}");
}

/// Loopback (even with `allow_loopback = true`), a public address and a name
/// resolving to loopback are refused before any connection is made; and an
/// operator can narrow `private_endpoint_networks` so the namespace's address is
/// refused too — its server never sees a connection.
#[test]
fn loopback_public_and_narrowed_networks_are_refused_before_dialing() {
    let net = PrivateNet::start("db.shop.example");
    let peer = net.peer_ip.to_string();
    let local = harness::net::echo_server();
    let policy_dir = tempfile::tempdir().unwrap();
    let loose = harness::net::loopback_policy(policy_dir.path());
    let body = [
        endpoint(
            "lo",
            "db.shop.example",
            "",
            "127.0.0.1",
            local.port(),
            "aws",
        ),
        endpoint(
            "localname",
            "db.shop.example",
            "",
            "localhost",
            local.port(),
            "aws",
        ),
        endpoint("public", "db.shop.example", "", "198.51.100.7", 5432, "gcp"),
        endpoint("vpc", "db.shop.example", "", &peer, ECHO_PORT, "azure"),
        probes(&[
            ("lo", "connect", ""),
            ("localname", "connect", ""),
            ("public", "connect", ""),
            ("vpc", "connect", ""),
        ]),
    ]
    .concat();
    let job = Job::new(&guest("tests/guests/nettest"), &body);
    run(&job, &["sync"], Some(&loose)).expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "denied", "{r:?}");
    assert!(
        r[0].2
            .contains("endpoints.lo.via.private_endpoint: 127.0.0.1: 127.0.0.1 is loopback"),
        "{r:?}"
    );
    assert_eq!(r[1].1, "denied", "{r:?}");
    assert!(
        r[1].2.contains("localhost resolved to") && r[1].2.contains("is loopback"),
        "{r:?}"
    );
    assert_eq!(r[2].1, "denied", "{r:?}");
    assert!(
        r[2].2.contains(
            "endpoints.public.via.private_endpoint: 198.51.100.7: 198.51.100.7 is outside the operator's private_endpoint_networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7); a private endpoint must resolve to a private address"
        ),
        "{r:?}"
    );
    assert_eq!((r[3].1.as_str(), r[3].2.as_str()), ("ok", "clear"), "{r:?}");
    assert_eq!(local.accepted(), 0, "loopback was never dialed");
    assert_eq!(net.accepted(), vec!["echo"], "{:?}", net.accepted());

    // The operator narrows the networks: the namespace's address is refused,
    // and its server sees no new connection.
    let narrow = policy_dir.path().join("narrow.toml");
    std::fs::write(
        &narrow,
        "private_endpoint_networks = [\"192.168.0.0/16\"]\n",
    )
    .unwrap();
    let narrow = narrow.display().to_string();
    run(&job, &["sync"], Some(&narrow)).expect(0);
    let r = results(&job);
    let vpc = r.iter().rev().find(|p| p.0 == "vpc").unwrap();
    assert_eq!(vpc.1, "denied", "{r:?}");
    assert!(
        vpc.2.contains(&format!(
            "{peer} is outside the operator's private_endpoint_networks (192.168.0.0/16)"
        )),
        "{r:?}"
    );
    assert_eq!(net.accepted(), vec!["echo"], "{:?}", net.accepted());

    // `check` fails the refused endpoints and says why.
    let check = run(&job, &["check"], Some(&narrow));
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check.stdout.contains("FAILED: endpoint \"public\"")
            && check.stdout.contains("198.51.100.7 is outside"),
        "{}",
        check.stdout
    );
}
