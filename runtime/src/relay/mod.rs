//! `airlock relay`: the embedded SSH server a customer's stock OpenSSH connects
//! to with `ssh -N -R PORT:db-host:5432 tunnel@relay -p 2222`, so reverse
//! tunnels need no intermediate VM.
//!
//! The customer's forward is not a listening socket: the relay remembers the
//! customer's session per tunnel (`registry`), and a worker (an airlock
//! runtime with a `via.reverse_ssh` endpoint) opens a `direct-tcpip` channel to
//! the tunnel's *name*; the relay opens a `forwarded-tcpip` channel over the
//! customer's session and splices the two (`server`). Who may do what comes
//! from `relay.toml` ([`config`]).
//!
//! Status: the running relay rewrites `relay.status.json` next to its config
//! (or `status_file`) every second, and logs each tunnel going up or down;
//! `airlock relay status` ([`status`]) shows it.

pub mod config;
mod counted;
mod registry;
mod server;
pub mod status;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::server::Server as _;
use tokio::net::TcpListener;

pub use config::{RelayConfig, Tunnel, Worker};
pub use registry::TunnelStatus;

use crate::config::Secret;

/// How often the status file is rewritten.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// A running relay. Dropping it (or [`Relay::shutdown`]) disconnects every
/// session and stops listening.
pub struct Relay {
    addr: SocketAddr,
    fingerprint: String,
    public_key: String,
    shared: Arc<server::Shared>,
    config: Arc<RelayConfig>,
    stop: russh::server::RunningServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Relay {
    /// Loads (or, on first start, generates with mode 0600) the host key,
    /// binds `config.listen` and serves in the background on the current tokio
    /// runtime. Returns once the relay accepts connections.
    pub async fn start(config: RelayConfig) -> Result<Relay, String> {
        let (host_key, created) = host_key(&config.host_key)?;
        let fingerprint = crate::ssh::fingerprint(host_key.public_key());
        if created {
            tracing::info!(
                "generated the relay host key {} ({fingerprint}); give this fingerprint to customers to pin",
                config.host_key.display()
            );
        }
        let public_key = host_key
            .public_key()
            .to_openssh()
            .map_err(|e| format!("encoding the host public key: {e}"))?;
        let ssh_config = Arc::new(russh::server::Config {
            server_id: russh::SshId::Standard(
                concat!("SSH-2.0-airlock_relay_", env!("CARGO_PKG_VERSION")).into(),
            ),
            methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
            keys: vec![host_key],
            // Same reply time for every refusal, and few tries per connection.
            auth_rejection_time: Duration::from_millis(500),
            auth_rejection_time_initial: Some(Duration::from_millis(10)),
            max_auth_attempts: 6,
            preferred: crate::ssh::tuning::server_preferred(),
            window_size: crate::ssh::tuning::WINDOW_SIZE,
            maximum_packet_size: crate::ssh::tuning::MAX_PACKET_SIZE,
            channel_buffer_size: crate::ssh::tuning::CHANNEL_QUEUE_MESSAGES,
            // A customer whose network dropped is noticed within ~45 s, so a
            // reconnecting autossh is not shadowed by a dead session for long.
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            inactivity_timeout: Some(Duration::from_secs(3600)),
            nodelay: true,
            ..Default::default()
        });
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("listen = \"{}\": cannot listen: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| format!("listen: {e}"))?;
        let shared = Arc::new(server::Shared::new(server::Rules::new(&config)));
        let mut srv = server::RelayServer {
            shared: shared.clone(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serve = tokio::spawn(async move {
            // The server borrows the listener, so both live in this task.
            let running = srv.run_on_socket(ssh_config, &listener);
            let _ = tx.send(running.handle());
            if let Err(e) = running.await {
                tracing::error!("the relay stopped accepting connections: {e}");
            }
        });
        let stop = rx
            .await
            .map_err(|_| "the relay's server task ended before it started".to_owned())?;
        let config = Arc::new(config);
        let mut relay = Relay {
            addr,
            fingerprint,
            public_key,
            shared,
            config,
            stop,
            tasks: vec![serve],
        };
        relay.tasks.push(relay.status_task());
        Ok(relay)
    }

    /// Where it listens (with the real port when `listen` said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The host key's fingerprint, `SHA256:...`, for customers to pin.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The host public key line (`ssh-ed25519 AAAA...`), for a customer's known_hosts.
    pub fn host_public_key(&self) -> &str {
        &self.public_key
    }

    /// The state of every configured tunnel.
    pub fn status(&self) -> Vec<TunnelStatus> {
        self.shared
            .registry
            .status(self.config.tunnels.iter().map(|t| t.name.as_str()))
    }

    /// Disconnects every session and stops listening.
    pub fn shutdown(&mut self) {
        self.stop.shutdown("the relay is shutting down".into());
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Like [`Relay::shutdown`], and returns once the listening socket is
    /// closed, so a new relay can bind the same address right away.
    pub async fn stop(mut self) {
        self.stop.shutdown("the relay is shutting down".into());
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }

    fn status_task(&self) -> tokio::task::JoinHandle<()> {
        let shared = self.shared.clone();
        let config = self.config.clone();
        let addr = self.addr;
        let fingerprint = self.fingerprint.clone();
        let started = unix_secs(SystemTime::now());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(STATUS_INTERVAL);
            loop {
                tick.tick().await;
                let tunnels = shared
                    .registry
                    .status(config.tunnels.iter().map(|t| t.name.as_str()));
                let doc = serde_json::json!({
                    "listen": addr.to_string(),
                    "host_key": fingerprint,
                    "started": started,
                    "updated": unix_secs(SystemTime::now()),
                    "tunnels": tunnels,
                });
                let tmp = config.status_file.with_extension("json.tmp");
                // Written aside and renamed, so a reader never sees half a file.
                let written = tokio::fs::write(&tmp, format!("{doc:#}\n")).await.is_ok()
                    && tokio::fs::rename(&tmp, &config.status_file).await.is_ok();
                if !written {
                    tracing::debug!(
                        "cannot write the status file {}",
                        config.status_file.display()
                    );
                }
            }
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Loads the host key at `path`, or generates an ed25519 one there (mode
/// 0600) if there is none. Returns the key and whether it was created.
fn host_key(path: &Path) -> Result<(PrivateKey, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => russh::keys::decode_secret_key(&text, None)
            .map(|k| (k, false))
            .map_err(|e| {
                format!(
                    "host_key: cannot read {}: {e}; the relay needs an unencrypted OpenSSH private key \
                     there (move the file away to have a new one generated, and give customers its \
                     fingerprint to pin)",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::ssh::keys::new_ed25519().map_err(|e| format!("host_key: {e}"))?;
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| format!("encoding the host key: {e}"))?;
            crate::ssh::write_private_key(path, &Secret::new(text.as_str()))
                .map_err(|e| format!("host_key: {e}"))?;
            Ok((key, true))
        }
        Err(e) => Err(format!("host_key: cannot read {}: {e}", path.display())),
    }
}

/// `airlock relay --config relay.toml`: starts the relay, prints its address
/// and host key fingerprint, and runs until the process is stopped.
pub async fn run(config_path: &Path) -> Result<(), String> {
    let config = RelayConfig::load(config_path)?;
    let status_file = config.status_file.clone();
    let tunnels: Vec<(String, u16)> = config
        .tunnels
        .iter()
        .map(|t| (t.name.clone(), t.port))
        .collect();
    let relay = Relay::start(config).await?;
    println!("airlock relay listening on {}", relay.local_addr());
    println!(
        "host key fingerprint: {} (customers pin it; known_hosts line: [HOST]:{} {})",
        relay.host_key_fingerprint(),
        relay.local_addr().port(),
        relay.host_public_key()
    );
    let port = relay.local_addr().port();
    for (name, tunnel_port) in &tunnels {
        println!(
            "tunnel \"{name}\": the customer runs `ssh -N -R {tunnel_port}:DB_HOST:DB_PORT -p {port} \
             -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 tunnel@RELAY_HOST` (or autossh -M 0 ...)"
        );
    }
    println!("status: {}", status_file.display());
    // Runs until the process is stopped (Ctrl-C / SIGTERM end it, and with
    // it every session); the relay keeps no state that needs saving.
    let _relay = relay;
    std::future::pending::<()>().await;
    Ok(())
}
