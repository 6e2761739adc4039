//! One PostgreSQL session over a byte stream: TLS negotiation, startup and
//! authentication, small catalog queries, and a streamed portal for table reads.
//!
//! Message framing and SCRAM are `postgres-protocol`'s; this module is the
//! client's state machine. It is generic over the stream so unit tests drive it
//! with a scripted server; in the connector the stream is an
//! [`airlock_sdk::Connection`].

use std::io::{self, Read, Write};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{DataRowBody, Message};
use postgres_protocol::message::frontend;

use crate::error::{PgError, ServerError};

/// How much is asked of the stream per read; the SDK hands out at most 64 KiB.
const READ_CHUNK: usize = 64 * 1024;

/// A byte stream that can start TLS in-band.
pub trait Transport: Read + Write {
    /// Hands the stream to the host's TLS handshake (after the server said `S`).
    fn upgrade_tls(&mut self) -> io::Result<()>;
}

impl Transport for airlock_sdk::Connection {
    fn upgrade_tls(&mut self) -> io::Result<()> {
        airlock_sdk::Connection::upgrade_tls(self).map_err(io::Error::from)
    }
}

/// Whether and how to ask the server for TLS before the startup message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsPlan {
    /// Send no SSLRequest: TLS is off, or the host already did it on connect.
    None,
    /// Ask; go on in clear text if the server says no.
    Prefer,
    /// Ask; fail if the server says no.
    Require,
}

impl TlsPlan {
    /// The plan for an endpoint's TLS settings.
    pub fn for_endpoint(mode: airlock_sdk::TlsMode, immediate: bool) -> TlsPlan {
        use airlock_sdk::TlsMode;
        match (mode, immediate) {
            // Direct TLS: the host shook hands before `connect` returned; an
            // SSLRequest inside TLS would be a protocol error.
            (TlsMode::Disable, _) | (_, true) => TlsPlan::None,
            (TlsMode::Prefer, false) => TlsPlan::Prefer,
            (TlsMode::Require, false) => TlsPlan::Require,
        }
    }
}

/// Who to log in as.
pub struct Login<'a> {
    /// The role.
    pub user: &'a str,
    /// The database.
    pub database: &'a str,
    /// The password, if the config has one. Never logged or put in a message.
    pub password: Option<&'a str>,
}

/// What came back from a statement on a streamed portal.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    /// `max_rows` rows came and the portal has more.
    Suspended,
    /// The portal is exhausted.
    Done,
}

/// A logged-in session.
pub struct Session<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
    max_message: usize,
    /// `server_version` as the server reported it at startup.
    pub server_version: String,
}

/// Negotiates TLS as `plan` says; returns whether the server agreed to TLS.
///
/// Reads exactly one byte after the SSLRequest: the TLS handshake starts
/// right after `S`, so nothing may be read ahead of it.
pub fn negotiate_tls<S: Transport>(stream: &mut S, plan: TlsPlan) -> Result<bool, PgError> {
    if plan == TlsPlan::None {
        return Ok(false);
    }
    let mut buf = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut buf);
    stream.write_all(&buf)?;
    stream.flush()?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer)?;
    match (answer[0], plan) {
        (b'S', _) => {
            stream.upgrade_tls()?;
            Ok(true)
        }
        (b'N', TlsPlan::Require) => Err(PgError::TlsRefused),
        (b'N', _) => Ok(false),
        // A server too old for SSLRequest answers with an ErrorResponse.
        (b'E', _) => Err(PgError::Protocol(
            "the server rejected the SSLRequest (is it PostgreSQL 7.1 or newer?)".into(),
        )),
        (other, _) => Err(PgError::Protocol(format!(
            "answered the SSLRequest with byte {other:#04x} instead of `S` or `N`"
        ))),
    }
}

impl<S: Read + Write> Session<S> {
    /// Sends the startup message on `stream` (TLS already negotiated),
    /// authenticates, and waits until the server is ready for queries.
    ///
    /// Only parameters every PostgreSQL and the common poolers accept go in the
    /// startup message; the rest are set per transaction (see
    /// [`Session::begin_snapshot`]).
    pub fn start(stream: S, login: &Login<'_>, max_message: usize) -> Result<Self, PgError> {
        let mut s = Session {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(4096),
            max_message,
            server_version: String::new(),
        };
        let params = [
            ("user", login.user),
            ("database", login.database),
            ("application_name", "airlock"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"),
            ("TimeZone", "UTC"),
        ];
        frontend::startup_message(params.iter().copied(), &mut s.wbuf)?;
        s.send()?;
        s.authenticate(login)?;
        loop {
            match s.read_message()? {
                Message::ReadyForQuery(_) => return Ok(s),
                Message::BackendKeyData(_) => {}
                other => return Err(unexpected(&other, "during startup")),
            }
        }
    }

    fn authenticate(&mut self, login: &Login<'_>) -> Result<(), PgError> {
        let password = || {
            login.password.ok_or_else(|| {
                PgError::Auth(format!(
                    "the server wants a password for user \"{}\" but the config has no \
                     `password`",
                    login.user
                ))
            })
        };
        loop {
            match self.read_message()? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut self.wbuf)?;
                    self.send()?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(login.user.as_bytes(), password()?.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.wbuf)?;
                    self.send()?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut scram = false;
                    while let Some(m) = mechanisms.next()? {
                        scram |= m == SCRAM_SHA_256;
                    }
                    if !scram {
                        return Err(PgError::Auth(
                            "the server offers no SASL mechanism this connector speaks \
                             (it speaks SCRAM-SHA-256 without channel binding)"
                                .into(),
                        ));
                    }
                    self.scram(password()?)?;
                }
                Message::AuthenticationKerberosV5
                | Message::AuthenticationScmCredential
                | Message::AuthenticationGss
                | Message::AuthenticationSspi => {
                    return Err(PgError::Auth(format!(
                        "the server asks user \"{}\" for Kerberos/GSSAPI/SSPI authentication, \
                         which this connector does not support: allow scram-sha-256 or md5 \
                         for it in pg_hba.conf",
                        login.user
                    )));
                }
                other => return Err(unexpected(&other, "during authentication")),
            }
        }
    }

    /// SCRAM-SHA-256 without channel binding: the TLS session (and so its
    /// certificate) is the host's, invisible to the connector.
    fn scram(&mut self, password: &str) -> Result<(), PgError> {
        let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), &mut self.wbuf)?;
        self.send()?;
        // A wrong password is an ErrorResponse in place of the next SASL step.
        let body = match self.read_message()? {
            Message::AuthenticationSaslContinue(body) => body,
            other => return Err(unexpected(&other, "for the SCRAM server-first message")),
        };
        scram
            .update(body.data())
            .map_err(|e| PgError::Protocol(format!("SCRAM: {e}")))?;
        frontend::sasl_response(scram.message(), &mut self.wbuf)?;
        self.send()?;
        let body = match self.read_message()? {
            Message::AuthenticationSaslFinal(body) => body,
            other => return Err(unexpected(&other, "for the SCRAM server-final message")),
        };
        // A server that cannot prove it knows the password is not the server.
        scram.finish(body.data()).map_err(|e| {
            PgError::Protocol(format!(
                "SCRAM: the server's signature does not verify: {e}"
            ))
        })
    }

    /// Runs `sql` (one statement, no parameters) with the simple query protocol
    /// and discards any rows.
    pub fn execute(&mut self, sql: &str) -> Result<(), PgError> {
        frontend::query(sql, &mut self.wbuf)?;
        self.send()?;
        self.finish_query()
    }

    /// Runs `sql` with text `params` and returns every row as text: for small
    /// catalog queries only (the whole result is held in memory).
    pub fn query(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<Vec<Vec<Option<String>>>, PgError> {
        self.bind_portal(sql, params)?;
        frontend::execute("", 0, &mut self.wbuf)?;
        frontend::sync(&mut self.wbuf);
        self.send()?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.read_message()? {
                Message::ParseComplete | Message::BindComplete | Message::CommandComplete(_) => {}
                Message::DataRow(row) => rows.push(text_row(&row)?),
                Message::ErrorResponse(e) => error = Some(ServerError::parse(&e)?),
                Message::ReadyForQuery(_) => break,
                other => return Err(unexpected(&other, "answering a query")),
            }
        }
        match error {
            Some(e) => Err(PgError::Server(e)),
            None => Ok(rows),
        }
    }

    /// Starts a read-only `REPEATABLE READ` transaction, so a table is read
    /// from one snapshot across all its fetches, and pins the output formats
    /// the value parsers expect.
    pub fn begin_snapshot(&mut self) -> Result<(), PgError> {
        // SET LOCAL: these last exactly as long as the transaction, which also
        // works through a transaction-pooling proxy.
        self.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
             SET LOCAL DateStyle = 'ISO'; SET LOCAL TimeZone = 'UTC'; \
             SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; \
             SET LOCAL IntervalStyle = 'postgres'",
        )
    }

    /// Ends the transaction begun by [`Session::begin_snapshot`].
    pub fn commit(&mut self) -> Result<(), PgError> {
        frontend::sync(&mut self.wbuf);
        self.send()?;
        self.finish_query()?;
        self.execute("COMMIT")
    }

    /// Parses and binds `sql` with text `params` to the unnamed portal, and
    /// fetches the first `max_rows` rows (see [`Session::fetch`]).
    pub fn open_portal<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        max_rows: i32,
        on_row: F,
    ) -> Result<Fetched, PgError>
    where
        F: FnMut(&DataRowBody) -> airlock_sdk::Result<()>,
    {
        self.bind_portal(sql, params)?;
        self.fetch(max_rows, on_row)
    }

    /// Executes the open portal for up to `max_rows` more rows, handing each
    /// to `on_row` as it arrives: never more than one message is held.
    ///
    /// Inside the transaction each round trip ends with `Flush`, not `Sync`,
    /// so the portal stays open between fetches.
    pub fn fetch<F>(&mut self, max_rows: i32, mut on_row: F) -> Result<Fetched, PgError>
    where
        F: FnMut(&DataRowBody) -> airlock_sdk::Result<()>,
    {
        frontend::execute("", max_rows, &mut self.wbuf)?;
        frontend::flush(&mut self.wbuf);
        self.send()?;
        loop {
            match self.read_message()? {
                Message::DataRow(row) => on_row(&row).map_err(PgError::Row)?,
                Message::ParseComplete | Message::BindComplete => {}
                Message::PortalSuspended => return Ok(Fetched::Suspended),
                Message::CommandComplete(_) | Message::EmptyQueryResponse => {
                    return Ok(Fetched::Done);
                }
                Message::ErrorResponse(e) => return Err(PgError::Server(ServerError::parse(&e)?)),
                other => return Err(unexpected(&other, "streaming rows")),
            }
        }
    }

    /// Says goodbye; the stream closes when the session is dropped.
    pub fn close(mut self) {
        frontend::terminate(&mut self.wbuf);
        // The session is over either way; a failure here changes nothing.
        let _ = self.send();
    }

    fn bind_portal(&mut self, sql: &str, params: &[Option<&str>]) -> Result<(), PgError> {
        frontend::parse("", sql, std::iter::empty(), &mut self.wbuf)?;
        frontend::bind(
            "",
            "",
            std::iter::empty(), // every parameter in text format
            params.iter(),
            |p, buf| match p {
                Some(v) => {
                    buf.extend_from_slice(v.as_bytes());
                    Ok(postgres_protocol::IsNull::No)
                }
                None => Ok(postgres_protocol::IsNull::Yes),
            },
            std::iter::empty(), // every result column in text format
            &mut self.wbuf,
        )
        .map_err(|e| match e {
            frontend::BindError::Conversion(e) => PgError::Protocol(e.to_string()),
            frontend::BindError::Serialization(e) => PgError::Io(e),
        })
    }

    /// Reads up to `ReadyForQuery`, failing with the first `ErrorResponse`.
    fn finish_query(&mut self) -> Result<(), PgError> {
        let mut error = None;
        loop {
            match self.read_message()? {
                Message::ReadyForQuery(_) => break,
                Message::ErrorResponse(e) => {
                    error.get_or_insert(ServerError::parse(&e)?);
                }
                Message::CommandComplete(_)
                | Message::EmptyQueryResponse
                | Message::RowDescription(_)
                | Message::DataRow(_)
                | Message::NoData => {}
                other => return Err(unexpected(&other, "answering a command")),
            }
        }
        error.map_or(Ok(()), |e| Err(PgError::Server(e)))
    }

    fn send(&mut self) -> Result<(), PgError> {
        self.stream.write_all(&self.wbuf)?;
        self.stream.flush()?;
        self.wbuf.clear();
        Ok(())
    }

    /// The next message that is not asynchronous chatter (notices, parameter
    /// changes, notifications), which is logged or dropped here.
    fn read_message(&mut self) -> Result<Message, PgError> {
        loop {
            let message = self.read_any()?;
            match message {
                Message::NoticeResponse(n) => {
                    let n = ServerError::from_fields(n.fields())?;
                    airlock_sdk::log::info!("PostgreSQL {}: {n}", n.severity);
                }
                Message::NotificationResponse(_) => {}
                Message::ParameterStatus(p) => {
                    if p.name()? == "server_version" {
                        self.server_version = p.value()?.to_owned();
                    }
                }
                // An ErrorResponse during startup (FATAL) ends the session.
                other => return Ok(other),
            }
        }
    }

    fn read_any(&mut self) -> Result<Message, PgError> {
        loop {
            if self.rbuf.len() >= 5 {
                let len =
                    u32::from_be_bytes([self.rbuf[1], self.rbuf[2], self.rbuf[3], self.rbuf[4]])
                        as usize;
                if len > self.max_message {
                    return Err(PgError::TooLarge {
                        tag: self.rbuf[0],
                        len,
                        limit: self.max_message,
                    });
                }
                if let Some(m) =
                    Message::parse(&mut self.rbuf).map_err(|e| PgError::Protocol(e.to_string()))?
                {
                    return Ok(m);
                }
            }
            self.fill()?;
        }
    }

    /// Appends what the stream has to the read buffer.
    fn fill(&mut self) -> Result<(), PgError> {
        let start = self.rbuf.len();
        self.rbuf.resize(start + READ_CHUNK, 0);
        let n = match self.stream.read(&mut self.rbuf[start..]) {
            Ok(n) => n,
            Err(e) => {
                self.rbuf.truncate(start);
                return Err(e.into());
            }
        };
        self.rbuf.truncate(start + n);
        if n == 0 {
            return Err(PgError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        Ok(())
    }
}

/// A data row as text, for catalog results.
fn text_row(row: &DataRowBody) -> Result<Vec<Option<String>>, PgError> {
    let buf = row.buffer();
    row.ranges()
        .map(|r| Ok(r.map(|r| String::from_utf8_lossy(&buf[r]).into_owned())))
        .collect()
        .map_err(|e: io::Error| PgError::Protocol(e.to_string()))
}

/// An `ErrorResponse` as an error; anything else as a protocol error naming it.
fn unexpected(message: &Message, during: &str) -> PgError {
    if let Message::ErrorResponse(e) = message {
        return match ServerError::parse(e) {
            Ok(e) => PgError::Server(e),
            Err(e) => PgError::Protocol(e.to_string()),
        };
    }
    let name = match message {
        Message::DataRow(_) => "a data row",
        Message::RowDescription(_) => "a row description",
        Message::CopyInResponse(_) | Message::CopyOutResponse(_) => "a COPY response",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::AuthenticationSaslContinue(_) | Message::AuthenticationSaslFinal(_) => {
            "a SASL message"
        }
        _ => "a message",
    };
    PgError::Protocol(format!("{name} {during}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted server: what it will send, and what the client wrote.
    #[derive(Default)]
    struct Script {
        input: io::Cursor<Vec<u8>>,
        written: Vec<u8>,
        upgraded: bool,
    }

    impl Script {
        fn new(server: &[u8]) -> Script {
            Script {
                input: io::Cursor::new(server.to_vec()),
                ..Default::default()
            }
        }

        fn unread(&self) -> usize {
            self.input.get_ref().len() - self.input.position() as usize
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Script {
        fn upgrade_tls(&mut self) -> io::Result<()> {
            self.upgraded = true;
            Ok(())
        }
    }

    /// A backend message: tag, length, body.
    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(extra);
        msg(b'R', &body)
    }

    fn data_row(values: &[Option<&str>]) -> Vec<u8> {
        let mut body = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                Some(v) => {
                    body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    body.extend_from_slice(v.as_bytes());
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        msg(b'D', &body)
    }

    fn ready() -> Vec<u8> {
        msg(b'Z', b"I")
    }

    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

    #[test]
    fn tls_plans_follow_the_endpoint() {
        use airlock_sdk::TlsMode;
        assert_eq!(
            TlsPlan::for_endpoint(TlsMode::Disable, false),
            TlsPlan::None
        );
        assert_eq!(TlsPlan::for_endpoint(TlsMode::Require, true), TlsPlan::None);
        assert_eq!(
            TlsPlan::for_endpoint(TlsMode::Prefer, false),
            TlsPlan::Prefer
        );
        assert_eq!(
            TlsPlan::for_endpoint(TlsMode::Require, false),
            TlsPlan::Require
        );
    }

    #[test]
    fn ssl_request_flow() {
        // 'S': upgrade, and nothing after the answer is read (it is TLS).
        let mut s = Script::new(b"S\x16\x03");
        assert!(negotiate_tls(&mut s, TlsPlan::Require).unwrap());
        assert_eq!(s.written, SSL_REQUEST);
        assert!(s.upgraded);
        assert_eq!(s.unread(), 2);
        // 'N' with require: refused, not upgraded.
        let mut s = Script::new(b"N");
        assert!(matches!(
            negotiate_tls(&mut s, TlsPlan::Require),
            Err(PgError::TlsRefused)
        ));
        assert!(!s.upgraded);
        // 'N' with prefer: clear text.
        let mut s = Script::new(b"N");
        assert!(!negotiate_tls(&mut s, TlsPlan::Prefer).unwrap());
        // No request at all when TLS is off or already done.
        let mut s = Script::new(b"");
        assert!(!negotiate_tls(&mut s, TlsPlan::None).unwrap());
        assert!(s.written.is_empty());
        let mut s = Script::new(b"E");
        assert!(matches!(
            negotiate_tls(&mut s, TlsPlan::Prefer),
            Err(PgError::Protocol(_))
        ));
    }

    fn login<'a>(password: Option<&'a str>) -> Login<'a> {
        Login {
            user: "reader",
            database: "shop",
            password,
        }
    }

    #[test]
    fn md5_login() {
        let mut server = auth(5, &[1, 2, 3, 4]);
        server.extend(auth(0, &[]));
        server.extend(msg(b'S', b"server_version\x0016.2\x00"));
        server.extend(msg(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]));
        server.extend(ready());
        let s = Session::start(Script::new(&server), &login(Some("pw")), 1 << 20).unwrap();
        assert_eq!(s.server_version, "16.2");
        let written = &s.stream.written;
        // The startup message carries the session settings, never the password.
        let startup_len = u32::from_be_bytes(written[..4].try_into().unwrap()) as usize;
        let startup = String::from_utf8_lossy(&written[..startup_len]);
        for p in [
            "user\0reader",
            "database\0shop",
            "client_encoding\0UTF8",
            "TimeZone\0UTC",
        ] {
            assert!(startup.contains(p), "{p}");
        }
        assert!(!String::from_utf8_lossy(written).contains("pw\0"));
        let hash = md5_hash(b"reader", b"pw", [1, 2, 3, 4]);
        let mut expect = BytesMut::new();
        frontend::password_message(hash.as_bytes(), &mut expect).unwrap();
        assert_eq!(&written[startup_len..], &expect[..]);
    }

    #[test]
    fn login_failures() {
        // The server wants a password the config does not have.
        let e = Session::start(Script::new(&auth(3, &[])), &login(None), 1 << 20)
            .err()
            .unwrap();
        assert!(matches!(e, PgError::Auth(m) if m.contains("no `password`")));
        // A FATAL ErrorResponse is the server's error, fields intact.
        let body =
            b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"reader\"\0\0";
        let e = Session::start(Script::new(&msg(b'E', body)), &login(Some("x")), 1 << 20)
            .err()
            .unwrap();
        assert!(matches!(e, PgError::Server(e) if e.code == "28P01"));
        // Only SCRAM-SHA-256-PLUS offered: cannot bind the channel, says so.
        let sasl = auth(10, b"SCRAM-SHA-256-PLUS\0\0");
        let e = Session::start(Script::new(&sasl), &login(Some("x")), 1 << 20)
            .err()
            .unwrap();
        assert!(matches!(e, PgError::Auth(m) if m.contains("SCRAM-SHA-256")));
        // GSSAPI: not supported, with the fix.
        let e = Session::start(Script::new(&auth(7, &[])), &login(Some("x")), 1 << 20)
            .err()
            .unwrap();
        assert!(matches!(e, PgError::Auth(m) if m.contains("pg_hba.conf")));
    }

    fn session(server: &[u8], max_message: usize) -> Session<Script> {
        Session {
            stream: Script::new(server),
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            max_message,
            server_version: "16".into(),
        }
    }

    #[test]
    fn portal_streams_rows_in_fetches() {
        let mut server = msg(b'1', b"");
        server.extend(msg(b'2', b""));
        server.extend(data_row(&[Some("1"), None]));
        // (Notices are logged through the host, which native tests do not have.)
        server.extend(msg(b'S', b"TimeZone\0UTC\0"));
        server.extend(data_row(&[Some("2"), Some("b")]));
        server.extend(msg(b's', b""));
        server.extend(data_row(&[Some("3"), Some("c")]));
        server.extend(msg(b'C', b"SELECT 3\0"));
        let mut s = session(&server, 1 << 20);
        let mut seen = Vec::new();
        let mut on_row = |row: &DataRowBody| {
            seen.push(text_row(row).unwrap());
            Ok(())
        };
        let first = s
            .open_portal("SELECT $1::int", &[Some("7")], 2, &mut on_row)
            .unwrap();
        assert_eq!(first, Fetched::Suspended);
        assert_eq!(s.fetch(2, &mut on_row).unwrap(), Fetched::Done);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], [Some("1".to_owned()), None]);
        // Parse, Bind (the parameter as text), Execute(max 2), Flush; then Execute, Flush.
        let w = &s.stream.written;
        let tags: Vec<u8> = frames(w).into_iter().map(|(t, _)| t).collect();
        assert_eq!(tags, b"PBEHEH");
        assert!(frames(w)[1].1.windows(5).any(|x| x == b"\0\0\0\x017"));
    }

    #[test]
    fn oversized_messages_are_refused_before_they_are_buffered() {
        let mut big = vec![b'D'];
        big.extend_from_slice(&(200u32 << 20).to_be_bytes());
        let mut s = session(&big, 64 << 20);
        let e = s.fetch(10, |_| Ok(())).unwrap_err();
        assert!(matches!(e, PgError::TooLarge { tag: b'D', .. }));
    }

    #[test]
    fn query_errors_and_eof() {
        let mut server = msg(b'E', b"SERROR\0C42P01\0Mrelation \"x\" does not exist\0\0");
        server.extend(ready());
        let mut s = session(&server, 1 << 20);
        let e = s.query("SELECT 1 FROM x", &[]).unwrap_err();
        assert!(matches!(e, PgError::Server(e) if e.code == "42P01"));
        let mut s = session(&msg(b'1', b"")[..3], 1 << 20);
        assert!(matches!(s.query("SELECT 1", &[]), Err(PgError::Io(_))));
    }

    /// `(tag, body)` of each frontend message after the startup.
    fn frames(mut w: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !w.is_empty() {
            let len = u32::from_be_bytes(w[1..5].try_into().unwrap()) as usize;
            out.push((w[0], w[5..1 + len].to_vec()));
            w = &w[1 + len..];
        }
        out
    }
}
