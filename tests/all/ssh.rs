//! The SSH client against a real OpenSSH sshd: key formats and auth methods,
//! host key pins, jump chains, one session for many connections, reconnecting
//! after the bastion restarts, a stalled connection beside a busy one, and
//! fetching a server's fingerprint. Each test asserts what a user would see.

use crate::harness;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::config::{HostKeyCheck, Secret, SshAuth, SshHop, SshRoute};
use airlock::net::transport::ssh::{FirstHopDialer, RouteInfo, SshPool, Verified};
use airlock::net::{NetError, NetErrorKind};
use airlock::ssh::SshStream;
use harness::sshd::{PASSWORD, Sshd, USER, run, ssh_keygen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(20);

// ---- targets the tunnel reaches -------------------------------------------

/// Echoes every byte back, on a free loopback port.
async fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

/// Reads a big-endian u64 N, then sends N bytes and closes.
async fn bulk_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut n = s.read_u64().await.unwrap_or(0);
                let chunk = vec![0x5a_u8; 64 * 1024];
                while n > 0 {
                    let k = n.min(chunk.len() as u64) as usize;
                    if s.write_all(&chunk[..k]).await.is_err() {
                        return;
                    }
                    n -= k as u64;
                }
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

async fn assert_echo(stream: &mut SshStream, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut back))
        .await
        .expect("echo in time")
        .unwrap();
    assert_eq!(back, msg);
}

// ---- routes ----------------------------------------------------------------

fn key_auth(private: &str, passphrase: Option<&str>) -> SshAuth {
    SshAuth::Key {
        key: Secret::new(private),
        passphrase: passphrase.map(Secret::new),
    }
}

fn hop(sshd: &Sshd, auth: SshAuth, host_key: HostKeyCheck) -> SshHop {
    SshHop {
        host: "127.0.0.1".into(),
        port: sshd.port,
        user: USER.into(),
        auth,
        host_key,
        keepalive_interval: Duration::from_secs(15),
        keepalive_count: 3,
        key_path: "endpoints.db.via.ssh".into(),
    }
}

fn pinned(sshd: &Sshd) -> HostKeyCheck {
    HostKeyCheck::Pinned(vec![sshd.host_fingerprint()])
}

/// The caller's first-hop dial: the egress policy of these tests allows only
/// `allowed_port` on loopback, so a hop dialed any other way would fail.
fn dialer(allowed_port: u16) -> Arc<FirstHopDialer> {
    Arc::new(move |host: String, port: u16| {
        Box::pin(async move {
            if port != allowed_port {
                return Err(NetError::denied(format!(
                    "policy: {host}:{port} not allowed"
                )));
            }
            tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| NetError::unreachable(format!("{host}:{port}: {e}")))
        })
    })
}

async fn open(
    pool: &SshPool,
    route: &SshRoute,
    target_port: u16,
) -> Result<(SshStream, RouteInfo), NetError> {
    let first = route.hops[0].port;
    pool.open_direct_tcpip(
        route,
        "127.0.0.1",
        target_port,
        airlock::net::Deadline::after(TIMEOUT),
        &*dialer(first),
    )
    .await
}

/// A key authorized on `sshd`: (private key text, public line).
fn authorized_key(sshd: &Sshd, dir: &Path, name: &str) -> String {
    let (private, public) = ssh_keygen(dir, name, &["-t", "ed25519"], "");
    sshd.authorize(&public);
    private
}

// ---- tests -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_type_and_format_authenticates() {
    let sshd = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    // (name, ssh-keygen args, the signature algorithm that must be used)
    let cases: &[(&str, &[&str], &str)] = &[
        ("ed25519-openssh", &["-t", "ed25519"], "ssh-ed25519"),
        (
            "ecdsa256-pem",
            &["-t", "ecdsa", "-b", "256", "-m", "PEM"],
            "ecdsa-sha2-nistp256",
        ),
        (
            "ecdsa384-pkcs8",
            &["-t", "ecdsa", "-b", "384", "-m", "PKCS8"],
            "ecdsa-sha2-nistp384",
        ),
        (
            "rsa-pem",
            &["-t", "rsa", "-b", "2048", "-m", "PEM"],
            "rsa-sha2-512",
        ),
        (
            "rsa-pkcs8",
            &["-t", "rsa", "-b", "2048", "-m", "PKCS8"],
            "rsa-sha2-512",
        ),
        (
            "rsa-rfc4716",
            &["-t", "rsa", "-b", "2048", "-m", "RFC4716"],
            "rsa-sha2-512",
        ),
    ];
    let mut keys: Vec<(String, String, &str)> = Vec::new();
    for (name, args, alg) in cases {
        let (private, public) = ssh_keygen(dir.path(), name, args, "");
        sshd.authorize(&public);
        keys.push((name.to_string(), private, alg));
    }
    // ed25519 as PKCS#8 (`openssl genpkey`; ssh-keygen writes ed25519 only as OpenSSH).
    let pkcs8 = dir.path().join("ed25519-pkcs8");
    run(std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&pkcs8));
    let private = std::fs::read_to_string(&pkcs8).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = airlock::ssh::load_client_key(&Secret::new(private.clone()), None, "t")
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
    sshd.authorize(&public);
    keys.push(("ed25519-pkcs8".into(), private, "ssh-ed25519"));

    let pool = SshPool::new();
    for (name, private, alg) in keys {
        let route = SshRoute {
            hops: vec![hop(&sshd, key_auth(&private, None), pinned(&sshd))],
        };
        let (mut s, info) = open(&pool, &route, echo)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_echo(&mut s, name.as_bytes()).await;
        let h = &info.hops[0];
        assert!(
            h.auth.starts_with(&format!("publickey ({alg} key SHA256:")),
            "{name}: {}",
            h.auth
        );
        assert_eq!(h.verified, Verified::Pinned);
        assert_eq!(h.host_key_fingerprint, sshd.host_fingerprint());
        assert!(h.cipher.contains("gcm"), "{name}: cipher {}", h.cipher);
        assert!(
            h.strict_kex,
            "{name}: strict kex must be on against OpenSSH 9.2 (Debian backport)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_keys_need_their_passphrase() {
    let sshd = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let pool = SshPool::new();
    let cases: &[(&str, &[&str])] = &[
        ("ed25519-openssh-enc", &["-t", "ed25519"]),
        ("rsa-pem-enc", &["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        (
            "ecdsa-pkcs8-enc",
            &["-t", "ecdsa", "-b", "256", "-m", "PKCS8"],
        ),
    ];
    for (name, args) in cases {
        let (private, public) = ssh_keygen(dir.path(), name, args, "s3cret pass");
        sshd.authorize(&public);
        let route = |pass: Option<&str>| SshRoute {
            hops: vec![hop(&sshd, key_auth(&private, pass), pinned(&sshd))],
        };
        let e = open(&pool, &route(None), echo).await.unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Denied);
        assert_eq!(
            e.message,
            "endpoints.db.via.ssh.private_key: the key is encrypted; set endpoints.db.via.ssh.passphrase = { env = \"...\" } (or { file = \"...\" })",
            "{name}"
        );
        let e = open(&pool, &route(Some("wrong")), echo).await.unwrap_err();
        assert!(
            e.message
                .contains("could not be decrypted; check endpoints.db.via.ssh.passphrase"),
            "{name}: {}",
            e.message
        );
        assert!(!e.message.contains("wrong") && !e.message.contains("PRIVATE KEY"));
        let (mut s, _) = open(&pool, &route(Some("s3cret pass")), echo)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_echo(&mut s, b"unlocked").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_and_wrong_credentials() {
    let sshd = Sshd::start("");
    let echo = echo_server().await;
    let pool = SshPool::new();
    let route = |auth| SshRoute {
        hops: vec![hop(&sshd, auth, pinned(&sshd))],
    };
    let (mut s, info) = open(
        &pool,
        &route(SshAuth::Password(Secret::new(PASSWORD))),
        echo,
    )
    .await
    .unwrap();
    assert_echo(&mut s, b"pw").await;
    assert_eq!(info.hops[0].auth, "password");
    assert_eq!(
        info.hops[0].target,
        format!("{USER}@127.0.0.1:{}", sshd.port)
    );

    let e = open(&pool, &route(SshAuth::Password(Secret::new("nope"))), echo)
        .await
        .unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Denied);
    assert!(
        e.message.starts_with(&format!(
            "SSH server 127.0.0.1:{} (endpoints.db.via.ssh) rejected password authentication as user \"{USER}\"; the server accepts: publickey, password",
        sshd.port)),
        "{}",
        e.message
    );

    // A key that is not in authorized_keys.
    let dir = tempfile::tempdir().unwrap();
    let (stranger, _) = ssh_keygen(dir.path(), "stranger", &["-t", "ed25519"], "");
    let e = open(&pool, &route(key_auth(&stranger, None)), echo)
        .await
        .unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Denied);
    assert!(
        e.message.contains(&format!(
            "127.0.0.1:{} (endpoints.db.via.ssh) rejected publickey (ssh-ed25519 key SHA256:",
            sshd.port
        )) && e.message.contains(&format!(
            "as user \"{USER}\"; the server accepts: publickey, password"
        )) && e.message.contains("authorized_keys"),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pin_shows_the_fingerprint_and_config_line() {
    let sshd = Sshd::start("");
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let route = SshRoute {
        hops: vec![hop(&sshd, key_auth(&key, None), HostKeyCheck::Missing)],
    };
    let e = open(&SshPool::new(), &route, 9).await.unwrap_err();
    let fp = sshd.host_fingerprint();
    assert_eq!(e.kind, NetErrorKind::Denied);
    assert!(
        e.message.contains(&format!(
            "presented a ssh-ed25519 host key with fingerprint {fp}"
        )),
        "{}",
        e.message
    );
    assert!(
        e.message.ends_with(&format!(
            "add under [endpoints.db.via.ssh]:\n    host_key = \"{fp}\""
        )),
        "{}",
        e.message
    );
    assert!(
        !sshd.log().contains("publickey for"),
        "no auth attempted: {}",
        sshd.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_is_refused_before_authenticating() {
    let sshd = Sshd::start("");
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let old = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string();
    let route = SshRoute {
        hops: vec![hop(
            &sshd,
            key_auth(&key, None),
            HostKeyCheck::Pinned(vec![old.clone()]),
        )],
    };
    let e = open(&SshPool::new(), &route, 9).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Denied);
    let fp = sshd.host_fingerprint();
    assert!(
        e.message
            .starts_with(&format!("HOST KEY MISMATCH for 127.0.0.1:{}", sshd.port)),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(&format!("expected {old}")),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains(&format!("presented a ssh-ed25519 key {fp}")),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("no credentials were sent"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(&format!("host_key = \"{fp}\"")),
        "{}",
        e.message
    );
    // The key *is* authorized, so any auth attempt would have shown up in the log.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = sshd.log();
    assert!(log.contains("Connection from 127.0.0.1"), "{log}");
    assert!(
        !log.contains("publickey for") && !log.contains("Accepted"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_hosts_file_is_honoured() {
    let sshd = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let known = dir.path().join("known_hosts");
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_public_key()),
    )
    .unwrap();
    // `ssh-keygen -H` hashes the names, as many distributions do by default.
    run(std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known));
    assert!(std::fs::read_to_string(&known).unwrap().starts_with("|1|"));
    let route = SshRoute {
        hops: vec![hop(
            &sshd,
            key_auth(&key, None),
            HostKeyCheck::KnownHosts(known.clone()),
        )],
    };
    let (mut s, info) = open(&SshPool::new(), &route, echo).await.unwrap();
    assert_echo(&mut s, b"known").await;
    assert_eq!(
        info.hops[0].verified,
        Verified::KnownHosts(known.display().to_string())
    );

    // A file that lists another key for this host: mismatch.
    let other = Sshd::start("");
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{} {}", sshd.port, other.host_public_key()),
    )
    .unwrap();
    let e = open(&SshPool::new(), &route, echo).await.unwrap_err();
    assert!(e.message.starts_with("HOST KEY MISMATCH"), "{}", e.message);
    assert!(
        e.message.contains(&other.host_fingerprint())
            && e.message.contains(&sshd.host_fingerprint())
    );
    assert!(e.message.contains("ssh-keygen -R"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hop_jump_chain() {
    // DEBUG1 makes the jump host log the forwarding it does for us.
    let jump = Sshd::start("LogLevel DEBUG1");
    let bastion = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let jump_key = authorized_key(&jump, dir.path(), "jump");
    let bastion_key = authorized_key(&bastion, dir.path(), "bastion");
    let mut first = hop(&jump, key_auth(&jump_key, None), pinned(&jump));
    first.key_path = "endpoints.db.via.ssh.jump[0]".into();
    // The bastion's name is resolved by the jump host, not by us.
    let mut second = hop(&bastion, key_auth(&bastion_key, None), pinned(&bastion));
    second.host = "localhost".into();
    let route = SshRoute {
        hops: vec![first, second],
    };
    // The dialer allows only the jump host: the bastion is reached through it.
    let (mut s, info) = open(&SshPool::new(), &route, echo).await.unwrap();
    assert_echo(&mut s, b"two hops").await;
    assert_eq!(info.hops.len(), 2);
    assert_eq!(
        info.hops[0].target,
        format!("{USER}@127.0.0.1:{}", jump.port)
    );
    assert_eq!(
        info.hops[1].target,
        format!("{USER}@localhost:{}", bastion.port)
    );
    assert_eq!(
        info.hops[1].host_key_fingerprint,
        bastion.host_fingerprint()
    );
    assert_eq!(info.first_hop_peer.unwrap().port(), jump.port);
    // Each hop authenticated with its own key, and the jump host forwarded to the bastion.
    assert!(jump.log().contains("Accepted publickey"), "{}", jump.log());
    assert!(
        bastion.log().contains("Accepted publickey"),
        "{}",
        bastion.log()
    );
    let forwarded = format!("target localhost port {}", bastion.port);
    assert!(jump.log().contains(&forwarded), "{}", jump.log());
    assert_eq!(jump.sessions(), 1);
    assert_eq!(bastion.sessions(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_connections_share_one_session() {
    let sshd = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let route = Arc::new(SshRoute {
        hops: vec![hop(&sshd, key_auth(&key, None), pinned(&sshd))],
    });
    let pool = SshPool::new();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (pool, route) = (pool.clone(), route.clone());
            tokio::spawn(async move {
                let (mut s, _) = open(&pool, &route, echo).await.unwrap();
                let msg = format!("connection {i}").repeat(100);
                assert_echo(&mut s, msg.as_bytes()).await;
                s
            })
        })
        .collect();
    let mut streams = Vec::new();
    for t in tasks {
        streams.push(t.await.unwrap());
    }
    assert_eq!(streams.len(), 50);
    assert_eq!(sshd.sessions(), 1, "{}", sshd.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_bastion_restarts() {
    let mut sshd = Sshd::start("");
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let route = SshRoute {
        hops: vec![hop(&sshd, key_auth(&key, None), pinned(&sshd))],
    };
    let pool = SshPool::new();
    let (mut s, _) = open(&pool, &route, echo).await.unwrap();
    assert_echo(&mut s, b"before").await;
    sshd.restart();
    // The old connection is gone with its session...
    let mut buf = [0u8; 1];
    let r = tokio::time::timeout(TIMEOUT, async {
        let _ = s.write_all(b"x").await;
        s.read(&mut buf).await
    })
    .await
    .expect("the dead connection ends");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    // ...and the next open makes a new one.
    let (mut s, _) = open(&pool, &route, echo).await.unwrap();
    assert_echo(&mut s, b"after").await;
    assert_eq!(sshd.sessions(), 2, "{}", sshd.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_does_not_stall_its_neighbour() {
    let sshd = Sshd::start("");
    let bulk = bulk_server().await;
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let route = SshRoute {
        hops: vec![hop(&sshd, key_auth(&key, None), pinned(&sshd))],
    };
    let pool = SshPool::new();
    let (mut stalled, _) = open(&pool, &route, bulk).await.unwrap();
    let (mut busy, _) = open(&pool, &route, bulk).await.unwrap();
    // The stalled one asks for far more than any buffer, reads a little, stops.
    stalled.write_u64(1 << 30).await.unwrap();
    let mut little = vec![0; 100 * 1024];
    stalled.read_exact(&mut little).await.unwrap();

    let started = Instant::now();
    const BUSY: u64 = 64 << 20;
    busy.write_u64(BUSY).await.unwrap();
    let mut got = 0u64;
    let mut buf = vec![0; 256 * 1024];
    tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            let n = busy.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n as u64;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the busy connection stalled after {got} bytes"));
    assert_eq!(got, BUSY);
    eprintln!(
        "64 MiB beside a stalled connection in {:?}",
        started.elapsed()
    );

    // The stalled reader finds what was buffered, then why it was closed.
    let mut total = little.len() as u64;
    let err = loop {
        match stalled.read(&mut buf).await {
            Ok(0) => panic!("expected an error after {total} bytes"),
            Ok(n) => total += n as u64,
            Err(e) => break e,
        }
    };
    assert!(total < 1 << 30);
    assert!(
        err.to_string().contains("nothing was read from it for 5 s"),
        "{err}"
    );

    // The session itself is fine: a new connection works.
    let (mut again, _) = open(&pool, &route, bulk).await.unwrap();
    again.write_u64(10).await.unwrap();
    let mut ten = Vec::new();
    again.read_to_end(&mut ten).await.unwrap();
    assert_eq!(ten.len(), 10);
    assert_eq!(sshd.sessions(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bastion_refusing_forwarding_or_target_down_is_explained() {
    let sshd = Sshd::start("AllowTcpForwarding no");
    let dir = tempfile::tempdir().unwrap();
    let key = authorized_key(&sshd, dir.path(), "k");
    let route = SshRoute {
        hops: vec![hop(&sshd, key_auth(&key, None), pinned(&sshd))],
    };
    let e = open(&SshPool::new(), &route, 5432).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Denied);
    assert!(
        e.message
            .contains("refused to open a connection to 127.0.0.1:5432"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("AllowTcpForwarding yes") && e.message.contains("PermitOpen"),
        "{}",
        e.message
    );

    let open_sshd = Sshd::start("");
    open_sshd.authorize(&std::fs::read_to_string(dir.path().join("k.pub")).unwrap());
    let route = SshRoute {
        hops: vec![hop(&open_sshd, key_auth(&key, None), pinned(&open_sshd))],
    };
    // Nothing listens on the target port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = open(&SshPool::new(), &route, closed).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Unreachable);
    assert!(
        e.message
            .contains(&format!("could not connect to 127.0.0.1:{closed}")),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_fetch_matches_ssh_keygen() {
    let sshd = Sshd::start("");
    let (kind, fp) = airlock::net::fetch_host_key("127.0.0.1", sshd.port, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(kind, "ssh-ed25519");
    assert_eq!(fp, sshd.host_fingerprint());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sshd.log().contains("Accepted"), "{}", sshd.log());

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = airlock::net::fetch_host_key("127.0.0.1", closed, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Unreachable);
    assert!(
        e.message.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        e.message
    );
}
