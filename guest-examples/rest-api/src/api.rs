//! The customers API over the connector's network handle: one page per call,
//! HTTP statuses turned into errors a person can act on.

use std::io;

use airlock_sdk::{Connection, Error, Result, net};
use serde::Deserialize;

use crate::http::{Client, HttpError, Response};

/// The largest response body accepted. A page of 1000 customers is well under
/// 1 MiB; this only stops a misbehaving server from filling the sandbox's memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of an error body to quote in a message.
const QUOTE_BYTES: usize = 200;

type Connect = Box<dyn FnMut() -> io::Result<Connection>>;

/// One page of the API's answer.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub data: Vec<ApiCustomer>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A customer as the API sends it; turned into a row by [`crate::rows`].
#[derive(Debug, Deserialize)]
pub struct ApiCustomer {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub amount: Option<Amount>,
    pub updated_at: String,
}

/// A money amount: the API sends a decimal string, but a number is accepted too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Number(serde_json::Number),
}

/// What to ask for.
pub struct PageRequest<'a> {
    /// Only rows with `updated_at >=` this (µs since the epoch).
    pub updated_since: Option<i64>,
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub cursor: Option<&'a str>,
}

/// The API behind one endpoint, on one kept-alive connection.
pub struct Api {
    client: Client<Connection, Connect>,
    endpoint: String,
    path: String,
    /// `Bearer <token>`; never logged or put in a message.
    authorization: Option<String>,
}

impl Api {
    /// Looks the endpoint up (no connection is made until the first request).
    pub fn new(endpoint: &str, path: &str, token: Option<&str>) -> Result<Api> {
        let ep = net::endpoint(endpoint).ok_or_else(|| {
            Error::config(format!(
                "there is no endpoint `{endpoint}` in the connection config: \
                 add `[endpoints.{endpoint}]` there, or set `endpoint` to one that exists"
            ))
        })?;
        if ep.tls == net::TlsMode::Require && !ep.tls_immediate {
            return Err(Error::config(format!(
                "endpoint `{endpoint}` is set up for in-band TLS (STARTTLS-style), which HTTP \
                 does not use: configure it for a TLS handshake on connect (HTTPS)"
            )));
        }
        let tls = ep.tls_immediate && ep.tls != net::TlsMode::Disable;
        if token.is_some() && !tls {
            airlock_sdk::log::warn!(
                "endpoint `{endpoint}` is clear text: the bearer token travels unencrypted"
            );
        }
        // The Host header carries the port only when it is not the scheme's default.
        let default_port = if tls { 443 } else { 80 };
        let host = if ep.port == default_port {
            ep.host.clone()
        } else {
            format!("{}:{}", ep.host, ep.port)
        };
        let name = ep.name.clone();
        let connect: Connect = Box::new(move || net::connect(&name).map_err(io::Error::from));
        Ok(Api {
            client: Client::new(host, MAX_BODY_BYTES, connect),
            endpoint: endpoint.to_owned(),
            path: path.to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
        })
    }

    /// Fetches one page.
    pub fn page(&mut self, req: &PageRequest<'_>) -> Result<Page> {
        let target = self.target(req);
        let mut headers = Vec::new();
        if let Some(auth) = &self.authorization {
            headers.push(("Authorization", auth.as_str()));
        }
        let resp = self
            .client
            .get(&target, &headers)
            .map_err(|e| self.transport_error(e))?;
        self.check_status(&resp)?;
        serde_json::from_slice(&resp.body).map_err(|e| {
            let what = match resp.content_type.as_deref() {
                Some(ct) if !ct.contains("json") => format!("`{ct}`, not JSON"),
                _ => format!("not the expected JSON ({e})"),
            };
            Error::source(format!(
                "GET {} on endpoint `{}` answered with {what}: {}",
                self.path,
                self.endpoint,
                quote(&resp.body)
            ))
        })
    }

    /// `path?limit=..&updated_since=..&cursor=..`.
    fn target(&self, req: &PageRequest<'_>) -> String {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        let mut target = format!("{}{sep}limit={}", self.path, req.limit);
        if let Some(since) = req.updated_since {
            target.push_str(&format!("&updated_since={since}"));
        }
        if let Some(cursor) = req.cursor {
            target.push_str("&cursor=");
            target.push_str(&percent_encode(cursor));
        }
        target
    }

    fn check_status(&self, resp: &Response) -> Result<()> {
        let (path, endpoint, status) = (&self.path, &self.endpoint, resp.status);
        match status {
            200..=299 => Ok(()),
            401 | 403 if self.authorization.is_none() => Err(Error::auth(format!(
                "the API on endpoint `{endpoint}` wants credentials (HTTP {status}): set `token`"
            ))),
            401 | 403 => Err(Error::auth(format!(
                "the API on endpoint `{endpoint}` refused the token (HTTP {status}): \
                 check that `token` is current and may read {path}"
            ))),
            404 => Err(Error::config(format!(
                "`path` {path} does not exist on endpoint `{endpoint}` (HTTP 404): \
                 check `path` in the config"
            ))),
            500..=599 => Err(Error::source(format!(
                "the API on endpoint `{endpoint}` failed with HTTP {status} for GET {path}: {}",
                quote(&resp.body)
            ))),
            _ => Err(Error::source(format!(
                "the API on endpoint `{endpoint}` answered HTTP {status} to GET {path}: {}",
                quote(&resp.body)
            ))),
        }
    }

    fn transport_error(&self, e: HttpError) -> Error {
        let endpoint = &self.endpoint;
        match e {
            HttpError::Io(e) => {
                Error::network(format!("endpoint `{endpoint}`: {}", net::NetError::from(e)))
            }
            HttpError::ClosedBeforeResponse => Error::network(format!(
                "endpoint `{endpoint}` closed the connection without answering"
            )),
            HttpError::Protocol(m) => Error::source(format!(
                "endpoint `{endpoint}` does not answer like an HTTP/1.1 server: {m}"
            )),
            HttpError::TooLarge(m) => {
                Error::source(format!("endpoint `{endpoint}` sent a {m}; refused"))
            }
        }
    }
}

/// Encodes everything but RFC 3986's unreserved characters, so an opaque
/// cursor survives the query string whatever it holds.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The start of a body, printable, for an error message.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_BYTES)]);
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > QUOTE_BYTES {
        text.push('…');
    }
    if text.trim().is_empty() {
        "(empty body)".into()
    } else {
        format!("`{}`", text.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_cursors() {
        assert_eq!(percent_encode("1767225600000000_3"), "1767225600000000_3");
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn quotes_are_short_and_printable() {
        assert_eq!(quote(b""), "(empty body)");
        assert_eq!(quote(b"oops\r\n"), "`oops`");
        let long = quote(&[b'x'; 500]);
        assert!(long.chars().count() < 210 && long.ends_with("…`"));
    }

    #[test]
    fn pages_parse_with_string_or_number_amounts() {
        let page: Page = serde_json::from_str(
            r#"{"data":[{"id":1,"name":"A","email":null,"plan":"pro","amount":"1.50",
                 "updated_at":"2026-01-01T00:00:00Z"},
                {"id":2,"amount":3.25,"updated_at":"2026-01-01T00:00:00Z","extra":true}],
                "next_cursor":null}"#,
        )
        .unwrap();
        assert_eq!(page.data.len(), 2);
        assert!(matches!(&page.data[0].amount, Some(Amount::Text(t)) if t == "1.50"));
        assert!(matches!(&page.data[1].amount, Some(Amount::Number(_))));
        assert_eq!(page.next_cursor, None);
    }
}
