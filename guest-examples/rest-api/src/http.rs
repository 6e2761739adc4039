//! A small blocking HTTP/1.1 client over any byte stream: GET only, keep-alive,
//! `Content-Length`, chunked and close-delimited bodies, every size bounded.
//!
//! It is generic over the stream so it runs natively in unit tests; in the
//! connector the stream is an [`airlock_sdk::Connection`] and the host owns
//! timeouts and TLS.

use std::io::{self, Read, Write};

/// The most bytes a response head (status line and headers) may take.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers a response may carry.
const MAX_HEADERS: usize = 64;
/// The longest chunk-size or trailer line in a chunked body.
const MAX_LINE_BYTES: usize = 1024;

/// A response: status, the headers this client cares about, and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Debug)]
pub enum HttpError {
    /// The stream failed (the host's network error is inside).
    Io(io::Error),
    /// The peer spoke something that is not HTTP/1.1 as this client understands it.
    Protocol(String),
    /// The response was over the size limit.
    TooLarge(String),
    /// The server closed the connection before sending any byte of a response.
    ClosedBeforeResponse,
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

/// An HTTP/1.1 client for one origin that keeps its connection open between
/// requests and opens a new one (with `connect`) when it has none or the old
/// one was closed.
pub struct Client<S, F> {
    connect: F,
    conn: Option<Conn<S>>,
    /// The `Host` header value.
    host: String,
    max_body: usize,
}

impl<S: Read + Write, F: FnMut() -> io::Result<S>> Client<S, F> {
    /// A client that sends `Host: host` and refuses bodies over `max_body` bytes.
    pub fn new(host: String, max_body: usize, connect: F) -> Self {
        Client {
            connect,
            conn: None,
            host,
            max_body,
        }
    }

    /// Sends `GET target` with `headers` (`name`, `value` pairs) and reads the response.
    ///
    /// A request on a kept-alive connection that the server closed meanwhile (it
    /// may, at any time, between requests) is retried once on a new connection:
    /// GET is idempotent.
    pub fn get(&mut self, target: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        let reused = self.conn.is_some();
        match self.try_get(target, headers) {
            Err(e) if reused && is_stale_connection(&e) => {
                self.conn = None;
                self.try_get(target, headers)
            }
            other => other,
        }
    }

    fn try_get(&mut self, target: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        let mut request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
             User-Agent: airlock-rest-api/{}\r\n",
            self.host,
            env!("CARGO_PKG_VERSION")
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");

        if self.conn.is_none() {
            self.conn = Some(Conn::new((self.connect)()?));
        }
        let conn = self.conn.as_mut().expect("just set");
        let result = conn
            .stream
            .write_all(request.as_bytes())
            .map_err(HttpError::from)
            .and_then(|()| conn.read_response(self.max_body));
        match result {
            Ok((response, keep_alive)) => {
                if !keep_alive {
                    self.conn = None;
                }
                Ok(response)
            }
            Err(e) => {
                // After any failure the stream position is unknown: start over next time.
                self.conn = None;
                Err(e)
            }
        }
    }
}

/// Whether `e` looks like the server closed an idle kept-alive connection
/// before it read our request: a broken write, or the stream ending before
/// any byte of a response.
fn is_stale_connection(e: &HttpError) -> bool {
    match e {
        HttpError::ClosedBeforeResponse => true,
        HttpError::Io(e) => closed_kind(e),
        _ => false,
    }
}

/// Whether `e` says the peer closed or dropped the connection.
fn closed_kind(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

/// A stream and the bytes read from it but not consumed yet.
struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: Read> Conn<S> {
    fn new(stream: S) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into `buf`; `Ok(0)` at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Like [`fill`](Self::fill), but the end of the stream is an error.
    fn fill_or_eof(&mut self, what: &str) -> Result<(), HttpError> {
        if self.fill()? == 0 {
            return Err(HttpError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection {what}"),
            )));
        }
        Ok(())
    }

    /// Reads one response; returns it and whether the connection may be reused.
    fn read_response(&mut self, max_body: usize) -> Result<(Response, bool), HttpError> {
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(HttpError::TooLarge(format!(
                    "response head over {MAX_HEAD_BYTES} bytes"
                )));
            }
            if self.buf.is_empty() {
                match self.fill() {
                    Ok(0) => return Err(HttpError::ClosedBeforeResponse),
                    Ok(_) => {}
                    // A close without a clean end (e.g. no TLS close_notify) before
                    // any byte of the response is still just a closed connection.
                    Err(e) if closed_kind(&e) => return Err(HttpError::ClosedBeforeResponse),
                    Err(e) => return Err(e.into()),
                }
            } else {
                self.fill_or_eof("in the middle of a response head")?;
            }
        };
        self.buf.drain(..head.len);

        let mut keep_alive = head.keep_alive;
        let body = if head.status == 204 || head.status == 304 || head.status / 100 == 1 {
            Vec::new()
        } else if head.chunked {
            self.read_chunked(max_body)?
        } else if let Some(len) = head.content_length {
            self.read_exact_body(len, max_body)?
        } else {
            // No framing: the body runs to the end of the stream.
            keep_alive = false;
            self.read_to_end(max_body)?
        };
        let response = Response {
            status: head.status,
            content_type: head.content_type,
            body,
        };
        Ok((response, keep_alive))
    }

    fn read_exact_body(&mut self, len: usize, max_body: usize) -> Result<Vec<u8>, HttpError> {
        if len > max_body {
            return Err(too_large(max_body));
        }
        while self.buf.len() < len {
            self.fill_or_eof("in the middle of a response body")?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    fn read_to_end(&mut self, max_body: usize) -> Result<Vec<u8>, HttpError> {
        while self.fill()? > 0 {
            if self.buf.len() > max_body {
                return Err(too_large(max_body));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    fn read_chunked(&mut self, max_body: usize) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| HttpError::Protocol(format!("bad chunk size line `{line}`")))?;
            if size == 0 {
                // Trailers, if any, up to the empty line; their content is not needed.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > max_body {
                return Err(too_large(max_body));
            }
            while self.buf.len() < size + 2 {
                self.fill_or_eof("in the middle of a chunk")?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(HttpError::Protocol("a chunk does not end in CRLF".into()));
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// One CRLF-terminated line (without the CRLF), bounded.
    fn read_line(&mut self) -> Result<String, HttpError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..end].to_vec())
                    .map_err(|_| HttpError::Protocol("a chunk line is not UTF-8".into()))?;
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(HttpError::Protocol(format!(
                    "a chunk line is over {MAX_LINE_BYTES} bytes"
                )));
            }
            self.fill_or_eof("in the middle of a chunked body")?;
        }
    }
}

fn too_large(max_body: usize) -> HttpError {
    HttpError::TooLarge(format!("response body over {max_body} bytes"))
}

/// What the client needs from a response head.
struct Head {
    len: usize,
    status: u16,
    content_type: Option<String>,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(HttpError::Protocol(format!(
                "the server's response is not HTTP/1.x ({e})"
            )));
        }
    };
    let mut head = Head {
        len,
        status: resp.code.unwrap_or(0),
        content_type: None,
        content_length: None,
        chunked: false,
        // HTTP/1.1 keeps the connection unless told otherwise; 1.0 closes it.
        keep_alive: resp.version == Some(1),
    };
    for h in resp.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse()
                .map_err(|_| HttpError::Protocol(format!("bad Content-Length `{value}`")))?;
            if head.content_length.is_some_and(|l| l != len) {
                return Err(HttpError::Protocol(
                    "conflicting Content-Length headers".into(),
                ));
            }
            head.content_length = Some(len);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked must be the last coding; nothing else is supported.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::Protocol(format!(
                    "unsupported Transfer-Encoding `{value}`"
                )));
            }
            head.chunked = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    head.keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        }
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A scripted peer: reads come from `replies`, one per connection; writes
    /// are recorded.
    struct Fake {
        input: io::Cursor<Vec<u8>>,
        written: Shared<Vec<u8>>,
        /// Deliver at most this many bytes per read, to exercise partial reads.
        trickle: usize,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.trickle);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    type Shared<T> = Rc<RefCell<T>>;

    /// What the scripted peer saw: every byte sent, and how often it was dialled.
    struct Seen {
        written: Shared<Vec<u8>>,
        connects: Shared<usize>,
    }

    /// A client whose `n`th connection replies `replies[n]`.
    fn client(
        replies: Vec<&'static [u8]>,
        trickle: usize,
    ) -> (Client<Fake, impl FnMut() -> io::Result<Fake>>, Seen) {
        let seen = Seen {
            written: Rc::new(RefCell::new(Vec::new())),
            connects: Rc::new(RefCell::new(0)),
        };
        let (w, c) = (Rc::clone(&seen.written), Rc::clone(&seen.connects));
        let mut replies = replies.into_iter();
        let connect = move || {
            *c.borrow_mut() += 1;
            let input = replies.next().unwrap_or(b"").to_vec();
            Ok(Fake {
                input: io::Cursor::new(input),
                written: Rc::clone(&w),
                trickle,
            })
        };
        (Client::new("api.example.com".into(), 1000, connect), seen)
    }

    #[test]
    fn keep_alive_content_length_and_chunked_on_one_connection() {
        let reply: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n[1,\r\n2\r\n2]\r\n0\r\nX-Trailer: y\r\n\r\n";
        for trickle in [1, 7, 4096] {
            let (mut c, seen) = client(vec![reply], trickle);
            let r = c.get("/a", &[("Authorization", "Bearer t")]).unwrap();
            assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
            let r = c.get("/b", &[]).unwrap();
            assert_eq!(r.body, b"[1,2]");
            assert_eq!(*seen.connects.borrow(), 1);
            let sent = String::from_utf8(seen.written.borrow().clone()).unwrap();
            assert!(sent.starts_with("GET /a HTTP/1.1\r\nHost: api.example.com\r\n"));
            assert!(sent.contains("Authorization: Bearer t\r\n\r\nGET /b HTTP/1.1\r\n"));
        }
    }

    #[test]
    fn reconnects_when_the_server_closed_an_idle_connection() {
        let first: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
        let second: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
        let (mut c, seen) = client(vec![first, second], 4096);
        assert_eq!(c.get("/", &[]).unwrap().body, b"a");
        // The first connection has nothing more: the retry goes to the second.
        assert_eq!(c.get("/", &[]).unwrap().body, b"b");
        assert_eq!(*seen.connects.borrow(), 2);
    }

    #[test]
    fn connection_close_and_unframed_bodies_end_the_connection() {
        let first: &[u8] =
            b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfail";
        let second: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nto the end";
        let third: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
        let (mut c, seen) = client(vec![first, second, third], 4096);
        let r = c.get("/", &[]).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"fail"[..]));
        assert_eq!(c.get("/", &[]).unwrap().body, b"to the end");
        assert_eq!(c.get("/", &[]).unwrap().status, 204);
        assert_eq!(*seen.connects.borrow(), 3);
    }

    #[test]
    fn sizes_are_bounded() {
        let big: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n";
        let (mut c, _) = client(vec![big], 4096);
        assert!(matches!(c.get("/", &[]), Err(HttpError::TooLarge(_))));

        let chunks: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n";
        let (mut c, _) = client(vec![chunks], 4096);
        assert!(matches!(c.get("/", &[]), Err(HttpError::TooLarge(_))));

        let endless_head = vec![b'X'; MAX_HEAD_BYTES + 100].leak();
        let mut reply = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        reply.extend_from_slice(endless_head);
        let (mut c, _) = client(vec![reply.leak()], 4096);
        assert!(matches!(c.get("/", &[]), Err(HttpError::TooLarge(_))));
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let (mut c, _) = client(vec![b"SSH-2.0-OpenSSH_9.6\r\n\r\n"], 4096);
        assert!(matches!(c.get("/", &[]), Err(HttpError::Protocol(_))));
        let (mut c, _) = client(
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
            4096,
        );
        let err = c.get("/", &[]).unwrap_err();
        assert!(matches!(&err, HttpError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }
}
