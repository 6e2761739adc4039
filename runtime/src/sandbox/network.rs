//! Host side of `airlock:connector/network`: endpoint listing, `connect`, and
//! the `connection` resource whose `wasi:io` streams carry the bytes.
//!
//! Every connection goes through [`Network::connect`] — the one dial path. This
//! file only adapts its result to the guest: bounded buffers in each direction,
//! a limit on open connections, in-band TLS upgrades, and the `tls = "require"`
//! rule for in-band endpoints (see [`CLEAR_PREAMBLE_MAX`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

use super::bindings::wit_network as wit;
use crate::config::TlsMode;
use crate::net::{BoxStream, NetError, NetErrorKind, Network};
use crate::redact::Redactor;

/// On an endpoint with `tls = "require"` and an in-band handshake, the most
/// bytes a connector may send in clear before `upgrade-tls`. Enough for every
/// protocol's TLS request (PostgreSQL's SSLRequest is 8 bytes, MySQL's
/// SSL request 36, SMTP's `EHLO` + `STARTTLS` well under 512), too little to
/// carry a query or credentials. Past it, the write fails and the connection
/// is unusable.
pub const CLEAR_PREAMBLE_MAX: usize = 512;

/// Most bytes read from the peer in one go: what one guest read gets at most
/// (the SDK asks for 64 KiB), and below the allocator's mmap threshold.
const READ_CHUNK: usize = 64 * 1024;

/// Idle time after which a wait for the peer fails: no byte in the awaited
/// direction for this long. Long enough for a slow query's first row.
pub const IO_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Per-store state of the network interface.
pub struct NetworkCtx {
    network: Arc<Network>,
    permits: Arc<Semaphore>,
    max_connections: u32,
    buffer: usize,
    redactor: Redactor,
    job: String,
}

impl NetworkCtx {
    /// The network of job `job`: at most `max_connections` open at once, each
    /// buffering at most `buffer` bytes per direction.
    pub fn new(
        job: &str,
        network: Arc<Network>,
        max_connections: u32,
        buffer: usize,
        redactor: Redactor,
    ) -> NetworkCtx {
        NetworkCtx {
            network,
            permits: Arc::new(Semaphore::new(max_connections as usize)),
            max_connections,
            buffer: buffer.max(4096),
            redactor,
            job: job.to_owned(),
        }
    }

    fn wit_error(&self, e: NetError) -> wit::NetworkError {
        let message = self.redactor.redact(&e.message).into_owned();
        tracing::warn!(job = %self.job, "network: {message}");
        wit::NetworkError {
            kind: match e.kind {
                NetErrorKind::UnknownEndpoint => wit::NetworkErrorKind::UnknownEndpoint,
                NetErrorKind::Denied => wit::NetworkErrorKind::Denied,
                NetErrorKind::Unreachable => wit::NetworkErrorKind::Unreachable,
                NetErrorKind::Timeout => wit::NetworkErrorKind::Timeout,
                NetErrorKind::Tls => wit::NetworkErrorKind::Tls,
                NetErrorKind::Closed => wit::NetworkErrorKind::Closed,
            },
            message,
        }
    }
}

/// The network state and the resource table, borrowed together from a store.
pub struct NetworkCtxView<'a> {
    /// The interface's state.
    pub ctx: &'a mut NetworkCtx,
    /// The store's resource table (connections and their streams live there).
    pub table: &'a mut ResourceTable,
}

/// Access to [`NetworkCtxView`] from a store's data.
pub trait NetworkView: Send {
    /// The network view.
    fn network(&mut self) -> NetworkCtxView<'_>;
}

struct HasNetwork;

impl HasData for HasNetwork {
    type Data<'a> = NetworkCtxView<'a>;
}

/// Adds the network interface to `linker`.
pub fn add_to_linker<T: NetworkView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasNetwork>(linker, T::network)
}

/// A connection as the guest holds it.
pub struct Connection {
    endpoint: String,
    io: Io,
    /// Clear-text bytes the connector may still send (`Some` on an in-band
    /// `require` endpoint until TLS is up).
    clear_budget: Option<usize>,
    tls_version: Option<String>,
    buffer: usize,
    _permit: OwnedSemaphorePermit,
}

type Slot<T> = Arc<Mutex<Option<T>>>;

enum Io {
    /// No stream handed out: the transport whole, ready for a TLS upgrade.
    Whole(BoxStream),
    /// Split for the guest's streams; a slot is empty while its stream is out.
    Split {
        read: Slot<ReadSide>,
        write: Slot<WriteSide>,
    },
    /// A failed upgrade consumed the transport.
    Gone,
}

impl Connection {
    fn split(&mut self) -> Result<(&Slot<ReadSide>, &Slot<WriteSide>), NetError> {
        if let Io::Whole(_) = self.io {
            let Io::Whole(stream) = std::mem::replace(&mut self.io, Io::Gone) else {
                unreachable!()
            };
            let (r, w) = tokio::io::split(stream);
            let endpoint: Arc<str> = self.endpoint.as_str().into();
            self.io = Io::Split {
                read: Arc::new(Mutex::new(Some(ReadSide {
                    half: r,
                    buf: BytesMut::new(),
                    cap: self.buffer,
                    state: SideState::Open,
                    endpoint: endpoint.clone(),
                }))),
                write: Arc::new(Mutex::new(Some(WriteSide {
                    half: w,
                    buf: BytesMut::new(),
                    cap: self.buffer,
                    flush_pending: false,
                    state: SideState::Open,
                    clear_budget: self.clear_budget,
                    endpoint,
                }))),
            };
        }
        match &self.io {
            Io::Split { read, write } => Ok((read, write)),
            _ => Err(NetError::closed(format!(
                "the connection to endpoint \"{}\" is closed (a TLS upgrade failed)",
                self.endpoint
            ))),
        }
    }
}

impl wit::Host for NetworkCtxView<'_> {
    fn endpoints(&mut self) -> wasmtime::Result<Vec<wit::Endpoint>> {
        Ok(self
            .ctx
            .network
            .endpoints()
            .map(|e| wit::Endpoint {
                name: e.name.clone(),
                host: e.host.clone(),
                port: e.port,
                tls: match e.tls.mode {
                    TlsMode::Disable => wit::TlsMode::Disable,
                    TlsMode::Prefer => wit::TlsMode::Prefer,
                    TlsMode::Require => wit::TlsMode::Require,
                },
                tls_immediate: e.tls.immediate,
            })
            .collect())
    }

    async fn connect(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, wit::NetworkError>> {
        let Ok(permit) = self.ctx.permits.clone().try_acquire_owned() else {
            let e = NetError::denied(format!(
                "the connector already holds {} connections (limits.connections); close one first or raise the limit",
                self.ctx.max_connections
            ));
            return Ok(Err(self.ctx.wit_error(e)));
        };
        let network = self.ctx.network.clone();
        let dialed = match network.connect(&name).await {
            Ok(d) => d,
            Err(e) => return Ok(Err(self.ctx.wit_error(e))),
        };
        let endpoint = network.endpoint(&name).expect("connected endpoints exist");
        tracing::info!(
            job = %self.ctx.job,
            endpoint = %name,
            path = %dialed.path.hops.join(" → "),
            tls = dialed.tls.as_ref().map(|t| t.version.as_str()).unwrap_or("none"),
            "connected"
        );
        let in_band_require = endpoint.tls.mode == TlsMode::Require && !endpoint.tls.immediate;
        let conn = Connection {
            endpoint: name,
            io: Io::Whole(dialed.stream),
            clear_budget: in_band_require.then_some(CLEAR_PREAMBLE_MAX),
            tls_version: dialed.tls.map(|t| t.version),
            buffer: self.ctx.buffer,
            _permit: permit,
        };
        Ok(Ok(self.table.push(conn)?))
    }
}

impl wit::HostConnection for NetworkCtxView<'_> {
    fn input(
        &mut self,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<Result<Resource<DynInputStream>, wit::NetworkError>> {
        let c = self.table.get_mut(&conn)?;
        let taken = c.split().map(|(read, _)| {
            let side = read.lock().unwrap().take();
            side.map(|side| -> DynInputStream {
                Box::new(ConnInput {
                    side: Some(side),
                    slot: read.clone(),
                })
            })
        });
        self.push_stream(conn, "input", taken)
    }

    fn output(
        &mut self,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<Result<Resource<DynOutputStream>, wit::NetworkError>> {
        let c = self.table.get_mut(&conn)?;
        let taken = c.split().map(|(_, write)| {
            let side = write.lock().unwrap().take();
            side.map(|side| -> DynOutputStream {
                Box::new(ConnOutput {
                    side: Some(side),
                    slot: write.clone(),
                })
            })
        });
        self.push_stream(conn, "output", taken)
    }

    async fn upgrade_tls(
        &mut self,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<Result<(), wit::NetworkError>> {
        let network = self.ctx.network.clone();
        let c = self.table.get_mut(&conn)?;
        let stream = match take_whole(c) {
            Ok(s) => s,
            Err(e) => return Ok(Err(self.ctx.wit_error(e))),
        };
        match network.start_tls(&c.endpoint, stream).await {
            Ok((tls, info)) => {
                tracing::info!(endpoint = %c.endpoint, version = %info.version, subject = %info.subject, "TLS started in-band");
                c.io = Io::Whole(tls);
                c.clear_budget = None;
                c.tls_version = Some(info.version);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(self.ctx.wit_error(e))),
        }
    }

    fn tls_version(&mut self, conn: Resource<Connection>) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&conn)?.tls_version.clone())
    }

    fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        // Dropping the transport closes it (TCP FIN, or the SSH channel's close).
        self.table.delete(conn)?;
        Ok(())
    }
}

impl NetworkCtxView<'_> {
    /// Puts a stream taken from `conn` into the table as its child, or turns
    /// "not there" and failures into the guest's error.
    fn push_stream<S: Send + 'static>(
        &mut self,
        conn: Resource<Connection>,
        which: &str,
        taken: Result<Option<S>, NetError>,
    ) -> wasmtime::Result<Result<Resource<S>, wit::NetworkError>> {
        match taken {
            Ok(Some(stream)) => Ok(Ok(self.table.push_child(stream, &conn)?)),
            Ok(None) => {
                let endpoint = &self.table.get(&conn)?.endpoint;
                let e = NetError::closed(format!(
                    "the {which} stream of endpoint \"{endpoint}\" is already taken; use that one"
                ));
                Ok(Err(self.ctx.wit_error(e)))
            }
            Err(e) => Ok(Err(self.ctx.wit_error(e))),
        }
    }
}

/// Takes the transport back whole for a TLS upgrade: both streams must be
/// back, and no clear-text byte may be waiting unread.
fn take_whole(c: &mut Connection) -> Result<BoxStream, NetError> {
    if c.tls_version.is_some() {
        return Err(NetError::tls(format!(
            "the connection to endpoint \"{}\" is already encrypted",
            c.endpoint
        )));
    }
    match std::mem::replace(&mut c.io, Io::Gone) {
        Io::Whole(s) => Ok(s),
        Io::Gone => Err(NetError::closed(format!(
            "the connection to endpoint \"{}\" is closed",
            c.endpoint
        ))),
        Io::Split { read, write } => {
            let r = read.lock().unwrap().take();
            let w = write.lock().unwrap().take();
            match (r, w) {
                (Some(r), Some(w)) => {
                    if !r.buf.is_empty() {
                        // Bytes that arrived in clear after the TLS request and
                        // before the handshake could be an injection (the STARTTLS
                        // class of attacks): refuse rather than pass them on.
                        return Err(NetError::tls(format!(
                            "{} clear-text bytes from endpoint \"{}\" arrived before the TLS handshake and were not read; refusing to upgrade this connection",
                            r.buf.len(),
                            c.endpoint
                        )));
                    }
                    Ok(r.half.unsplit(w.half))
                }
                (r, w) => {
                    // Put back what was there, so the streams still out keep working.
                    *read.lock().unwrap() = r;
                    *write.lock().unwrap() = w;
                    c.io = Io::Split { read, write };
                    Err(NetError::closed(format!(
                        "drop the input and output streams of endpoint \"{}\" before upgrade-tls, then take new ones",
                        c.endpoint
                    )))
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum SideState {
    Open,
    Eof,
    Failed(String),
}

/// The read half of a connection and what was read ahead of the connector.
struct ReadSide {
    half: ReadHalf<BoxStream>,
    buf: BytesMut,
    cap: usize,
    state: SideState,
    endpoint: Arc<str>,
}

/// The guest's input stream; gives its half back to the connection when dropped.
struct ConnInput {
    side: Option<ReadSide>,
    slot: Slot<ReadSide>,
}

impl Drop for ConnInput {
    fn drop(&mut self) {
        if let Some(side) = self.side.take() {
            *self.slot.lock().unwrap() = Some(side);
        }
    }
}

impl ConnInput {
    fn side(&mut self) -> &mut ReadSide {
        self.side.as_mut().expect("present until drop")
    }
}

#[async_trait::async_trait]
impl Pollable for ConnInput {
    async fn ready(&mut self) {
        let s = self.side();
        if !s.buf.is_empty() || !matches!(s.state, SideState::Open) {
            return;
        }
        // Read ahead at most `cap` bytes (the bound on what a connector that
        // stops reading makes the host hold), in chunks small enough that the
        // allocator recycles them instead of mapping fresh pages every time.
        let chunk = READ_CHUNK.min(s.cap);
        s.buf.reserve(chunk);
        let mut limited = (&mut s.half).take(chunk as u64);
        let read = limited.read_buf(&mut s.buf);
        let outcome = tokio::time::timeout(IO_IDLE_TIMEOUT, read).await;
        s.state = match outcome {
            Ok(Ok(0)) => SideState::Eof,
            Ok(Ok(_)) => SideState::Open,
            Ok(Err(e)) => {
                SideState::Failed(format!("reading from endpoint \"{}\": {e}", s.endpoint))
            }
            Err(_) => SideState::Failed(format!(
                "endpoint \"{}\" sent nothing for {} s",
                s.endpoint,
                IO_IDLE_TIMEOUT.as_secs()
            )),
        };
    }
}

impl InputStream for ConnInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let s = self.side();
        if !s.buf.is_empty() {
            if size >= s.buf.len() {
                // Hand the whole buffer over: the guest-bound copy can then take
                // its allocation instead of copying it again.
                return Ok(std::mem::take(&mut s.buf).freeze());
            }
            return Ok(s.buf.split_to(size).freeze());
        }
        match &s.state {
            SideState::Open => Ok(Bytes::new()),
            SideState::Eof => Err(StreamError::Closed),
            SideState::Failed(m) => Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{m}"
            ))),
        }
    }
}

/// The write half of a connection and the connector's bytes not yet sent.
struct WriteSide {
    half: WriteHalf<BoxStream>,
    buf: BytesMut,
    cap: usize,
    flush_pending: bool,
    state: SideState,
    clear_budget: Option<usize>,
    endpoint: Arc<str>,
}

/// The guest's output stream; gives its half back to the connection when dropped.
struct ConnOutput {
    side: Option<WriteSide>,
    slot: Slot<WriteSide>,
}

impl Drop for ConnOutput {
    fn drop(&mut self) {
        if let Some(side) = self.side.take() {
            *self.slot.lock().unwrap() = Some(side);
        }
    }
}

impl ConnOutput {
    fn side(&mut self) -> &mut WriteSide {
        self.side.as_mut().expect("present until drop")
    }
}

impl WriteSide {
    fn failed(&self) -> Option<StreamError> {
        match &self.state {
            SideState::Failed(m) => Some(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{m}"
            ))),
            _ => None,
        }
    }
}

#[async_trait::async_trait]
impl Pollable for ConnOutput {
    async fn ready(&mut self) {
        let s = self.side();
        if !matches!(s.state, SideState::Open) {
            return;
        }
        let work = async {
            if !s.buf.is_empty() {
                s.half.write_all(&s.buf).await?;
                s.buf.clear();
            }
            if s.flush_pending {
                s.half.flush().await?;
                s.flush_pending = false;
            }
            Ok::<_, std::io::Error>(())
        };
        let result = tokio::time::timeout(IO_IDLE_TIMEOUT, work).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                s.state = SideState::Failed(format!("writing to endpoint \"{}\": {e}", s.endpoint))
            }
            Err(_) => {
                s.state = SideState::Failed(format!(
                    "endpoint \"{}\" accepted nothing for {} s",
                    s.endpoint,
                    IO_IDLE_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

impl OutputStream for ConnOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let s = self.side();
        if let Some(e) = s.failed() {
            return Err(e);
        }
        if bytes.len() > s.cap - s.buf.len() {
            return Err(StreamError::trap("write exceeds the permit of check-write"));
        }
        if let Some(budget) = s.clear_budget {
            if bytes.len() > budget {
                let msg = format!(
                    "endpoint \"{}\" has tls = \"require\": at most {CLEAR_PREAMBLE_MAX} bytes may be sent before upgrade-tls; nothing more is sent on this connection",
                    s.endpoint
                );
                s.state = SideState::Failed(msg.clone());
                return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                    "{msg}"
                )));
            }
            s.clear_budget = Some(budget - bytes.len());
        }
        s.buf.extend_from_slice(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        let s = self.side();
        if let Some(e) = s.failed() {
            return Err(e);
        }
        s.flush_pending = true;
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let s = self.side();
        if let Some(e) = s.failed() {
            return Err(e);
        }
        Ok(s.cap - s.buf.len())
    }
}
