//! A real OpenSSH `sshd` for the SSH tests: started as root on a free loopback
//! port (or on port 22 inside a network namespace) from a config, host keys and authorized_keys in its own temp dir, logging
//! to a file the tests read; killed on drop.

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The unprivileged user the tests log in as (created on first use).
pub const USER: &str = "airlock-test";
/// Its password, for the password-authentication test.
pub const PASSWORD: &str = "airlock-test-password";

/// A running sshd.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    /// Where it listens (127.0.0.1, or an address in its namespace).
    pub addr: IpAddr,
    pub port: u16,
    netns: Option<String>,
    child: Option<Child>,
    extra: String,
}

impl Sshd {
    /// Starts sshd with the defaults (ed25519 host key, publickey and password
    /// auth for [`USER`], TCP forwarding on) plus `extra` config lines.
    pub fn start(extra: &str) -> Sshd {
        Sshd::launch(None, IpAddr::V4(Ipv4Addr::LOCALHOST), free_port(), extra)
    }

    /// Like [`Sshd::start`], but inside the network namespace `netns`
    /// (`ip netns exec`), listening on `addr` port 22 — a bastion host on a
    /// network of its own. `addr` must be reachable from this namespace.
    pub fn start_in(netns: &str, addr: IpAddr, extra: &str) -> Sshd {
        Sshd::launch(Some(netns.to_owned()), addr, 22, extra)
    }

    fn launch(netns: Option<String>, addr: IpAddr, port: u16, extra: &str) -> Sshd {
        ensure_user();
        std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("ssh_host_ed25519_key");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key));
        std::fs::write(dir.path().join("authorized_keys"), "").unwrap();
        let mut sshd = Sshd {
            dir,
            addr,
            port,
            netns,
            child: None,
            extra: extra.to_owned(),
        };
        sshd.spawn();
        sshd
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let config = format!(
            // sshd takes the first value of a keyword, so the test's lines go first.
            "{extra}\nPort {port}\nListenAddress {addr}\nHostKey {d}/ssh_host_ed25519_key\n\
             PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin no\nAllowUsers {USER}\nLogLevel VERBOSE\nMaxStartups 200\n\
             AllowTcpForwarding yes\n",
            port = self.port,
            addr = self.addr,
            d = d.display(),
            extra = self.extra,
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        // `ip netns exec` execs sshd in place, so the child is sshd either way.
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "/usr/sbin/sshd"]);
                c
            }
            None => Command::new("/usr/sbin/sshd"),
        };
        let child = cmd
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start /usr/sbin/sshd (apt-get install openssh-server)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect((self.addr, self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sshd exited ({status}): {}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops sshd and every per-connection sshd it forked (and with them every
    /// session it carries), by process id.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let mut pids = descendants(c.id());
            pids.push(c.id());
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null()) // a child may have exited meanwhile
                    .status();
            }
            let _ = c.wait();
        }
    }

    /// Stops and starts sshd again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Adds a public key line to authorized_keys.
    pub fn authorize(&self, public_key_line: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .unwrap();
        writeln!(f, "{}", public_key_line.trim()).unwrap();
    }

    /// The host key's fingerprint as `ssh-keygen -lf` prints it.
    pub fn host_fingerprint(&self) -> String {
        let out = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.path().join("ssh_host_ed25519_key.pub")));
        out.split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_owned()
    }

    /// The host public key line (`ssh-ed25519 AAAA...`).
    pub fn host_public_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ssh_host_ed25519_key.pub")).unwrap()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    /// Everything sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// How many SSH sessions logged in (one per TCP connection that carried
    /// SSH; the harness's readiness probe never logs in).
    pub fn sessions(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.starts_with("Accepted ") && l.contains(&format!(" for {USER} from")))
            .count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command, panicking with its output if it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A customer's stock `ssh -N -R FORWARD` (e.g. `"15432:127.0.0.1:5432"`) to
/// `login@127.0.0.1:port`, with key `dir/key` and the server pinned in
/// `dir/known_hosts` — what the customer's DBA runs. stderr is piped.
pub fn reverse_tunnel(dir: &Path, key: &str, port: u16, forward: &str, login: &str) -> Command {
    let mut c = Command::new("ssh");
    c.args(["-F", "/dev/null", "-N", "-R", forward])
        .args(["-p", &port.to_string(), "-i"])
        .arg(dir.join(key))
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .args(["-o", "ExitOnForwardFailure=yes", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "ServerAliveInterval=5", "-o", "ConnectTimeout=5"])
        .arg(format!("{login}@127.0.0.1"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// A stock `ssh -N -L <free port>:<target>` to `USER@host:port` with the
/// private key at `key` (`extra`: more options, e.g. `["-c", cipher]`), up
/// and accepting when returned; killed on drop.
pub struct LocalForward {
    child: Child,
    /// The local port that forwards to the target.
    pub port: u16,
}

impl LocalForward {
    pub fn start(
        host: IpAddr,
        port: u16,
        key: &Path,
        target: &str,
        extra: &[&str],
    ) -> LocalForward {
        let local = free_port();
        let child = Command::new("ssh")
            .args(["-F", "/dev/null", "-N", "-L", &format!("{local}:{target}")])
            .args(["-p", &port.to_string(), "-i"])
            .arg(key)
            .args(extra)
            .args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "LogLevel=ERROR"])
            .arg(format!("{USER}@{host}"))
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh (OpenSSH client)");
        let mut fwd = LocalForward { child, port: local };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", local)).is_err() {
            if let Some(status) = fwd.child.try_wait().unwrap() {
                panic!("ssh -L {local}:{target} via {host}:{port} exited ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "ssh -L {local}:{target} did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fwd
    }

    /// The `ssh` process's id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client key made by `ssh-keygen` (`args` e.g. `["-t", "rsa", "-m", "PEM"]`)
/// with `passphrase` ("" for none): returns (private key text, public line).
pub fn ssh_keygen(dir: &Path, name: &str, args: &[&str], passphrase: &str) -> (String, String) {
    let path = dir.join(name);
    run(Command::new("ssh-keygen")
        .arg("-q")
        .args(args)
        .args(["-N", passphrase, "-C", name, "-f"])
        .arg(&path));
    let private = std::fs::read_to_string(&path).unwrap();
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", path.display())))
        .unwrap();
    (private, public)
}

/// Every process below `pid`, read from /proc (sshd's per-connection children
/// call setsid, so a process group would not catch them).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((child, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parents {
            if pp == p {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// A loopback port that was free a moment ago (for a peer to listen on).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Creates [`USER`] with [`PASSWORD`] once per process. sshd without PAM refuses
/// locked accounts even for public keys, so the password also unlocks it.
fn ensure_user() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let exists = Command::new("id")
            .arg(USER)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            // Another process (a bench, a second test run) may create it at the
            // same moment.
            let _ = Command::new("useradd")
                .args(["-m", "-s", "/bin/sh", USER])
                .status();
        }
        let hash = run(Command::new("openssl").args(["passwd", "-6", PASSWORD]));
        run(Command::new("usermod").args(["-p", hash.trim(), USER]));
    });
}
