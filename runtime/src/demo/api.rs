//! A sample HTTPS JSON API of customers, for `airlock demo` and for tests of
//! connectors that page through an API (`guest-examples/rest-api`).
//!
//! It is a real server on a real socket with real TLS: [`DemoCa`] makes a
//! throwaway CA and issues the server a certificate for the name clients will
//! verify, and [`ApiServer`] serves HTTP/1.1 with keep-alive on a given address.
//!
//! # The API
//!
//! `GET {path}?updated_since=<µs>&limit=<n>&cursor=<opaque>` (path by default
//! `/v1/customers`) answers `200` with
//!
//! ```json
//! {"data": [{"id": 1, "name": "Customer 1", "email": "customer1@example.com",
//!            "plan": "pro", "amount": "79.19", "updated_at": "2026-01-01T00:00:00Z"}],
//!  "next_cursor": "1767225600000000_3"}
//! ```
//!
//! - Rows come in `(updated_at, id)` order. `next_cursor` is `null` on the last page;
//!   otherwise pass it back as `cursor` (with the same `updated_since`) for the next.
//!   Cursors are opaque to clients and stay valid while rows are touched: a row
//!   touched during paging moves to the end and is returned again there.
//! - `updated_since`: microseconds since the Unix epoch (an integer, so no time
//!   zone or URL-encoding questions); only rows with `updated_at >= updated_since`.
//!   Inclusive, because several rows share a timestamp (ids in groups of
//!   [`TIE_GROUP`]): a client resuming from its last seen `updated_at` gets the
//!   rest of that group again and skips the `(updated_at, id)` it already has.
//!   Absent: all rows.
//! - `limit`: 1..=`max_page_size` (default 100).
//! - `updated_at` is RFC 3339 UTC, `.ffffff` only when there is a fraction (touched
//!   rows have one). `email` is `null` for every 17th id. `amount` is a decimal
//!   string with two places.
//! - With a token configured, requests need `Authorization: Bearer <token>`,
//!   else `401` with `WWW-Authenticate: Bearer`.
//! - Errors are JSON `{"error": "..."}`: `400` for a bad or unknown query
//!   parameter or a malformed request, `404` for another path, `405` for another
//!   method, `431` for a request head over the size limit. [`ApiServer::fail_next`]
//!   injects a status (with a non-JSON body) for the next request.
//! - Responses carry `Content-Length`, or `Transfer-Encoding: chunked` when
//!   [`ApiOptions::chunked`] is set. Connections stay open (HTTP/1.1 keep-alive)
//!   until the client sends `Connection: close`, goes idle for
//!   [`ApiOptions::timeout`], or sends something unparseable.

mod ca;
mod data;
mod http;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

pub use ca::DemoCa;
pub use data::{BASE_UPDATED_AT, Customer, TIE_GROUP, rfc3339};

use data::{Customers, Position};
use http::{ReadError, Request, Response};

/// Connections served at once; more are closed on accept, so a flood of idle
/// clients cannot pile up tasks and buffers.
const MAX_CONNECTIONS: usize = 256;

/// How the demo API behaves.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// How many customers there are (ids `1..=customers`).
    pub customers: u64,
    /// The collection's path.
    pub path: String,
    /// If set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Send bodies with chunked transfer coding instead of `Content-Length`.
    pub chunked: bool,
    /// The largest page a client may ask for.
    pub max_page_size: usize,
    /// The largest request head (request line and headers) accepted, in bytes.
    pub max_request_bytes: usize,
    /// Per connection: the most time the TLS handshake, waiting for and reading
    /// one request head, or writing one response may take. An idle keep-alive
    /// connection is closed after it.
    pub timeout: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            customers: 1000,
            path: "/v1/customers".into(),
            token: None,
            chunked: false,
            max_page_size: 1000,
            max_request_bytes: 16 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the connection tasks share.
struct Shared {
    opts: ApiOptions,
    customers: Mutex<Customers>,
    failures: Mutex<VecDeque<u16>>,
    requests: AtomicU64,
    connections: AtomicU64,
}

/// A running demo API. Dropping it stops the server and closes its connections.
pub struct ApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Listens on `addr` (port 0 picks a free one) and serves in the background
    /// on the current tokio runtime. With `tls` (`(certificate chain PEM, key PEM)`,
    /// e.g. from [`DemoCa::issue`]) it speaks HTTPS only, else plain HTTP.
    ///
    /// It is meant for loopback or a test network: it has no access control
    /// beyond the optional token.
    pub async fn start(
        addr: SocketAddr,
        tls: Option<(String, String)>,
        opts: ApiOptions,
    ) -> io::Result<ApiServer> {
        let acceptor = tls
            .map(|(chain, key)| tls_acceptor(&chain, &key))
            .transpose()?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            customers: Mutex::new(Customers::new(opts.customers)),
            opts,
            failures: Mutex::new(VecDeque::new()),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&shared)));
        Ok(ApiServer { addr, shared, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Gives these customers new contents and one new `updated_at`, later than
    /// every other row's, so an incremental sync must pick up exactly them.
    /// Returns that `updated_at` (µs since the epoch). Unknown ids are ignored.
    pub fn touch(&self, ids: impl IntoIterator<Item = u64>) -> i64 {
        self.customers().touch(ids)
    }

    /// The customer with this id as the API returns it now, to check what a
    /// sync wrote.
    pub fn customer(&self, id: u64) -> Option<Customer> {
        self.customers().get(id)
    }

    /// Answers the next request (any path) with `status` and a plain-text body,
    /// before auth and routing; calls queue up. With `200` this gives a client a
    /// successful response that is not JSON.
    pub fn fail_next(&self, status: u16) {
        self.shared
            .failures
            .lock()
            .expect("failure queue lock")
            .push_back(status);
    }

    /// Requests answered so far (every status).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Connections accepted so far: with keep-alive, a paging client needs one.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    fn customers(&self) -> std::sync::MutexGuard<'_, Customers> {
        self.shared.customers.lock().expect("customers lock")
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A rustls server config from PEM, with the ring provider (the one the rest
/// of airlock uses) and HTTP/1.1 ALPN.
fn tls_acceptor(chain_pem: &str, key_pem: &str) -> io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("server certificate chain PEM", &e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| invalid("server key PEM", &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid("TLS versions", &e))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| invalid("server certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if conns.len() >= MAX_CONNECTIONS {
                    continue; // dropping `tcp` closes it
                }
                shared.connections.fetch_add(1, Ordering::Relaxed);
                conns.spawn(connection(tcp, tls.clone(), Arc::clone(&shared)));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn connection(tcp: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    match tls {
        None => serve(tcp, &shared).await,
        Some(acceptor) => match timeout(shared.opts.timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve(stream, &shared).await,
            Ok(Err(e)) => tracing::debug!("demo API: TLS handshake failed: {e}"),
            Err(_) => tracing::debug!("demo API: TLS handshake timed out"),
        },
    }
}

/// Answers requests on one connection until it closes, idles out or breaks.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: &Shared) {
    let opts = &shared.opts;
    let mut buf = Vec::new();
    loop {
        let read = http::read_request(&mut stream, &mut buf, opts.max_request_bytes);
        let (resp, keep_alive) = match timeout(opts.timeout, read).await {
            Ok(Err(ReadError::Gone)) => return,
            Err(_) => {
                // Idle too long: close cleanly (TLS close_notify), as real servers do,
                // so clients see an orderly end rather than a truncation.
                let _ = timeout(opts.timeout, stream.shutdown()).await;
                return;
            }
            Ok(Err(ReadError::TooLarge)) => (
                Response::error(
                    431,
                    &format!("request head over {} bytes", opts.max_request_bytes),
                ),
                false,
            ),
            Ok(Err(ReadError::Bad(message))) => (Response::error(400, &message), false),
            Ok(Ok(req)) => (respond(shared, &req), req.keep_alive),
        };
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let write = http::write_response(&mut stream, &resp, opts.chunked, keep_alive);
        if !matches!(timeout(opts.timeout, write).await, Ok(Ok(()))) || !keep_alive {
            // Best effort: a TLS close_notify, then the socket goes with `stream`.
            let _ = timeout(opts.timeout, stream.shutdown()).await;
            return;
        }
    }
}

/// The API itself: one request in, one response out.
fn respond(shared: &Shared, req: &Request) -> Response {
    let opts = &shared.opts;
    let injected = shared
        .failures
        .lock()
        .expect("failure queue lock")
        .pop_front();
    if let Some(status) = injected {
        return Response {
            status,
            content_type: "text/plain",
            headers: Vec::new(),
            body: format!("injected failure {status}\n").into_bytes(),
        };
    }
    if req.path != opts.path {
        return Response::error(404, &format!("no such path: {}", req.path));
    }
    if req.method != "GET" {
        let mut resp = Response::error(405, &format!("{} is not allowed here", req.method));
        resp.headers.push(("Allow", "GET".into()));
        return resp;
    }
    if let Some(token) = &opts.token {
        let given = req
            .authorization
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "));
        let (ok, challenge) = match given {
            None => (false, "Bearer realm=\"airlock-demo\"".to_owned()),
            Some(given) => (
                constant_time_eq(given.as_bytes(), token.as_bytes()),
                "Bearer realm=\"airlock-demo\", error=\"invalid_token\"".to_owned(),
            ),
        };
        if !ok {
            let mut resp = Response::error(401, "missing or wrong bearer token");
            resp.headers.push(("WWW-Authenticate", challenge));
            return resp;
        }
    }
    let query = match PageQuery::parse(req, opts.max_page_size) {
        Ok(q) => q,
        Err(message) => return Response::error(400, &message),
    };
    let (rows, next) = shared.customers.lock().expect("customers lock").page(
        query.since,
        query.after,
        query.limit,
    );
    let data: Vec<serde_json::Value> = rows.iter().map(Customer::to_json).collect();
    Response::json(
        200,
        &serde_json::json!({
            "data": data,
            "next_cursor": next.map(encode_cursor),
        }),
    )
}

/// The query parameters of a page request, checked.
struct PageQuery {
    since: i64,
    after: Option<Position>,
    limit: usize,
}

impl PageQuery {
    fn parse(req: &Request, max_limit: usize) -> Result<PageQuery, String> {
        let mut q = PageQuery {
            since: i64::MIN,
            after: None,
            limit: 100.min(max_limit),
        };
        for (name, value) in &req.query {
            match name.as_str() {
                "updated_since" => {
                    q.since = value.parse().map_err(|_| {
                        format!(
                            "`updated_since` must be microseconds since the Unix epoch, not `{value}`"
                        )
                    })?;
                }
                "limit" => {
                    q.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=max_limit).contains(n))
                        .ok_or_else(|| format!("`limit` must be 1..={max_limit}, not `{value}`"))?;
                }
                "cursor" => {
                    q.after = Some(
                        decode_cursor(value)
                            .ok_or_else(|| format!("`cursor` `{value}` is not one we gave out"))?,
                    );
                }
                other => return Err(format!("unknown query parameter `{other}`")),
            }
        }
        Ok(q)
    }
}

/// Cursors are `<updated_at µs>_<id>`: URL-safe as they are. Clients must not
/// rely on the format.
fn encode_cursor((at, id): Position) -> String {
    format!("{at}_{id}")
}

fn decode_cursor(s: &str) -> Option<Position> {
    let (at, id) = s.split_once('_')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// Compares without an early exit, so response timing does not tell how much
/// of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use tokio::io::AsyncReadExt;
    use tokio_rustls::TlsConnector;

    const NAME: &str = "api.demo.test";

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    async fn tls_client(
        server: &ApiServer,
        ca_pem: &str,
        name: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(server.local_addr()).await?;
        let name = ServerName::try_from(name.to_owned()).unwrap();
        TlsConnector::from(client_config(ca_pem))
            .connect(name, tcp)
            .await
    }

    /// Sends a GET and reads one response off a keep-alive connection:
    /// `(status, headers, body)`, decoding either body framing.
    async fn get<S: AsyncRead + AsyncWrite + Unpin>(
        stream: &mut S,
        target: &str,
        extra_headers: &str,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let req = format!("GET {target} HTTP/1.1\r\nHost: {NAME}\r\n{extra_headers}\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let (status, headers, head_len) = loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before a response head");
            buf.extend_from_slice(&chunk[..n]);
            let mut hs = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut hs);
            if let httparse::Status::Complete(len) = resp.parse(&buf).unwrap() {
                let headers = resp
                    .headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8(h.value.to_vec()).unwrap();
                        (h.name.to_ascii_lowercase(), value)
                    })
                    .collect::<Vec<_>>();
                break (resp.code.unwrap(), headers, len);
            }
        };
        let mut rest = buf.split_off(head_len);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let body = if header("transfer-encoding").as_deref() == Some("chunked") {
            while !rest.ends_with(b"0\r\n\r\n") {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                rest.extend_from_slice(&chunk[..n]);
            }
            dechunk(&rest)
        } else {
            let len: usize = header("content-length").unwrap().parse().unwrap();
            while rest.len() < len {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                rest.extend_from_slice(&chunk[..n]);
            }
            rest
        };
        (status, headers, body)
    }

    fn dechunk(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap(), 16).unwrap();
            data = &data[line_end + 2..];
            if size == 0 {
                return out;
            }
            out.extend_from_slice(&data[..size]);
            data = &data[size + 2..];
        }
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
    }

    fn ids(page: &serde_json::Value) -> Vec<u64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    }

    async fn https_server(opts: ApiOptions) -> (DemoCa, ApiServer) {
        let ca = DemoCa::new().unwrap();
        let tls = ca.issue(NAME).unwrap();
        let server = ApiServer::start(loopback(), Some(tls), opts).await.unwrap();
        (ca, server)
    }

    #[tokio::test]
    async fn https_pages_through_everything_on_one_connection() {
        let opts = ApiOptions {
            customers: 7,
            ..ApiOptions::default()
        };
        let (ca, server) = https_server(opts).await;
        let mut conn = tls_client(&server, &ca.ca_pem, NAME).await.unwrap();
        assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

        let (status, _, body) = get(&mut conn, "/v1/customers?limit=3", "").await;
        assert_eq!(status, 200);
        let first = json(&body);
        assert_eq!(ids(&first), [1, 2, 3]);
        assert_eq!(
            first["data"][0],
            serde_json::json!({
                "id": 1, "name": "Customer 1", "email": "customer1@example.com",
                "plan": "pro", "amount": "79.19", "updated_at": "2026-01-01T00:00:00Z",
            })
        );

        let mut seen = ids(&first);
        let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
        loop {
            let (status, _, body) = get(
                &mut conn,
                &format!("/v1/customers?limit=3&cursor={cursor}"),
                "",
            )
            .await;
            assert_eq!(status, 200);
            let page = json(&body);
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, (1..=7).collect::<Vec<_>>());
        assert_eq!(
            server.connections(),
            1,
            "keep-alive: one connection for every page"
        );
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn a_certificate_for_another_name_fails_verification() {
        let (ca, server) = https_server(ApiOptions::default()).await;
        let err = tls_client(&server, &ca.ca_pem, "other.demo.test")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[tokio::test]
    async fn another_ca_fails_verification() {
        let (_ca, server) = https_server(ApiOptions::default()).await;
        let stranger = DemoCa::new().unwrap();
        let err = tls_client(&server, &stranger.ca_pem, NAME)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[tokio::test]
    async fn incremental_from_a_touch_returns_exactly_the_touched_rows() {
        let opts = ApiOptions {
            customers: 30,
            ..ApiOptions::default()
        };
        let (ca, server) = https_server(opts).await;
        let mut conn = tls_client(&server, &ca.ca_pem, NAME).await.unwrap();
        let at = server.touch([5, 12, 999]);
        let (status, _, body) =
            get(&mut conn, &format!("/v1/customers?updated_since={at}"), "").await;
        assert_eq!(status, 200);
        let page = json(&body);
        assert_eq!(ids(&page), [5, 12]);
        assert_eq!(page["next_cursor"], serde_json::Value::Null);
        assert_eq!(page["data"][0]["updated_at"], rfc3339(at));
        assert!(
            page["data"][0]["updated_at"]
                .as_str()
                .unwrap()
                .contains('.')
        );
        assert_eq!(page["data"][1], server.customer(12).unwrap().to_json());
        assert_eq!(server.customer(12).unwrap().name, "Customer 12 (rev 1)");
    }

    #[tokio::test]
    async fn bearer_token_is_required_when_configured() {
        let opts = ApiOptions {
            token: Some("s3cret".into()),
            ..ApiOptions::default()
        };
        let (ca, server) = https_server(opts).await;
        let mut conn = tls_client(&server, &ca.ca_pem, NAME).await.unwrap();
        let (status, headers, _) = get(&mut conn, "/v1/customers", "").await;
        assert_eq!(status, 401);
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer"))
        );
        let (status, _, _) =
            get(&mut conn, "/v1/customers", "Authorization: Bearer nope\r\n").await;
        assert_eq!(status, 401);
        let (status, _, body) = get(
            &mut conn,
            "/v1/customers?limit=1",
            "Authorization: Bearer s3cret\r\n",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(ids(&json(&body)), [1]);
    }

    #[tokio::test]
    async fn plain_http_chunked_errors_and_injected_failures() {
        let opts = ApiOptions {
            customers: 500,
            chunked: true,
            ..ApiOptions::default()
        };
        let server = ApiServer::start(loopback(), None, opts).await.unwrap();
        let mut conn = TcpStream::connect(server.local_addr()).await.unwrap();

        let (status, headers, body) = get(&mut conn, "/v1/customers?limit=200", "").await;
        assert_eq!(status, 200);
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
        );
        assert_eq!(ids(&json(&body)).len(), 200);

        let (status, _, body) = get(&mut conn, "/v2/other", "").await;
        assert_eq!(status, 404);
        assert_eq!(json(&body)["error"], "no such path: /v2/other");
        let (status, _, _) = get(&mut conn, "/v1/customers?limit=0", "").await;
        assert_eq!(status, 400);
        let (status, _, _) = get(&mut conn, "/v1/customers?since=1", "").await;
        assert_eq!(status, 400);
        let (status, _, _) = get(&mut conn, "/v1/customers?cursor=xyz", "").await;
        assert_eq!(status, 400);

        server.fail_next(503);
        server.fail_next(200);
        let (status, _, _) = get(&mut conn, "/v1/customers", "").await;
        assert_eq!(status, 503);
        let (status, headers, body) = get(&mut conn, "/v1/customers", "").await;
        assert_eq!(status, 200);
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "content-type" && v == "text/plain")
        );
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
        assert_eq!(server.connections(), 1);
    }

    #[tokio::test]
    async fn oversized_request_gets_431_and_a_close() {
        let opts = ApiOptions {
            max_request_bytes: 512,
            ..ApiOptions::default()
        };
        let server = ApiServer::start(loopback(), None, opts).await.unwrap();
        let mut conn = TcpStream::connect(server.local_addr()).await.unwrap();
        let big = format!("X-Filler: {}\r\n", "a".repeat(1000));
        let (status, headers, _) = get(&mut conn, "/v1/customers", &big).await;
        assert_eq!(status, 431);
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "connection" && v == "close")
        );
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn idle_connections_are_closed_after_the_timeout() {
        let opts = ApiOptions {
            timeout: Duration::from_millis(100),
            ..ApiOptions::default()
        };
        let server = ApiServer::start(loopback(), None, opts).await.unwrap();
        let mut conn = TcpStream::connect(server.local_addr()).await.unwrap();
        let mut rest = Vec::new();
        let read = timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0))), "{read:?}");
    }

    #[tokio::test]
    async fn dropping_the_server_stops_it() {
        let server = ApiServer::start(loopback(), None, ApiOptions::default())
            .await
            .unwrap();
        let addr = server.local_addr();
        drop(server);
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn cursors_round_trip() {
        for pos in [(BASE_UPDATED_AT, 3), (-5, 1)] {
            assert_eq!(decode_cursor(&encode_cursor(pos)), Some(pos));
        }
        assert_eq!(decode_cursor("12"), None);
    }
}
