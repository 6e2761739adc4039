//! `airlock relay` end to end: the relay runs in-process on a free loopback
//! port, a real OpenSSH client opens the customer's reverse tunnel with
//! `ssh -N -R`, and the `airlock` binary runs the nettest connector through
//! `via.reverse_ssh` to an echo server behind that tunnel.

use crate::harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock::relay::{Relay, RelayConfig};
use harness::net::{self, Server, probes, results};
use harness::sshd::{free_port, ssh_keygen};
use harness::{Job, guest};

/// Tunnel ports: numbers in the relay's config, never sockets.
const ALPHA_PORT: u16 = 40001;
const BETA_PORT: u16 = 40002;
const GAMMA_PORT: u16 = 40003;

/// A relay config in a temp dir with tunnels alpha, beta and gamma (one
/// customer key each), a worker allowed alpha and gamma, and a stranger's key.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
    policy: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let public = |name: &str| ssh_keygen(d, name, &["-t", "ed25519"], "").1;
        let (alpha, beta, worker) = (public("cust_alpha"), public("cust_beta"), public("worker"));
        let gamma = public("cust_gamma");
        let _ = public("stranger");
        let port = free_port();
        let config = d.join("relay.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nhost_key = \"relay_host_key\"\n\n\
                 [[tunnels]]\nname = \"alpha\"\nport = {ALPHA_PORT}\ncustomer_keys = [\"{}\"]\n\n\
                 [[tunnels]]\nname = \"beta\"\nport = {BETA_PORT}\ncustomer_keys = [\"{}\"]\n\n\
                 [[tunnels]]\nname = \"gamma\"\nport = {GAMMA_PORT}\ncustomer_keys = [\"{}\"]\n\n\
                 [[workers]]\nkey = \"{}\"\ntunnels = [\"alpha\", \"gamma\"]\n",
                alpha.trim(),
                beta.trim(),
                gamma.trim(),
                worker.trim()
            ),
        )
        .unwrap();
        let policy = net::loopback_policy(d);
        Setup {
            dir,
            config,
            port,
            policy,
        }
    }

    fn start(&self) -> Relay {
        let config = RelayConfig::load(&self.config).expect("relay.toml");
        let relay = net::runtime()
            .block_on(Relay::start(config))
            .expect("start the relay");
        // What a customer does with the printed fingerprint: pin it.
        std::fs::write(
            self.dir.path().join("known_hosts"),
            format!("[127.0.0.1]:{} {}\n", self.port, relay.host_public_key()),
        )
        .unwrap();
        relay
    }

    /// The customer's command: `ssh -N -R PORT:127.0.0.1:TARGET` with key `key`.
    fn ssh(&self, key: &str, forward_port: u16, target: u16) -> Command {
        ssh_command(self.dir.path(), self.port, key, forward_port, target)
    }

    /// A job with endpoint `name` going through tunnel `name`, and `probes`.
    fn job(&self, relay: &Relay, tunnels: &[&str], probes: &str) -> Job {
        self.job_as("worker", relay, tunnels, probes)
    }

    /// [`Setup::job`] with the worker key `key`.
    fn job_as(&self, key: &str, relay: &Relay, tunnels: &[&str], probes: &str) -> Job {
        let key = self.dir.path().join(key).display().to_string();
        let mut body = String::new();
        for t in tunnels {
            body.push_str(&format!(
                "[endpoints.{t}]\nhost = \"db.internal\"\nport = 5432\nconnect_timeout_secs = 10\n\n\
                 [endpoints.{t}.via.reverse_ssh]\nrelay = \"127.0.0.1:{}\"\ntunnel = \"{t}\"\nuser = \"airlock\"\n\
                 private_key = {{ file = {key:?} }}\nhost_key = \"{}\"\n\n",
                self.port,
                relay.host_key_fingerprint()
            ));
        }
        body.push_str(probes);
        Job::new(&guest("tests/guests/nettest"), &body)
    }

    fn sync(&self, job: &Job) -> harness::Run {
        let config = job.config.display().to_string();
        harness::airlock_env(
            &["sync", "--config", &config],
            &[("AIRLOCK_EGRESS_POLICY", &self.policy)],
        )
    }
}

fn probe(endpoint: &str, action: &str, extra: &str) -> String {
    probes(&[(endpoint, action, extra)])
}

/// Waits until the relay reports `tunnel` up.
fn wait_up(relay: &Relay, tunnel: &str) {
    let start = Instant::now();
    while !relay.status().iter().any(|t| t.name == tunnel && t.up) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "tunnel {tunnel} did not come up: {:?}",
            relay.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A customer's `ssh -R` that stays connected; killed on drop.
struct Customer(Child);

impl Customer {
    fn start(setup: &Setup, key: &str, port: u16, target: &Server) -> Customer {
        Customer(
            setup
                .ssh(key, port, target.port())
                .spawn()
                .expect("run ssh"),
        )
    }
}

impl Drop for Customer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to its end (at most 20 s); returns (success, stderr).
fn run_to_end(mut cmd: Command) -> (bool, String) {
    let mut child = cmd.spawn().expect("run ssh");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.success(),
                String::from_utf8_lossy(&out.stderr).into(),
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("ssh kept running: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bytes_flow_end_to_end_through_the_customers_reverse_tunnel() {
    let setup = Setup::new();
    let relay = setup.start();
    // The host key was generated on first start, private to its owner.
    use std::os::unix::fs::PermissionsExt;
    let hk = setup.dir.path().join("relay_host_key");
    assert_eq!(
        std::fs::metadata(&hk).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let echo = net::echo_server();
    let _customer = Customer::start(&setup, "cust_alpha", ALPHA_PORT, &echo);
    wait_up(&relay, "alpha");

    let job = setup.job(
        &relay,
        &["alpha"],
        &[
            probe("alpha", "echo", "bytes = 1000000"),
            probe("alpha", "parallel-echo", "bytes = 10000\ncount = 8"),
        ]
        .concat(),
    );
    let run = setup.sync(&job).expect(0);
    let r = results(&job);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("ok", "echoed 1000000 bytes"),
        "{r:?}\n{}",
        run.stderr
    );
    assert_eq!(r[1].2, "8 connections echoed 80000 bytes", "{r:?}");
    assert_eq!(
        echo.accepted(),
        9,
        "every connection reached the database side"
    );

    // The status file next to relay.toml says the tunnel is up and what it carried.
    let status = setup.dir.path().join("relay.status.json");
    let start = Instant::now();
    loop {
        let doc: serde_json::Value = std::fs::read_to_string(&status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let alpha = &doc["tunnels"][0];
        if alpha["up"] == true && alpha["bytes"].as_u64().unwrap_or(0) >= 2_160_000 {
            assert_eq!(doc["host_key"], relay.host_key_fingerprint());
            assert_eq!(alpha["connections"], 9);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{doc:#}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // What the operator runs to see it: `airlock relay status`.
    let relay_config = setup.config.display().to_string();
    let shown = harness::airlock(&["relay", "status", "--config", &relay_config]).expect(0);
    assert!(
        shown.stdout.contains("tunnel \"alpha\": up for")
            && shown.stdout.contains("9 connections (0 open), 2.")
            && shown.stdout.contains("tunnel \"beta\": DOWN"),
        "{}",
        shown.stdout
    );

    // `check` names the relay hop, its pinned host key and the tunnel.
    let config = job.config.display().to_string();
    let check = harness::airlock_env(
        &["check", "--config", &config],
        &[("AIRLOCK_EGRESS_POLICY", &setup.policy)],
    )
    .expect(0);
    assert!(
        check.stdout.contains(relay.host_key_fingerprint())
            && check.stdout.contains("reverse tunnel \"alpha\""),
        "{}",
        check.stdout
    );
}

#[test]
fn customers_get_only_their_own_port_and_strangers_nothing() {
    let setup = Setup::new();
    let relay = setup.start();
    let echo = net::echo_server();

    // Alpha's key asking for beta's port: refused, and ssh gives up.
    let (ok, stderr) = run_to_end(setup.ssh("cust_alpha", BETA_PORT, echo.port()));
    assert!(!ok, "forwarding another tunnel's port must fail: {stderr}");
    assert!(stderr.contains("remote port forwarding failed"), "{stderr}");
    // A key the relay does not know: not even logged in.
    let (ok, stderr) = run_to_end(setup.ssh("stranger", ALPHA_PORT, echo.port()));
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    // A customer key gets no shell, no command and no `direct-tcpip` (-W).
    let customer = setup.ssh("cust_alpha", ALPHA_PORT, echo.port());
    let args: Vec<String> = customer
        .get_args()
        .filter(|a| *a != "-N")
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut exec = Command::new("ssh");
    exec.args(&args)
        .arg("true")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let (ok, stderr) = run_to_end(exec);
    assert!(!ok, "a command must be refused: {stderr}");
    assert!(stderr.contains("administratively prohibited"), "{stderr}");
    let mut jump = Command::new("ssh");
    jump.args(&args[..args.len() - 1])
        .args(["-W", &format!("127.0.0.1:{}", echo.port())])
        .arg(&args[args.len() - 1])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (ok, stderr) = run_to_end(jump);
    assert!(
        !ok,
        "direct-tcpip from a customer must be refused: {stderr}"
    );
    assert!(relay.status().iter().all(|t| !t.up), "{:?}", relay.status());
    assert_eq!(echo.accepted(), 0);
}

#[test]
fn a_client_trying_key_after_key_is_cut_off_after_six_slow_refusals() {
    let setup = Setup::new();
    let _relay = setup.start();
    let d = setup.dir.path();
    let args: Vec<String> = setup
        .ssh("stranger", ALPHA_PORT, 1)
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut ssh = Command::new("ssh");
    ssh.args(&args[..args.len() - 1]);
    for i in 0..8 {
        let name = format!("guess{i}");
        ssh_keygen(d, &name, &["-t", "ed25519"], "");
        ssh.arg("-i").arg(d.join(name));
    }
    ssh.arg(&args[args.len() - 1])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let (ok, stderr) = run_to_end(ssh);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("Too many authentication attempts"),
        "{stderr}"
    );
    // Each refusal after the first waits 500 ms, so guessing keys is slow.
    assert!(start.elapsed() >= Duration::from_secs(2), "{stderr}");
}

#[test]
fn a_worker_reaches_only_its_tunnels_and_is_told_why_not() {
    let setup = Setup::new();
    let relay = setup.start();
    let echo = net::echo_server();
    let _alpha = Customer::start(&setup, "cust_alpha", ALPHA_PORT, &echo);
    let _beta = Customer::start(&setup, "cust_beta", BETA_PORT, &echo);
    wait_up(&relay, "alpha");
    wait_up(&relay, "beta");

    let job = setup.job(
        &relay,
        &["alpha", "beta", "gamma"],
        &[
            probe("beta", "connect", ""),
            probe("gamma", "connect", ""),
            probe("alpha", "echo", "bytes = 1000"),
        ]
        .concat(),
    );
    setup.sync(&job).expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "denied", "{r:?}");
    assert!(
        r[0].2.contains("refused tunnel \"beta\"") && r[0].2.contains("[[workers]]"),
        "{r:?}"
    );
    assert_eq!(r[1].1, "unreachable", "{r:?}");
    assert!(r[1].2.contains("tunnel \"gamma\" is not up"), "{r:?}");
    assert_eq!(r[2].2, "echoed 1000 bytes", "{r:?}");
    assert_eq!(echo.accepted(), 1, "only alpha's connection got through");

    // A key the relay does not list under [[workers]] does not log in.
    let job = setup.job_as(
        "stranger",
        &relay,
        &["alpha"],
        &probe("alpha", "connect", ""),
    );
    setup.sync(&job).expect(0);
    let r = results(&job);
    assert_eq!(r[0].1, "denied", "{r:?}");
    assert!(r[0].2.contains("does not know this worker's key"), "{r:?}");
    assert_eq!(echo.accepted(), 1);
}

/// autossh-style: the customer re-runs `ssh -R` whenever it exits.
struct Autossh {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Option<Child>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Autossh {
    fn start(setup: &Setup, key: &str, port: u16, target: &Server) -> Autossh {
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<Child>>> = Arc::default();
        let make = {
            let (dir, relay_port) = (setup.dir.path().to_owned(), setup.port);
            let (key, target) = (key.to_owned(), target.port());
            move || {
                let mut c = ssh_command(&dir, relay_port, &key, port, target);
                c.stderr(Stdio::null());
                c
            }
        };
        let thread = {
            let (stop, current) = (stop.clone(), current.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(child) = make().spawn() {
                        *current.lock().unwrap() = Some(child);
                    }
                    loop {
                        let mut slot = current.lock().unwrap();
                        match slot.as_mut().map(|c| c.try_wait()) {
                            Some(Ok(None)) => {}
                            _ => break,
                        }
                        drop(slot);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        };
        Autossh {
            stop,
            current,
            thread: Some(thread),
        }
    }
}

/// The customer's `ssh -N -R FORWARD_PORT:127.0.0.1:TARGET` to the relay on
/// `relay_port`, with key `dir/key`, the relay pinned in `dir/known_hosts`.
fn ssh_command(dir: &Path, relay_port: u16, key: &str, forward_port: u16, target: u16) -> Command {
    harness::sshd::reverse_tunnel(
        dir,
        key,
        relay_port,
        &format!("{forward_port}:127.0.0.1:{target}"),
        "tunneluser",
    )
}

impl Drop for Autossh {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(mut c) = self.current.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut c) = self.current.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn the_next_sync_works_after_the_relay_restarts_and_the_customer_reconnects() {
    let setup = Setup::new();
    let relay = setup.start();
    let fingerprint = relay.host_key_fingerprint().to_owned();
    let echo = net::echo_server();
    let _autossh = Autossh::start(&setup, "cust_alpha", ALPHA_PORT, &echo);
    wait_up(&relay, "alpha");
    let job = setup.job(&relay, &["alpha"], &probe("alpha", "echo", "bytes = 10000"));
    setup.sync(&job).expect(0);
    assert_eq!(results(&job)[0].2, "echoed 10000 bytes");

    net::runtime().block_on(relay.stop());
    let relay = setup.start();
    assert_eq!(
        relay.host_key_fingerprint(),
        fingerprint,
        "the host key persists, so the customer's pin still holds"
    );
    wait_up(&relay, "alpha");
    let run = setup.sync(&job).expect(0);
    assert_eq!(
        results(&job)[0].2,
        "echoed 10000 bytes",
        "{:?}\n{}",
        results(&job),
        run.stderr
    );
}

/// autossh reconnecting while the relay still holds the old session (the
/// customer's network dropped without a FIN): the newest forward wins at once,
/// and the old session ending later does not take the tunnel down.
#[test]
fn a_reconnecting_customer_replaces_its_stale_session() {
    let setup = Setup::new();
    let relay = setup.start();
    let echo = net::echo_server();
    let customer = |r: &Relay| {
        r.status()
            .into_iter()
            .find(|t| t.name == "alpha")
            .and_then(|t| t.customer)
    };
    let first = Customer::start(&setup, "cust_alpha", ALPHA_PORT, &echo);
    wait_up(&relay, "alpha");
    let old = customer(&relay).expect("up");
    let _second = Customer::start(&setup, "cust_alpha", ALPHA_PORT, &echo);
    let start = Instant::now();
    while customer(&relay).as_ref() == Some(&old) {
        assert!(start.elapsed() < Duration::from_secs(15), "not replaced");
        std::thread::sleep(Duration::from_millis(50));
    }
    let new = customer(&relay).expect("still up");
    drop(first);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(customer(&relay), Some(new), "{:?}", relay.status());
    let job = setup.job(&relay, &["alpha"], &probe("alpha", "echo", "bytes = 1000"));
    setup.sync(&job).expect(0);
    assert_eq!(results(&job)[0].2, "echoed 1000 bytes");
}

/// A worker connection whose far side stops reading (the customer's database
/// is stuck) fills its buffers; once another connection on the same session
/// waits behind it for 5 s the relay closes it, rather than let it park the
/// worker's whole SSH session, so the worker's other connections, here to
/// another customer's tunnel, keep moving.
#[test]
fn a_stuck_connection_does_not_stall_the_workers_other_connections() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    let setup = Setup::new();
    let relay = setup.start();
    // Accepts and never reads.
    let stuck = net::silent_server();
    let echo = net::echo_server();
    let _alpha = Customer::start(&setup, "cust_alpha", ALPHA_PORT, &stuck);
    let _gamma = Customer::start(&setup, "cust_gamma", GAMMA_PORT, &echo);
    wait_up(&relay, "alpha");
    wait_up(&relay, "gamma");

    // The worker: a stock OpenSSH client, both forwards on one SSH session.
    let d = setup.dir.path();
    let (to_stuck, to_echo) = (free_port(), free_port());
    let mut worker = Customer(
        Command::new("ssh")
            .args(["-N", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                d.join("known_hosts").display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ExitOnForwardFailure=yes",
            ])
            .arg("-i")
            .arg(d.join("worker"))
            .args(["-p", &setup.port.to_string()])
            .args(["-L", &format!("{to_stuck}:alpha:1")])
            .args(["-L", &format!("{to_echo}:gamma:1")])
            .arg("airlock@127.0.0.1")
            .stderr(Stdio::null())
            .spawn()
            .expect("run ssh"),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", to_echo)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "ssh -L never listened"
        );
        assert!(worker.0.try_wait().unwrap().is_none(), "ssh -L exited");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Another connection on the worker's session, waiting for its next answer.
    let mut conn = TcpStream::connect(("127.0.0.1", to_echo)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = [0u8; 13];
    conn.write_all(b"first answer\n").unwrap();
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"first answer\n");

    // Push far more than every buffer on the way holds into the stuck side.
    let mut flood = TcpStream::connect(("127.0.0.1", to_stuck)).unwrap();
    let flooding = std::thread::spawn(move || {
        let chunk = vec![0x5a_u8; 1 << 20];
        for _ in 0..256 {
            if flood.write_all(&chunk).is_err() {
                return true;
            }
        }
        false
    });
    std::thread::sleep(Duration::from_secs(2));

    let asked = Instant::now();
    conn.write_all(b"still moving\n").unwrap();
    conn.read_exact(&mut got)
        .expect("the echo through the other tunnel answers while the stuck one is full");
    assert_eq!(&got, b"still moving\n");
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "the echo took {:?}",
        asked.elapsed()
    );
    assert!(
        flooding.join().unwrap(),
        "the relay closed the stuck connection instead of taking 256 MiB"
    );
    // ...all of it: its splice ended although its database never reads.
    let start = Instant::now();
    let open = |t: &str| {
        relay
            .status()
            .into_iter()
            .find(|s| s.name == t)
            .unwrap()
            .open
    };
    while open("alpha") > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the stuck connection is still spliced: {:?}",
            relay.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open("gamma"), 1, "the echo connection stays");
}
