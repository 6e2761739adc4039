//! A private network for the private-endpoint tests: a network namespace
//! joined to this one by a veth pair (`10.77.x.1/30` here, `10.77.x.2/30`
//! inside), with an echo server and an HTTPS server (python3) listening only
//! inside it. This host reaches them only by routing to the peer address —
//! the shape of a cloud private endpoint in a VPC subnet.
//!
//! Needs root (`ip netns`, `ip link`). Names carry the process id and a
//! counter, so tests of one binary (and parallel runs) do not collide; the
//! guard removes the namespace and the veth pair when dropped.

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
    /// The namespace's name (`airlock-pe-<pid>-<n>`).
    pub ns: String,
    /// The veth end in this namespace.
    pub host_if: String,
    /// This side's address.
    pub host_ip: Ipv4Addr,
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

impl PrivateNet {
    /// Creates the namespace and veth pair and starts the servers with a
    /// certificate for `tls_name` issued by a fresh test CA (written to
    /// `dir/ca.pem`).
    pub fn start(tls_name: &str) -> PrivateNet {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() as usize;
        // One /30 per (process, test); 10.77.0.0/16 holds 16384 of them.
        let slot = (pid * 16 + n) % 16384;
        let (c, d) = ((slot / 64) as u8, ((slot % 64) * 4) as u8);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut net = PrivateNet {
            ns: format!("airlock-pe-{pid}-{n}"),
            host_if: format!("ape{pid}h{n}"),
            host_ip: Ipv4Addr::new(10, 77, c, d + 1),
            peer_ip: Ipv4Addr::new(10, 77, c, d + 2),
            dir,
            server: None,
        };
        // The guard exists from here on, so a failing step still cleans up.
        let peer_if = format!("ape{pid}p{n}");
        let ns = net.ns.clone();
        ip(&["netns", "add", &ns]);
        ip(&[
            "link",
            "add",
            &net.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", net.host_ip),
            "dev",
            &net.host_if,
        ]);
        ip(&["link", "set", &net.host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns,
            "ip",
            "addr",
            "add",
            &format!("{}/30", net.peer_ip),
            "dev",
            &peer_if,
        ]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", &peer_if, "up"]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);

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
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting the namespace destroys the veth end inside it, and with it
        // the pair; the explicit delete covers a namespace that never got it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}
