//! Just enough HTTP/1.1 for the demo API: read one bounded request head at a
//! time off a keep-alive connection, write one response.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most headers a request may carry; more is a bad request.
const MAX_HEADERS: usize = 32;

/// Chunk size of chunked responses: small, so even short pages come in
/// several chunks and clients' chunk decoders get exercised.
const CHUNK: usize = 1024;

/// A request head, reduced to what the API looks at.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
}

#[cfg(test)]
impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read; each is answered (if at all) and the
/// connection closed, since the stream position is no longer trustworthy.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed or broke the connection (or closed it between requests).
    Gone,
    /// The head exceeded the size limit: answer 431.
    TooLarge,
    /// Not parseable HTTP/1.x, or a request with a body: answer 400.
    Bad(String),
}

/// Reads the next request head from `stream`. `buf` carries bytes already read
/// past the previous request (pipelining) and keeps those past this one.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    max_bytes: usize,
) -> Result<Request, ReadError> {
    loop {
        if let Some(req) = parse(buf)? {
            return Ok(req);
        }
        if buf.len() >= max_bytes {
            return Err(ReadError::TooLarge);
        }
        let mut chunk = [0u8; 4096];
        let want = chunk.len().min(max_bytes - buf.len());
        match stream.read(&mut chunk[..want]).await {
            Ok(0) | Err(_) => return Err(ReadError::Gone),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Parses a complete head at the start of `buf` and removes it; `None` when
/// more bytes are needed.
fn parse(buf: &mut Vec<u8>) -> Result<Option<Request>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ReadError::Bad(format!("malformed request: {e}"))),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(ReadError::Bad("incomplete request line".into()));
    };
    let mut authorization = None;
    // HTTP/1.1 keeps connections open unless told otherwise; 1.0 closes unless told.
    let mut keep_alive = version == 1;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ReadError::Bad(format!("header `{}` is not UTF-8", h.name)))?;
        if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_owned());
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && value.trim() != "0")
        {
            // Nothing here takes a body; refusing one keeps the framing simple.
            return Err(ReadError::Bad("request bodies are not accepted".into()));
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = parse_query(query)?;
    let request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        authorization,
        keep_alive,
    };
    buf.drain(..len);
    Ok(Some(request))
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, ReadError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space in query strings).
fn percent_decode(s: &str) -> Result<String, ReadError> {
    let bad = || ReadError::Bad(format!("bad percent-encoding in `{s}`"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A response to write.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra header lines, e.g. `("WWW-Authenticate", "Bearer")`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    /// A JSON `{"error": message}` response.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }
}

/// Writes `resp`, framed by `Content-Length` or, if `chunked`, by chunked
/// transfer coding; says `Connection: close` unless `keep_alive`.
pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    resp: &Response,
    chunked: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    use std::fmt::Write;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type
    );
    for (name, value) in &resp.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        let _ = write!(head, "Content-Length: {}\r\n", resp.body.len());
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");

    let mut out = head.into_bytes();
    if chunked {
        for chunk in resp.body.chunks(CHUNK) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(&resp.body);
    }
    stream.write_all(&out).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_and_keeps_what_follows() {
        let mut buf = b"GET /v1/customers?limit=2&cursor=a%2Db+c HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\nGET /next".to_vec();
        let req = parse(&mut buf).unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/v1/customers");
        assert_eq!(req.param("limit"), Some("2"));
        assert_eq!(req.param("cursor"), Some("a-b c"));
        assert_eq!(req.authorization.as_deref(), Some("Bearer t"));
        assert!(req.keep_alive);
        assert_eq!(buf, b"GET /next");
        assert!(parse(&mut buf).unwrap().is_none());
    }

    #[test]
    fn connection_close_and_http10() {
        let mut buf = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec();
        assert!(!parse(&mut buf).unwrap().unwrap().keep_alive);
        let mut buf = b"GET / HTTP/1.0\r\n\r\n".to_vec();
        assert!(!parse(&mut buf).unwrap().unwrap().keep_alive);
    }

    #[test]
    fn refuses_bodies_and_garbage() {
        let mut buf = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        assert!(matches!(parse(&mut buf), Err(ReadError::Bad(_))));
        let mut buf = b"\x16\x03\x01 hello\r\n\r\n".to_vec();
        assert!(matches!(parse(&mut buf), Err(ReadError::Bad(_))));
        let mut buf = b"GET /?x=%zz HTTP/1.1\r\n\r\n".to_vec();
        assert!(matches!(parse(&mut buf), Err(ReadError::Bad(_))));
    }

    #[tokio::test]
    async fn oversized_heads_are_refused() {
        let head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100));
        let mut stream = head.as_bytes();
        let mut buf = Vec::new();
        let err = read_request(&mut stream, &mut buf, 64).await.unwrap_err();
        assert!(matches!(err, ReadError::TooLarge));
    }

    #[tokio::test]
    async fn chunked_framing() {
        let mut out = Vec::new();
        let resp = Response {
            status: 200,
            content_type: "application/json",
            headers: vec![],
            body: vec![b'x'; CHUNK + 1],
        };
        write_response(&mut out, &resp, true, false).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n400\r\n"));
        assert!(text.ends_with("\r\n1\r\nx\r\n0\r\n\r\n"));
    }
}
