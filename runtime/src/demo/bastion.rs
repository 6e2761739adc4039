//! A small embedded SSH bastion for `airlock demo`: it lets one public key in,
//! and forwards `direct-tcpip` channels only to the names it was given — the
//! way a customer's sshd with `PermitOpen` would. It resolves those names
//! itself, standing in for the customer network's DNS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PublicKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, Server as _, Session, VerifiedPublicKey};
use russh::{Channel, ChannelOpenFailure};
use tokio::net::{TcpListener, TcpStream};

/// A running bastion; stops when dropped.
pub struct Bastion {
    addr: SocketAddr,
    fingerprint: String,
    task: tokio::task::JoinHandle<()>,
}

/// Who may log in, and where they may go.
#[derive(Clone)]
pub struct BastionRules {
    /// The user name to accept.
    pub user: String,
    /// The only client key accepted.
    pub client_key: PublicKey,
    /// `(host, port)` a client may ask for → the address actually dialed.
    pub forwards: HashMap<(String, u16), SocketAddr>,
}

impl Bastion {
    /// Starts a bastion on `addr` (port 0 picks a free one) with a fresh ed25519 host key.
    pub async fn start(addr: SocketAddr, rules: BastionRules) -> std::io::Result<Bastion> {
        let host_key = crate::ssh::keys::new_ed25519().map_err(std::io::Error::other)?;
        let fingerprint = crate::ssh::fingerprint(host_key.public_key());
        let config = Arc::new(russh::server::Config {
            keys: vec![host_key],
            auth_rejection_time: Duration::from_millis(300),
            inactivity_timeout: Some(Duration::from_secs(600)),
            max_auth_attempts: 3,
            nodelay: true,
            ..Default::default()
        });
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut server = DemoServer {
            rules: Arc::new(rules),
        };
        let task = tokio::spawn(async move {
            let _ = server.run_on_socket(config, &listener).await;
        });
        Ok(Bastion {
            addr,
            fingerprint,
            task,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its host key's fingerprint (`SHA256:...`), to pin.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl Drop for Bastion {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct DemoServer {
    rules: Arc<BastionRules>,
}

impl russh::server::Server for DemoServer {
    type Handler = Self;

    fn new_client(&mut self, _: Option<SocketAddr>) -> Self {
        self.clone()
    }
}

impl russh::server::Handler for DemoServer {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if user == self.rules.user && key.public_key.key_data() == self.rules.client_key.key_data()
        {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host: &str,
        port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let target = u16::try_from(port)
            .ok()
            .and_then(|p| self.rules.forwards.get(&(host.to_owned(), p)).copied());
        let Some(target) = target else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        let connect = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(target));
        match connect.await {
            Ok(Ok(mut tcp)) => {
                // Requests are small writes; without this, Nagle and delayed ACKs
                // add ~40 ms to every page the connector fetches.
                let _ = tcp.set_nodelay(true);
                reply.accept().await;
                tokio::spawn(async move {
                    let mut ch = channel.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut ch, &mut tcp).await;
                });
            }
            Ok(Err(_)) | Err(_) => reply.reject(ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }
}
