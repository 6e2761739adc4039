//! Network handles: the connector's only way out of the sandbox.
//!
//! The connection config names the endpoints a connector may reach (`source`,
//! `api`, ...) and how each is routed (direct, through an SSH bastion, ...). The
//! host resolves, checks its egress policy, dials and does TLS; the connector gets
//! a byte stream and nothing else. [`endpoints`] lists what it may dial,
//! [`connect`] opens a [`Connection`], which is a plain [`std::io::Read`] +
//! [`std::io::Write`].
//!
//! ```ignore
//! use std::io::{Read, Write};
//!
//! let mut conn = airlock_sdk::net::connect("api")?;
//! conn.write_all(b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")?;
//! let mut buf = [0u8; 4096];
//! let n = conn.read(&mut buf)?;
//! ```

use std::fmt;
use std::io;

use crate::bindings::airlock::connector::network as wit;
use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};

/// The most bytes one [`Read::read`](io::Read::read) asks the host for. Bigger
/// caller buffers are filled partially, which `Read` allows; it bounds the
/// allocation each host call makes in the guest.
pub const MAX_READ: usize = 64 * 1024;

/// The most bytes one [`Write::write`](io::Write::write) hands the host. The host
/// traps on larger `blocking-write-and-flush` chunks, so this is a hard limit of
/// the contract, not a tuning knob.
pub const MAX_WRITE: usize = 4096;

/// How TLS is done on an endpoint, as the connection config says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Clear text; [`Connection::upgrade_tls`] is refused.
    Disable,
    /// TLS when the connector negotiates it in-band, clear text otherwise.
    Prefer,
    /// TLS only: from the first byte when [`Endpoint::tls_immediate`], else after
    /// a short clear preamble and [`Connection::upgrade_tls`].
    Require,
}

impl From<wit::TlsMode> for TlsMode {
    fn from(m: wit::TlsMode) -> Self {
        match m {
            wit::TlsMode::Disable => TlsMode::Disable,
            wit::TlsMode::Prefer => TlsMode::Prefer,
            wit::TlsMode::Require => TlsMode::Require,
        }
    }
}

/// An endpoint this connector may connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The name the config gives it, e.g. `"source"`; what [`connect`] takes.
    pub name: String,
    /// The source's real host name, e.g. for an HTTP `Host` header. Not
    /// necessarily where the bytes go: the route is the host's business.
    pub host: String,
    /// The source's port.
    pub port: u16,
    /// How TLS is done.
    pub tls: TlsMode,
    /// Whether the host does the TLS handshake when connecting (HTTPS-style)
    /// rather than waiting for [`Connection::upgrade_tls`] (PostgreSQL-style).
    pub tls_immediate: bool,
}

impl From<wit::Endpoint> for Endpoint {
    fn from(e: wit::Endpoint) -> Self {
        Endpoint {
            name: e.name,
            host: e.host,
            port: e.port,
            tls: e.tls.into(),
            tls_immediate: e.tls_immediate,
        }
    }
}

/// The endpoints this connector may connect to, as the connection config lists them.
pub fn endpoints() -> Vec<Endpoint> {
    wit::endpoints().into_iter().map(Into::into).collect()
}

/// The endpoint called `name`, if the connection config has one.
pub fn endpoint(name: &str) -> Option<Endpoint> {
    endpoints().into_iter().find(|e| e.name == name)
}

/// Opens a connection to the endpoint called `name`.
///
/// The host resolves, applies its egress policy, dials through the configured
/// route and, for [`Endpoint::tls_immediate`] endpoints, does the TLS handshake
/// before this returns. Timeouts are the host's.
pub fn connect(name: &str) -> Result<Connection, NetError> {
    let conn = wit::connect(name)?;
    Ok(Connection {
        input: None,
        output: None,
        conn,
        endpoint: name.to_owned(),
    })
}

/// A byte stream to an endpoint; dropping it closes the connection.
///
/// Reads and writes block the connector (the host is asynchronous underneath).
/// Wrap it in a [`std::io::BufReader`] for line- or header-oriented protocols.
pub struct Connection {
    // The streams are child resources of `conn`: the host refuses to drop a
    // connection, or upgrade it, while they exist. They are taken on first use
    // and kept, and `Drop` releases them before `conn`.
    input: Option<InputStream>,
    output: Option<OutputStream>,
    conn: wit::Connection,
    endpoint: String,
}

impl Connection {
    /// The name of the endpoint this connection goes to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Starts TLS in-band, e.g. after PostgreSQL answered an SSLRequest with `S`.
    ///
    /// Any bytes the peer sent that were not read yet are lost, as with any
    /// STARTTLS-style protocol: call this only at the point the protocol says
    /// the handshake begins. Refused on endpoints whose TLS mode is `disable`.
    pub fn upgrade_tls(&mut self) -> Result<(), NetError> {
        // The host refuses the upgrade while a stream is out; fresh ones are
        // taken on the next read or write.
        self.input = None;
        self.output = None;
        self.conn.upgrade_tls()?;
        Ok(())
    }

    /// The negotiated TLS version (e.g. `"TLSv1.3"`), or `None` on clear text.
    pub fn tls_version(&self) -> Option<String> {
        self.conn.tls_version()
    }

    fn input(&mut self) -> Result<&InputStream, NetError> {
        if self.input.is_none() {
            self.input = Some(self.conn.input()?);
        }
        Ok(self.input.as_ref().expect("just set"))
    }

    fn output(&mut self) -> Result<&OutputStream, NetError> {
        if self.output.is_none() {
            self.output = Some(self.conn.output()?);
        }
        Ok(self.output.as_ref().expect("just set"))
    }

    /// An I/O error for a failed stream operation, naming the endpoint.
    fn stream_failed(&self, op: &str, detail: String) -> io::Error {
        // A host running with RUST_BACKTRACE appends its own stack to the debug
        // text; that is noise (and host detail) to a connector's user.
        let detail = match detail.find("\nStack backtrace:") {
            Some(at) => detail[..at].to_owned(),
            None => detail,
        };
        // wasi:io errors are opaque; their debug text is all there is to go on.
        let kind = if detail.to_ascii_lowercase().contains("timed out") {
            NetErrorKind::Timeout
        } else {
            NetErrorKind::Closed
        };
        NetError::new(
            kind,
            format!("{op} on endpoint `{}` failed: {detail}", self.endpoint),
        )
        .into()
    }
}

impl io::Read for Connection {
    /// Reads what the peer has sent, blocking until at least one byte is there;
    /// `Ok(0)` once the peer closed its side.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(MAX_READ);
        loop {
            let result = self.input()?.blocking_read(want as u64);
            match result {
                // A conforming host never returns nothing from a blocking read,
                // but `Ok(0)` would mean end of stream to the caller: ask again.
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) if bytes.len() > want => {
                    return Err(io::Error::other(format!(
                        "the host returned {} bytes for a read of at most {want}",
                        bytes.len()
                    )));
                }
                Ok(bytes) => {
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    return Ok(bytes.len());
                }
                Err(StreamError::Closed) => return Ok(0),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(self.stream_failed("read", e.to_debug_string()));
                }
            }
        }
    }
}

impl io::Write for Connection {
    /// Sends up to [`MAX_WRITE`] bytes of `buf` and waits until the host took
    /// them; use [`write_all`](io::Write::write_all) for more.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = &buf[..buf.len().min(MAX_WRITE)];
        let result = self.output()?.blocking_write_and_flush(chunk);
        match result {
            Ok(()) => Ok(chunk.len()),
            Err(StreamError::Closed) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                NetError::new(
                    NetErrorKind::Closed,
                    format!("endpoint `{}` closed the connection", self.endpoint),
                ),
            )),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(self.stream_failed("write", e.to_debug_string()))
            }
        }
    }

    /// Nothing to do: every [`write`](io::Write::write) is flushed before it returns.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Children first: the host refuses to drop a connection whose streams live.
        self.input = None;
        self.output = None;
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What kind of network failure a [`NetError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetErrorKind {
    /// No endpoint of that name in the connection config.
    UnknownEndpoint,
    /// The egress policy or a limit refused it.
    Denied,
    /// Name lookup, the route or the peer failed.
    Unreachable,
    /// A connect, handshake or read took too long.
    Timeout,
    /// The TLS handshake failed (certificate, name, protocol).
    Tls,
    /// The connection is closed or in a state that does not allow the call.
    Closed,
}

impl NetErrorKind {
    /// A short name for messages: `unknown endpoint`, `denied`, `unreachable`,
    /// `timeout`, `TLS` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetErrorKind::UnknownEndpoint => "unknown endpoint",
            NetErrorKind::Denied => "denied",
            NetErrorKind::Unreachable => "unreachable",
            NetErrorKind::Timeout => "timeout",
            NetErrorKind::Tls => "TLS",
            NetErrorKind::Closed => "closed",
        }
    }

    /// The closest [`io::ErrorKind`], for errors that travel through `std::io`.
    pub fn io_kind(self) -> io::ErrorKind {
        match self {
            NetErrorKind::UnknownEndpoint => io::ErrorKind::NotFound,
            NetErrorKind::Denied => io::ErrorKind::PermissionDenied,
            NetErrorKind::Unreachable => io::ErrorKind::HostUnreachable,
            NetErrorKind::Timeout => io::ErrorKind::TimedOut,
            NetErrorKind::Tls => io::ErrorKind::InvalidData,
            NetErrorKind::Closed => io::ErrorKind::NotConnected,
        }
    }
}

impl fmt::Display for NetErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wit::NetworkErrorKind> for NetErrorKind {
    fn from(k: wit::NetworkErrorKind) -> Self {
        match k {
            wit::NetworkErrorKind::UnknownEndpoint => NetErrorKind::UnknownEndpoint,
            wit::NetworkErrorKind::Denied => NetErrorKind::Denied,
            wit::NetworkErrorKind::Unreachable => NetErrorKind::Unreachable,
            wit::NetworkErrorKind::Timeout => NetErrorKind::Timeout,
            wit::NetworkErrorKind::Tls => NetErrorKind::Tls,
            wit::NetworkErrorKind::Closed => NetErrorKind::Closed,
        }
    }
}

/// A network failure: a [`kind`](NetErrorKind) and a message a person can act on
/// (the host's messages never hold secrets).
///
/// `?` turns it into an [`Error`](crate::Error) of kind `network`; a
/// [`Connection`]'s `io::Error`s turn back into one with `NetError::from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetError {
    /// What kind of failure.
    pub kind: NetErrorKind,
    /// What happened and what to do.
    pub message: String,
}

impl NetError {
    /// A network error of the given kind.
    pub fn new(kind: NetErrorKind, message: impl Into<String>) -> Self {
        NetError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for NetError {}

impl From<wit::NetworkError> for NetError {
    fn from(e: wit::NetworkError) -> Self {
        NetError::new(e.kind.into(), e.message)
    }
}

/// Carries the `NetError` inside, so `NetError::from(io_error)` gets it back.
impl From<NetError> for io::Error {
    fn from(e: NetError) -> Self {
        io::Error::new(e.kind.io_kind(), e)
    }
}

/// Recovers the `NetError` a [`Connection`] put in an `io::Error`; any other
/// `io::Error` is classified by its [`io::ErrorKind`].
impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        let kind = e.kind();
        if e.get_ref().is_some_and(|inner| inner.is::<NetError>()) {
            let inner = e.into_inner().expect("checked above");
            return *inner.downcast::<NetError>().expect("checked above");
        }
        let net_kind = match kind {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => NetErrorKind::Timeout,
            io::ErrorKind::PermissionDenied => NetErrorKind::Denied,
            io::ErrorKind::NotFound => NetErrorKind::UnknownEndpoint,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable => NetErrorKind::Unreachable,
            _ => NetErrorKind::Closed,
        };
        NetError::new(net_kind, e.to_string())
    }
}

/// A network failure is a `network` [`Error`](crate::Error): the user looks at
/// the endpoint's route, the egress policy or the source's availability.
impl From<NetError> for crate::Error {
    fn from(e: NetError) -> Self {
        crate::Error::network(e.to_string())
    }
}

/// An `io::Error` in a connector comes from its [`Connection`]s (there is no
/// other I/O in the sandbox worth the name), so it is a `network` error too.
impl From<io::Error> for crate::Error {
    fn from(e: io::Error) -> Self {
        NetError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn wit_kinds_map_one_to_one() {
        use wit::NetworkErrorKind as W;
        let pairs = [
            (W::UnknownEndpoint, NetErrorKind::UnknownEndpoint),
            (W::Denied, NetErrorKind::Denied),
            (W::Unreachable, NetErrorKind::Unreachable),
            (W::Timeout, NetErrorKind::Timeout),
            (W::Tls, NetErrorKind::Tls),
            (W::Closed, NetErrorKind::Closed),
        ];
        for (w, k) in pairs {
            let e = NetError::from(wit::NetworkError {
                kind: w,
                message: "m".into(),
            });
            assert_eq!(e.kind, k);
            assert_eq!(e.message, "m");
        }
    }

    #[test]
    fn net_error_becomes_a_network_error() {
        let e: crate::Error =
            NetError::new(NetErrorKind::Timeout, "connecting to `api` took 10s").into();
        assert_eq!(e.kind, ErrorKind::Network);
        assert_eq!(e.message, "timeout: connecting to `api` took 10s");
        assert_eq!(
            e.to_string(),
            "network error: timeout: connecting to `api` took 10s"
        );
    }

    #[test]
    fn net_error_survives_a_trip_through_io() {
        let original = NetError::new(NetErrorKind::Tls, "certificate is for another name");
        let io_err = io::Error::from(original.clone());
        assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(NetError::from(io_err), original);
    }

    #[test]
    fn plain_io_errors_are_classified() {
        let cases = [
            (io::ErrorKind::TimedOut, NetErrorKind::Timeout),
            (io::ErrorKind::BrokenPipe, NetErrorKind::Closed),
            (io::ErrorKind::UnexpectedEof, NetErrorKind::Closed),
            (io::ErrorKind::ConnectionRefused, NetErrorKind::Unreachable),
            (io::ErrorKind::PermissionDenied, NetErrorKind::Denied),
        ];
        for (io_kind, kind) in cases {
            let e = NetError::from(io::Error::new(io_kind, "x"));
            assert_eq!(e.kind, kind, "{io_kind:?}");
        }
        let e: crate::Error = io::Error::new(io::ErrorKind::UnexpectedEof, "eof").into();
        assert_eq!(e.kind, ErrorKind::Network);
        assert_eq!(e.message, "closed: eof");
    }

    #[test]
    fn tls_modes_map() {
        assert_eq!(TlsMode::from(wit::TlsMode::Disable), TlsMode::Disable);
        assert_eq!(TlsMode::from(wit::TlsMode::Prefer), TlsMode::Prefer);
        assert_eq!(TlsMode::from(wit::TlsMode::Require), TlsMode::Require);
    }
}
