//! Unit tests of `[endpoints]`: the shared keys, TLS, and every route.

use std::time::Duration;

use super::*;
use crate::config::JobConfig;

const PIN: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

/// The message, as the user sees it: the assertions compare words.
fn parse(body: &str) -> Result<JobConfig, String> {
    let dir = std::env::temp_dir();
    JobConfig::parse(&format!("connector = \"c.wasm\"\n{body}"), &dir, "t")
        .map_err(|e| e.to_string())
}

fn err(body: &str) -> String {
    parse(body).expect_err("must be refused")
}

#[test]
fn direct_endpoint_gets_defaults() {
    let c = parse("[endpoints.api]\nhost = \"api.example.com\"\nport = 443\ntls = \"require\"\n")
        .unwrap();
    let e = &c.endpoints[0];
    assert_eq!(
        (e.name.as_str(), e.host.as_str(), e.port),
        ("api", "api.example.com", 443)
    );
    assert!(matches!(e.route, Route::Direct));
    assert_eq!(e.tls.mode, TlsMode::Require);
    assert!(e.tls.immediate);
    assert_eq!(
        e.connect_timeout,
        Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS)
    );
}

#[test]
fn ssh_route_with_jump_hosts_in_dial_order_and_secrets_redacted() {
    // SAFETY: this test alone uses these variables.
    unsafe {
        std::env::set_var(
            "AIRLOCK_TEST_KEY_1",
            "-----BEGIN KEY-----\nsecretline\n-----END KEY-----\n",
        );
        std::env::set_var("AIRLOCK_TEST_PW_1", "hunter2-bastion");
    }
    let c = parse(&format!(
        r#"
[endpoints.db]
host = "db.internal"
port = 5432
tls = "require"
tls_handshake = "in-band"

[endpoints.db.via.ssh]
host = "bastion.example.com"
user = "airlock"
private_key = {{ env = "AIRLOCK_TEST_KEY_1" }}
host_key = "{PIN}"
keepalive_interval_secs = 5

[[endpoints.db.via.ssh.jump]]
host = "outer.example.com"
port = 2222
user = "jump"
password = {{ env = "AIRLOCK_TEST_PW_1" }}
known_hosts = "kh"
"#
    ))
    .unwrap();
    let e = &c.endpoints[0];
    assert!(!e.tls.immediate);
    let Route::Ssh { route: r, target } = &e.route else {
        panic!("ssh route")
    };
    assert_eq!(target, &None);
    assert_eq!(r.hops.len(), 2);
    assert_eq!(
        (r.hops[0].host.as_str(), r.hops[0].port),
        ("outer.example.com", 2222)
    );
    assert_eq!(r.hops[0].key_path, "endpoints.db.via.ssh.jump[0]");
    assert!(matches!(r.hops[0].auth, SshAuth::Password(_)));
    assert!(matches!(r.hops[0].host_key, HostKeyCheck::KnownHosts(_)));
    assert_eq!(
        (r.hops[1].host.as_str(), r.hops[1].port),
        ("bastion.example.com", 22)
    );
    assert_eq!(r.hops[1].host_key, HostKeyCheck::Pinned(vec![PIN.into()]));
    assert_eq!(r.hops[1].keepalive_interval, Duration::from_secs(5));
    assert_eq!(r.hops[1].keepalive_count, DEFAULT_KEEPALIVE_COUNT);
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("secretline") && !debug.contains("hunter2"),
        "{debug}"
    );
    let masked = c
        .redactor
        .redact("key line secretline, password hunter2-bastion");
    assert_eq!(masked, "key line ***, password ***");
}

#[test]
fn mistakes_name_the_key_and_the_fix() {
    let base = "[endpoints.db]\nhost = \"db\"\nport = 5432\n";
    assert!(err("[endpoints.db]\nhost = \"db\"\nport = 0\n").contains("endpoints.db.port"));
    assert!(err(&format!("{base}tls = \"prefer\"\n")).contains("tls_handshake = \"in-band\""));
    assert!(
        err(&format!("{base}tls_handshake = \"later\"\n")).contains("endpoints.db.tls_handshake")
    );
    assert!(err(&format!("{base}ca_file = \"ca.pem\"\n")).contains("tls = \"disable\""));
    let ssh = format!("{base}[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\n");
    assert!(err(&ssh).contains("airlock keygen"));
    assert!(
        err(&format!("{ssh}password = \"inline\"\n"))
            .contains("endpoints.db.via.ssh.password: give it as { file")
    );
    let with_key = format!("{ssh}password = {{ file = \"/dev/null\" }}\n");
    assert!(
        err(&format!("{with_key}host_key = \"MD5:aa\"\n")).contains("not a SHA256 fingerprint")
    );
    assert!(
        err(&format!(
            "{with_key}host_key = \"{PIN}\"\ninsecure_accept_any_host_key = true\n"
        ))
        .contains("choose one of host_key")
    );
    assert!(err(&format!("{with_key}hots_key = \"x\"\n")).contains("hots_key"));
    assert!(err(&format!("{base}[endpoints.db.via.wormhole]\n")).contains("wormhole"));
    assert!(err("[endpoints.\"a b\"]\nhost = \"x\"\nport = 1\n").contains("letters, digits"));
}

const PE_BASE: &str = "[endpoints.db]\nhost = \"db.shop.example\"\nport = 5432\n[endpoints.db.via.private_endpoint]\n";

#[test]
fn private_endpoint_route_defaults_its_port_to_the_endpoints() {
    let c = parse(&format!(
        "{PE_BASE}address = \"vpce-0abc.vpce-svc-123.us-east-1.vpce.amazonaws.com\"\nprovider = \"aws\"\n"
    ))
    .unwrap();
    let e = &c.endpoints[0];
    assert_eq!(
        e.host, "db.shop.example",
        "TLS still verifies the real name"
    );
    let Route::PrivateEndpoint(pe) = &e.route else {
        panic!("private endpoint route: {:?}", e.route)
    };
    assert_eq!(
        pe,
        &PrivateEndpoint {
            address: "vpce-0abc.vpce-svc-123.us-east-1.vpce.amazonaws.com".into(),
            port: 5432,
            provider: Provider::Aws,
        }
    );

    for (provider, address, expect) in [
        ("azure", "10.1.2.3", Provider::Azure),
        ("gcp", "fd20::7", Provider::Gcp),
    ] {
        let c = parse(&format!(
            "{PE_BASE}address = \"{address}\"\nport = 6432\nprovider = \"{provider}\"\n"
        ))
        .unwrap();
        let Route::PrivateEndpoint(pe) = &c.endpoints[0].route else {
            panic!()
        };
        assert_eq!(
            (pe.address.as_str(), pe.port, pe.provider),
            (address, 6432, expect)
        );
        assert_eq!(pe.provider.to_string(), provider);
    }
}

#[test]
fn private_endpoint_mistakes_name_the_key_and_the_fix() {
    let pe = |rest: &str| err(&format!("{PE_BASE}{rest}"));
    let e = pe("address = \"10.0.0.1\"\nprovider = \"oracle\"\n");
    assert!(
        e.contains("endpoints.db.via.private_endpoint.provider")
            && e.contains("\"oracle\"")
            && e.contains("\"aws\"")
            && e.contains("\"azure\"")
            && e.contains("\"gcp\""),
        "{e}"
    );
    let e = pe("address = \"  \"\nprovider = \"aws\"\n");
    assert!(
        e.contains("endpoints.db.via.private_endpoint.address: must not be empty"),
        "{e}"
    );
    let e = pe("address = \"https://vpce-1.example\"\nprovider = \"aws\"\n");
    assert!(e.contains("looks like a URL"), "{e}");
    let e = pe("address = \"10.0.0.1:5432\"\nprovider = \"aws\"\n");
    assert!(e.contains("put the port in `port`"), "{e}");
    let e = pe("address = \"10.0.0.1\"\nport = 0\nprovider = \"aws\"\n");
    assert!(e.contains("endpoints.db.via.private_endpoint.port"), "{e}");
    let e = pe("address = \"10.0.0.1\"\n");
    assert!(e.contains("provider"), "{e}");
    let e = pe("provider = \"aws\"\n");
    assert!(e.contains("address"), "{e}");
    let e = pe("address = \"10.0.0.1\"\nprovider = \"aws\"\nzone = \"a\"\n");
    assert!(e.contains("zone"), "{e}");
    let e = err(&format!(
        "{PE_BASE}address = \"10.0.0.1\"\nprovider = \"aws\"\n[endpoints.db.via.direct]\n"
    ));
    assert!(e.contains("exactly one route"), "{e}");
}

#[test]
fn reverse_ssh_is_a_one_hop_route_to_the_relay_asking_for_the_tunnel() {
    let base =
        "[endpoints.db]\nhost = \"db.internal\"\nport = 5432\n[endpoints.db.via.reverse_ssh]\n";
    let c = parse(&format!(
        "{base}relay = \"relay.example.com:2222\"\ntunnel = \"shop-db\"\nuser = \"airlock\"\n\
         private_key = {{ file = \"/dev/null\" }}\nhost_key = \"{PIN}\"\n"
    ))
    .unwrap();
    let Route::ReverseSsh(r) = &c.endpoints[0].route else {
        panic!("reverse_ssh route")
    };
    assert_eq!(r.tunnel, "shop-db");
    assert_eq!(r.relay.hops.len(), 1);
    let hop = &r.relay.hops[0];
    assert_eq!((hop.host.as_str(), hop.port), ("relay.example.com", 2222));
    assert_eq!(hop.key_path, "endpoints.db.via.reverse_ssh");
    assert_eq!(hop.host_key, HostKeyCheck::Pinned(vec![PIN.into()]));

    let e = err(&format!(
        "{base}relay = \"relay\"\ntunnel = \"t\"\nuser = \"u\"\nprivate_key = {{ file = \"/dev/null\" }}\n"
    ));
    assert!(e.contains("endpoints.db.via.reverse_ssh.relay"), "{e}");
    let e = err(&format!(
        "{base}relay = \"r:1\"\ntunnel = \"t\"\nuser = \"u\"\n"
    ));
    assert!(
        e.contains("endpoints.db.via.reverse_ssh.private_key"),
        "{e}"
    );
    let e = err(&format!(
        "{base}relay = \"r:1\"\ntunnel = \"a b\"\nuser = \"u\"\nprivate_key = {{ file = \"/dev/null\" }}\n"
    ));
    assert!(e.contains("endpoints.db.via.reverse_ssh.tunnel"), "{e}");
    assert!(
        err(&format!(
            "{base}relay = \"r:1\"\ntunnel = \"t\"\nuser = \"u\"\nhost = \"x\"\n"
        ))
        .contains("host")
    );
}

#[test]
fn ssh_target_replaces_where_the_bastion_connects_and_is_checked() {
    let c = parse(
        "[endpoints.db]\nhost = \"db.shop.example\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\ntarget = \"localhost:15432\"\npassword = { file = \"/dev/null\" }\n",
    )
    .unwrap();
    let Route::Ssh { target, .. } = &c.endpoints[0].route else {
        panic!()
    };
    assert_eq!(target, &Some(("localhost".to_owned(), 15432)));
    let e = parse(
        "[endpoints.db]\nhost = \"db\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\ntarget = \"localhost\"\npassword = { file = \"/dev/null\" }\n",
    )
    .unwrap_err();
    assert!(
        e.contains("endpoints.db.via.ssh.target") && e.contains("host:port"),
        "{e}"
    );
}

#[test]
fn a_missing_pin_parses_so_check_can_show_the_fingerprint() {
    let c = parse(
        "[endpoints.db]\nhost = \"db\"\nport = 5432\n[endpoints.db.via.ssh]\nhost = \"b\"\nuser = \"u\"\npassword = { file = \"/dev/null\" }\n",
    )
    .unwrap();
    let Route::Ssh { route: r, .. } = &c.endpoints[0].route else {
        panic!()
    };
    assert_eq!(r.hops[0].host_key, HostKeyCheck::Missing);
}

#[test]
fn via_takes_exactly_one_known_route_and_says_so() {
    let base = "[endpoints.db]\nhost = \"db\"\nport = 5432\n";
    let exactly = "endpoints.db.via: give exactly one route: `via.ssh`, `via.reverse_ssh` or \
                   `via.private_endpoint`, or leave `via` out for a direct connection";
    assert_eq!(err(&format!("{base}[endpoints.db.via]\n")), exactly);
    assert_eq!(
        err(&format!(
            "{base}[endpoints.db.via.direct]\n[endpoints.db.via.private_endpoint]\n\
             address = \"10.0.0.1\"\nprovider = \"aws\"\n"
        )),
        exactly
    );
    // An unknown route is an unknown key of `via`, with its own path and line.
    let unknown = |name: &str, line: u32| {
        format!(
            "endpoints.db.via.{name}: unknown field `{name}`, expected one of `direct`, `ssh`, \
             `private_endpoint`, `reverse_ssh` (line {line})"
        )
    };
    assert_eq!(
        err(&format!("{base}[endpoints.db.via.wormhole]\n")),
        unknown("wormhole", 5)
    );
    assert_eq!(
        err(&format!(
            "{base}[endpoints.db.via.direct]\n[endpoints.db.via.warp]\nx = 1\n"
        )),
        unknown("warp", 6)
    );
    // A route's own mistakes are found while reading it, with their line.
    assert_eq!(
        err(&format!(
            "{base}[endpoints.db.via.private_endpoint]\naddress = \"10.0.0.1\"\nprovider = 3\n"
        )),
        "endpoints.db.via.private_endpoint.provider: invalid type: integer `3`, expected a string (line 7)"
    );
    let e = err(&format!("{base}via = \"ssh\"\n"));
    assert!(
        e.starts_with("endpoints.db.via: invalid type: string \"ssh\""),
        "{e}"
    );

    let c = parse(&format!("{base}[endpoints.db.via.direct]\n")).unwrap();
    assert!(matches!(c.endpoints[0].route, Route::Direct));
    assert_eq!(
        err(&format!("{base}[endpoints.db.via.direct]\nx = 1\n")),
        "endpoints.db.via.direct.x: a direct route takes no settings"
    );

    // An inline table is the same table.
    let c = parse(&format!(
        "{base}via = {{ ssh = {{ host = \"b\", user = \"u\", password = {{ file = \"/dev/null\" }} }} }}\n"
    ))
    .unwrap();
    let Route::Ssh { route, .. } = &c.endpoints[0].route else {
        panic!("ssh route: {:?}", c.endpoints[0].route)
    };
    assert_eq!(route.hops[0].key_path, "endpoints.db.via.ssh");
}

#[test]
fn route_errors_carry_the_key_path_and_the_problem() {
    let e = JobConfig::parse(
        "connector = \"c.wasm\"\n[endpoints.db]\nhost = \"db\"\nport = 5432\n\
         [endpoints.db.via.reverse_ssh]\nrelay = \"relay\"\ntunnel = \"t\"\nuser = \"u\"\n",
        &std::env::temp_dir(),
        "t",
    )
    .unwrap_err();
    let crate::config::ConfigError::Key { key, problem } = &e else {
        panic!("a key error: {e:?}")
    };
    assert_eq!(key, "endpoints.db.via.reverse_ssh.relay");
    assert_eq!(
        problem,
        "\"relay\" is not HOST:PORT, e.g. \"relay.example.com:2222\""
    );
}
