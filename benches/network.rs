//! Network throughput, each run side by side with its reference:
//!
//! 1. **guest vs native**: bytes/s a connector (`tests/guests/nettest`,
//!    `bulk-read`) reads through its network handle, versus a native Rust
//!    program reading the same stream from the same kind of direct socket.
//! 2. **SSH tunnel vs OpenSSH**: 1 GiB through our SSH transport (russh, one
//!    `direct-tcpip` channel) versus `ssh -N -L` to the same sshd with the same
//!    cipher: MB/s, and CPU seconds per GiB on the client side (our whole process
//!    vs. the `ssh` process plus the reader that drains its forwarded port).
//!
//! The byte source is this same binary re-run as a separate process
//! (`--serve-bulk`), so its CPU is counted on neither side.
//!
//! Run: `cargo bench --bench network` (release). `AIRLOCK_BENCH_MIB` sets the
//! amount (default 1024); `AIRLOCK_BENCH_ONLY=guest|tunnel` runs one part.
//! Part 2 needs `sshd` and `ssh` (OpenSSH).

// The allocator the `airlock` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock::config::{HostKeyCheck, JobConfig, Secret, SshAuth, SshHop, SshRoute};
use airlock::job::{self, Progress, Runtime};
use airlock::net::EgressPolicy;
use airlock::net::transport::ssh::{FirstHopDialer, SshPool};
use airlock::sandbox::SandboxOptions;
use tokio::io::AsyncReadExt;

#[path = "../tests/all/harness/sshd.rs"]
#[allow(dead_code)]
mod sshd;

/// The cipher both sides use: AES-256-GCM, what airlock prefers.
const CIPHER: &str = "aes256-gcm@openssh.com";

const CHUNK: usize = 256 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-bulk") {
        serve_bulk(args[i + 1].parse().expect("byte count"));
        return;
    }
    let mib: u64 = std::env::var("AIRLOCK_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let bytes = mib << 20;
    println!("network benchmark: {mib} MiB per run");
    let only = std::env::var("AIRLOCK_BENCH_ONLY").unwrap_or_default();
    if only != "tunnel" {
        guest_vs_native(bytes);
    }
    if only != "guest" {
        tunnel_vs_openssh(bytes);
    }
}

/// CPU seconds (user + system) a process has used, from /proc (USER_HZ = 100).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tunnel_vs_openssh(bytes: u64) {
    let server = BulkServer::start(bytes);
    let sshd = sshd::Sshd::start(&format!("Ciphers {CIPHER}"));
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = sshd::ssh_keygen(dir.path(), "bench", &["-t", "ed25519"], "");
    sshd.authorize(&public);
    let gib = bytes as f64 / (1u64 << 30) as f64;

    // OpenSSH: `ssh -N -L` forwarding a local port to the bulk server.
    let forward = sshd::LocalForward::start(
        [127, 0, 0, 1].into(),
        sshd.port,
        &dir.path().join("bench"),
        &format!("127.0.0.1:{}", server.port),
        &["-c", CIPHER],
    );
    let lport = forward.port;
    let ssh_pid = forward.pid().to_string();

    // airlock: one direct-tcpip channel on a pooled session, read in-process.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = SshPool::new();
    let route = SshRoute {
        hops: vec![SshHop {
            host: "127.0.0.1".into(),
            port: sshd.port,
            user: sshd::USER.into(),
            auth: SshAuth::Key {
                key: Secret::new(private),
                passphrase: None,
            },
            host_key: HostKeyCheck::Pinned(vec![sshd.host_fingerprint()]),
            keepalive_interval: Duration::from_secs(15),
            keepalive_count: 3,
            key_path: "bench".into(),
        }],
    };
    let dial: Box<FirstHopDialer> = Box::new(|h: String, p: u16| {
        Box::pin(async move {
            tokio::net::TcpStream::connect((h.as_str(), p))
                .await
                .map_err(|e| airlock::net::NetError::unreachable(e.to_string()))
        })
    });

    let (mut o_mb, mut o_cpu, mut a_mb, mut a_cpu) = (vec![], vec![], vec![], vec![]);
    for round in 0..3 {
        // OpenSSH: the ssh process, plus this process reading its forwarded port.
        let (ssh0, me0) = (cpu_secs(&ssh_pid), cpu_secs("self"));
        let (n, secs) = native_read(SocketAddr::from(([127, 0, 0, 1], lport)));
        assert_eq!(n, bytes);
        let cpu = (cpu_secs(&ssh_pid) - ssh0) + (cpu_secs("self") - me0);
        o_mb.push(mb_s(bytes, secs));
        o_cpu.push(cpu / gib);

        // airlock: this whole process (the SSH client and the reader).
        let (n, secs, cpu) = rt.block_on(async {
            let (mut stream, _) = pool
                .open_direct_tcpip(
                    &route,
                    "127.0.0.1",
                    server.port,
                    airlock::net::Deadline::after(Duration::from_secs(10)),
                    &*dial,
                )
                .await
                .expect("open the channel");
            let me0 = cpu_secs("self");
            let started = Instant::now();
            let mut buf = vec![0u8; 64 * 1024];
            let mut n = 0u64;
            loop {
                match stream.read(&mut buf).await.unwrap() {
                    0 => break,
                    k => n += k as u64,
                }
            }
            (n, started.elapsed().as_secs_f64(), cpu_secs("self") - me0)
        });
        assert_eq!(n, bytes);
        a_mb.push(mb_s(bytes, secs));
        a_cpu.push(cpu / gib);
        println!(
            "  round {round}: OpenSSH {:>6.0} MB/s {:>5.2} CPU-s/GiB   airlock {:>6.0} MB/s {:>5.2} CPU-s/GiB",
            o_mb[round], o_cpu[round], a_mb[round], a_cpu[round]
        );
    }
    drop(forward);
    let (om, oc, am, ac) = (median(o_mb), median(o_cpu), median(a_mb), median(a_cpu));
    println!(
        "SSH tunnel ({CIPHER}, same sshd), median of 3:\n  OpenSSH ssh -N -L: {om:.0} MB/s, {oc:.2} CPU-s/GiB\n  airlock (russh):   {am:.0} MB/s, {ac:.2} CPU-s/GiB\n  throughput airlock/OpenSSH = {:.2}, CPU per GiB airlock/OpenSSH = {:.2}",
        am / om,
        ac / oc
    );
}

/// Serves `len` bytes to every connection on a loopback port it prints first.
fn serve_bulk(len: u64) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", l.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let chunk = vec![0x5au8; CHUNK];
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn({
            let chunk = chunk.clone();
            move || {
                let mut left = len;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    if s.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            }
        });
    }
}

/// A bulk server process; killed on drop.
struct BulkServer {
    child: Child,
    port: u16,
}

impl BulkServer {
    fn start(len: u64) -> BulkServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve-bulk", &len.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
            line.push(b[0] as char);
        }
        BulkServer {
            child,
            port: line.trim().parse().unwrap(),
        }
    }
}

impl Drop for BulkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `addr` to the end with a 64 KiB buffer; returns (bytes, seconds).
fn native_read(addr: SocketAddr) -> (u64, f64) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match s.read(&mut buf).unwrap() {
            0 => break,
            k => n += k as u64,
        }
    }
    (n, started.elapsed().as_secs_f64())
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn guest_vs_native(bytes: u64) {
    let server = BulkServer::start(bytes);
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let wasm =
        airlock::guest_build::build(&repo.join("tests/guests/nettest")).expect("build nettest");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "connector = {:?}\n[destination]\nduckdb = \"out.duckdb\"\n\
         [endpoints.bulk]\nhost = \"127.0.0.1\"\nport = {}\n\
         [[config.probes]]\nendpoint = \"bulk\"\naction = \"bulk-read\"\n",
        wasm.display().to_string(),
        server.port
    );
    let cfg = JobConfig::parse(&text, dir.path(), "bench").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let airlock = Runtime::new(
        &SandboxOptions {
            cache_dir: Some(dir.path().join("cache")),
            pooled_instances: None,
        },
        EgressPolicy::loopback_allowed(),
    )
    .unwrap();

    let mut rows = Vec::new();
    for round in 0..3 {
        let (n, native_secs) = native_read(addr);
        assert_eq!(n, bytes);
        // A fresh destination each round: the probe table's key would otherwise collide.
        let _ = std::fs::remove_file(dir.path().join("out.duckdb"));
        rt.block_on(job::sync(&airlock, &cfg, Arc::new(Progress::default())))
            .expect("guest sync");
        let db = duckdb::Connection::open(dir.path().join("out.duckdb")).unwrap();
        let detail: String = db
            .query_row("SELECT detail FROM probes", [], |r| r.get(0))
            .unwrap();
        drop(db);
        // "read N bytes in T ms"
        let parts: Vec<&str> = detail.split_whitespace().collect();
        let got: u64 = parts[1].parse().unwrap();
        let ms: f64 = parts[4].parse().unwrap();
        assert_eq!(got, bytes, "{detail}");
        let guest_secs = ms / 1000.0;
        rows.push((mb_s(bytes, native_secs), mb_s(bytes, guest_secs)));
        println!(
            "  round {round}: native {:>8.0} MB/s   guest {:>8.0} MB/s   ratio {:.2}",
            rows[round].0,
            rows[round].1,
            rows[round].1 / rows[round].0
        );
    }
    let native = median(rows.iter().map(|r| r.0).collect());
    let guest = median(rows.iter().map(|r| r.1).collect());
    println!(
        "guest handle vs native socket (direct, loopback), median of 3:\n  native {native:.0} MB/s, guest {guest:.0} MB/s, guest/native = {:.2}",
        guest / native
    );
}
