//! Network peers for the end-to-end tests: small TCP and TLS servers on free
//! loopback ports, run on a runtime of their own so plain `#[test]`s can use
//! them while the `airlock` binary runs as a child process.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use airlock::demo::api::DemoCa;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The runtime the peers run on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("peer runtime")
    })
}

/// A server on a loopback port; stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves every accepted connection with `handle`.
pub fn serve<F, Fut>(handle: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = runtime();
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = rt.spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(s));
        }
    });
    Server {
        addr,
        accepted,
        task,
    }
}

/// Accepts connections and never reads or writes on them.
pub fn silent_server() -> Server {
    serve(|s| async move {
        let _held = s;
        std::future::pending::<()>().await
    })
}

/// Echoes every byte back.
pub fn echo_server() -> Server {
    serve(|mut s| async move {
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
}

/// Reads one line and answers `got N bytes`.
pub fn line_server() -> Server {
    serve(|s| async move {
        let mut s = BufReader::new(s);
        let mut line = Vec::new();
        if s.read_until(b'\n', &mut line).await.is_ok() {
            let answer = format!("got {} bytes\r\n", line.len());
            let _ = s.get_mut().write_all(answer.as_bytes()).await;
        }
    })
}

/// Sends `len` bytes and closes.
pub fn bulk_server(len: u64) -> Server {
    serve(move |mut s| async move {
        let chunk = vec![7u8; 256 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if s.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n as u64;
        }
        let _ = s.shutdown().await;
    })
}

/// A test CA, and a server certificate from it for `name`, written as PEM
/// files into `dir`: `ca.pem`, and the acceptor for the server.
pub fn tls_for(dir: &Path, ca: &DemoCa, name: &str) -> TlsAcceptor {
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).unwrap();
    let (chain, key) = ca.issue(name).expect("issue a test certificate");
    acceptor(&chain, &key)
}

/// Like [`tls_for`], but the server also requires a client certificate from `ca`.
pub fn mtls_for(ca: &DemoCa, name: &str) -> TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let (chain, key) = ca.issue(name).expect("issue a test certificate");
    let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn acceptor(chain_pem: &str, key_pem: &str) -> TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// HTTPS: answers any request with `200 OK` and `hello`.
pub fn https_server(tls: TlsAcceptor) -> Server {
    serve(move |s| {
        let tls = tls.clone();
        async move {
            let Ok(s) = tls.accept(s).await else { return };
            let mut s = BufReader::new(s);
            let mut line = String::new();
            // Read the request head up to the blank line.
            loop {
                line.clear();
                match s.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let _ = s
                .get_mut()
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                )
                .await;
            let _ = s.get_mut().shutdown().await;
        }
    })
}

/// A STARTTLS-style line protocol: `STARTTLS\r\n` → `GO\r\n`, then TLS, then
/// `PING\r\n` → `PONG\r\n`. Anything else before TLS is answered `NO\r\n`.
pub fn starttls_server(tls: TlsAcceptor) -> Server {
    serve(move |mut s| {
        let tls = tls.clone();
        async move {
            let mut first = [0u8; 10];
            if s.read_exact(&mut first).await.is_err() {
                return;
            }
            if &first != b"STARTTLS\r\n" {
                let _ = s.write_all(b"NO\r\n").await;
                return;
            }
            if s.write_all(b"GO\r\n").await.is_err() {
                return;
            }
            let Ok(s) = tls.accept(s).await else { return };
            let mut s = BufReader::new(s);
            let mut line = String::new();
            if s.read_line(&mut line).await.is_ok() && line == "PING\r\n" {
                let _ = s.get_mut().write_all(b"PONG\r\n").await;
                let _ = s.get_mut().flush().await;
            }
        }
    })
}

/// An egress policy file allowing loopback (the operator's setting the tests need).
pub fn loopback_policy(dir: &Path) -> String {
    let p = dir.join("egress.toml");
    std::fs::write(&p, "allow_loopback = true\n").unwrap();
    p.display().to_string()
}

/// `[[config.probes]]` tables for the `nettest` connector: (endpoint, action, extra lines).
pub fn probes(list: &[(&str, &str, &str)]) -> String {
    list.iter()
        .map(|(endpoint, action, extra)| {
            format!(
                "[[config.probes]]\nendpoint = \"{endpoint}\"\naction = \"{action}\"\n{extra}\n"
            )
        })
        .collect()
}

/// (endpoint, outcome, detail) of every probe `nettest` recorded, in order.
pub fn results(job: &super::Job) -> Vec<(String, String, String)> {
    job.query("SELECT endpoint, outcome, detail FROM probes ORDER BY i")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}
