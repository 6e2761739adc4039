//! Network namespaces for the private-network tests. Needs root (`ip netns`,
//! `ip link`). Names carry the process id and a counter, so tests of one binary
//! (and parallel runs) do not collide; every guard removes what it made.
//!
//! - [`Namespace`]: a namespace joined to this one by a veth pair — the shape
//!   of a cloud private endpoint in a VPC subnet (`10.77.x.2/30` for
//!   [`PrivateNet`]; a PostgreSQL server can run inside one too).
//! - [`PrivateNet`]: such a namespace with an echo server and an HTTPS server
//!   (python3) listening only inside it. This host reaches them only by
//!   routing to the peer address.
//! - [`Topology`]: a database namespace that only a bastion namespace can
//!   reach, for proving the direct path fails and the SSH tunnel works.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the echo server listens inside the namespace.
pub const ECHO_PORT: u16 = 7000;
/// Where the HTTPS server listens inside the namespace.
pub const HTTPS_PORT: u16 = 8443;

/// The servers: a threaded echo server and an HTTPS server that answers any
/// request `200 OK`. Every accepted connection is logged as a line to the
/// log file, so a test can prove a refused connection never arrived.
const SERVER: &str = r#"
import socketserver, ssl, sys, threading
addr, echo_port, tls_port, cert, key, log_path = sys.argv[1:7]
lock = threading.Lock()
def log(what):
    with lock, open(log_path, "a") as f:
        f.write(what + "\n")
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        log("echo")
        while True:
            d = self.request.recv(65536)
            if not d:
                return
            self.request.sendall(d)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
class Https(socketserver.BaseRequestHandler):
    def handle(self):
        log("https")
        try:
            s = ctx.wrap_socket(self.request, server_side=True)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    return
                buf += d
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            s.close()
        except (ssl.SSLError, OSError):
            return
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
e = Server((addr, int(echo_port)), Echo)
h = Server((addr, int(tls_port)), Https)
threading.Thread(target=h.serve_forever, daemon=True).start()
print("ready", flush=True)
e.serve_forever()
"#;

/// A namespace with the servers running; torn down on drop.
pub struct PrivateNet {
    /// The namespace and its link to this one.
    pub net: Namespace,
    /// The private endpoint's address, inside the namespace.
    pub peer_ip: Ipv4Addr,
    /// Holds `ca.pem` (to trust), the server's certificate and the access log.
    pub dir: tempfile::TempDir,
    server: Option<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run `ip` (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {} (these tests need root for network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh slot: `tag` is `<pid>-<n>` for names, `c` and `d` are the third
/// and fourth octet of a /30 that is this (process, call)'s alone, so
/// tests of one binary and parallel runs do not collide. A /16 holds 16384.
fn slot() -> Slot {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id() as usize;
    let slot = (pid * 16 + n) % 16384;
    Slot {
        tag: format!("{pid}-{n}"),
        c: (slot / 64) as u8,
        d: ((slot % 64) * 4) as u8,
    }
}

/// See [`slot`].
struct Slot {
    tag: String,
    c: u8,
    d: u8,
}

/// Joins namespace `a` (`None`: this one) and namespace `b` by a veth pair:
/// `a_if` with `a_ip/30` in `a`, `b_if` with `b_ip/30` in `b`; both up, and
/// `b`'s loopback up.
fn veth(a: Option<&str>, a_if: &str, a_ip: Ipv4Addr, b: &str, b_if: &str, b_ip: Ipv4Addr) {
    let in_ns = |ns: Option<&str>, args: &[&str]| match ns {
        Some(ns) => {
            let mut all = vec!["-n", ns];
            all.extend(args);
            ip(&all);
        }
        None => ip(args),
    };
    in_ns(
        a,
        &[
            "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b,
        ],
    );
    in_ns(a, &["addr", "add", &format!("{a_ip}/30"), "dev", a_if]);
    in_ns(a, &["link", "set", a_if, "up"]);
    in_ns(
        Some(b),
        &["addr", "add", &format!("{b_ip}/30"), "dev", b_if],
    );
    in_ns(Some(b), &["link", "set", b_if, "up"]);
    in_ns(Some(b), &["link", "set", "lo", "up"]);
}

/// A network namespace joined to this one by a veth pair: `10.<net>.x.1/30`
/// here, `10.<net>.x.2/30` inside, nothing else. Removed on drop.
pub struct Namespace {
    /// The namespace's name (`airlock-<kind>-<pid>-<n>`).
    pub name: String,
    /// The veth end in this namespace.
    pub host_if: String,
    /// This side's address.
    pub host_ip: Ipv4Addr,
    /// The address inside the namespace.
    pub peer_ip: Ipv4Addr,
}

impl Namespace {
    /// Creates `airlock-<kind>-…` in `10.<net>.0.0/16` (`kind`: two or three
    /// letters, it goes into interface names of at most 15 characters).
    pub fn create(kind: &str, net: u8) -> Namespace {
        Namespace::create_at(kind, net, &slot())
    }

    fn create_at(kind: &str, net: u8, slot: &Slot) -> Namespace {
        let Slot { tag, c, d } = slot;
        let (c, d) = (*c, *d);
        let short = tag.replace('-', "h");
        let ns = Namespace {
            name: format!("airlock-{kind}-{tag}"),
            host_if: format!("a{kind}{short}"),
            host_ip: Ipv4Addr::new(10, net, c, d + 1),
            peer_ip: Ipv4Addr::new(10, net, c, d + 2),
        };
        // The guard exists from here on, so a failing step still cleans up.
        ip(&["netns", "add", &ns.name]);
        let peer_if = format!("a{kind}{}", tag.replace('-', "p"));
        veth(
            None,
            &ns.host_if,
            ns.host_ip,
            &ns.name,
            &peer_if,
            ns.peer_ip,
        );
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace destroys the veth end inside it, and with it
        // the pair; the explicit delete covers a namespace that never got it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}

impl PrivateNet {
    /// Creates the namespace and veth pair and starts the servers with a
    /// certificate for `tls_name` issued by a fresh test CA (written to
    /// `dir/ca.pem`).
    pub fn start(tls_name: &str) -> PrivateNet {
        let ns = Namespace::create("pe", 77);
        let mut net = PrivateNet {
            peer_ip: ns.peer_ip,
            net: ns,
            dir: tempfile::tempdir().expect("temp dir"),
            server: None,
        };
        let ns = net.net.name.clone();

        let ca = airlock::demo::api::DemoCa::new().expect("test CA");
        let (chain, key) = ca.issue(tls_name).expect("issue a test certificate");
        let d = net.dir.path();
        std::fs::write(d.join("ca.pem"), &ca.ca_pem).unwrap();
        std::fs::write(d.join("server.pem"), chain).unwrap();
        std::fs::write(d.join("server.key"), key).unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", SERVER])
            .arg(net.peer_ip.to_string())
            .arg(ECHO_PORT.to_string())
            .arg(HTTPS_PORT.to_string())
            .arg(d.join("server.pem"))
            .arg(d.join("server.key"))
            .arg(d.join("access.log"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 in the namespace");
        let stdout = child.stdout.take().unwrap();
        net.server = Some(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the namespace's servers did not start"
        );
        net
    }

    /// `ca.pem`, for an endpoint's `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Connections the servers accepted so far (`echo` / `https` lines).
    pub fn accepted(&self) -> Vec<String> {
        read_lines(&self.dir.path().join("access.log"))
    }
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Drop for PrivateNet {
    fn drop(&mut self) {
        // The namespace goes after this, when the field `net` drops.
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// "The database lives in a network only the bastion reaches": namespace
/// BASTION joined to this one (`10.78.x.1` here, `10.78.x.2` in BASTION), and
/// namespace DB joined only to BASTION (`10.79.x.1` in BASTION, `10.79.x.2` in
/// DB). Nothing forwards between the links (a new namespace has forwarding
/// off), so DB is reached only by a process running in BASTION — an sshd
/// there, as on a real bastion host. This namespace routes the DB /30 as
/// `unreachable`, the answer a real network without a path gives, so a direct
/// connect fails at once instead of waiting out a timeout on the default route.
/// Removed on drop.
pub struct Topology {
    /// BASTION and its link to this namespace (`peer_ip`: the bastion's address).
    pub bastion: Namespace,
    /// The DB namespace's name.
    pub db_ns: String,
    /// BASTION's address on the DB link.
    pub bastion_db_ip: Ipv4Addr,
    /// The database host's address, inside DB.
    pub db_ip: Ipv4Addr,
    db_route: Option<String>,
}

impl Topology {
    /// Creates both namespaces and links.
    pub fn create() -> Topology {
        let slot = slot();
        let bastion = Namespace::create_at("bh", 78, &slot);
        // The same /30 position in 10.79/16 as the bastion link has in 10.78/16.
        let Slot { tag, c, d } = slot;
        let mut t = Topology {
            db_ns: format!("airlock-db-{tag}"),
            bastion_db_ip: Ipv4Addr::new(10, 79, c, d + 1),
            db_ip: Ipv4Addr::new(10, 79, c, d + 2),
            bastion,
            db_route: None,
        };
        ip(&["netns", "add", &t.db_ns]);
        let short = tag.replace('-', "h");
        veth(
            Some(&t.bastion.name),
            &format!("adb{short}"),
            t.bastion_db_ip,
            &t.db_ns,
            &format!("adb{}", tag.replace('-', "p")),
            t.db_ip,
        );
        let route = format!("10.79.{c}.{d}/30");
        ip(&["route", "add", "unreachable", &route]);
        t.db_route = Some(route);
        t
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some(route) = self.db_route.take() {
            let _ = Command::new("ip")
                .args(["route", "del", "unreachable", &route])
                .status();
        }
        // DB's end of its veth pair goes with DB, and the pair with it; BASTION
        // goes when the field `bastion` drops.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.db_ns])
            .status();
    }
}
