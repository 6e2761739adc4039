//! PostgreSQL's `ErrorResponse`, and what each failure means to the user.

use std::fmt;
use std::io;

use airlock_sdk::{Error, NetError};
use postgres_protocol::message::backend::ErrorResponseBody;

/// The fields of an `ErrorResponse` (or `NoticeResponse`) a person needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `ERROR`, `FATAL`, `WARNING`, ... (the untranslated `V` field when sent).
    pub severity: String,
    /// The SQLSTATE, e.g. `28P01`.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The optional detail.
    pub detail: Option<String>,
    /// The optional hint.
    pub hint: Option<String>,
}

impl ServerError {
    /// Reads the fields of an `ErrorResponse`/`NoticeResponse` body.
    pub fn parse(body: &ErrorResponseBody) -> io::Result<ServerError> {
        Self::from_fields(body.fields())
    }

    /// Reads `(type, value)` fields as `ErrorFields` yields them.
    pub fn from_fields<'a, I>(mut fields: I) -> io::Result<ServerError>
    where
        I: fallible_iterator::FallibleIterator<
                Item = postgres_protocol::message::backend::ErrorField<'a>,
                Error = io::Error,
            >,
    {
        let mut e = ServerError::default();
        let mut localized_severity = String::new();
        while let Some(f) = fields.next()? {
            let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
            match f.type_() {
                b'V' => e.severity = v,
                b'S' => localized_severity = v,
                b'C' => e.code = v,
                b'M' => e.message = v,
                b'D' => e.detail = Some(v),
                b'H' => e.hint = Some(v),
                _ => {}
            }
        }
        if e.severity.is_empty() {
            e.severity = localized_severity;
        }
        Ok(e)
    }
}

/// `message (SQLSTATE code). detail. Hint: hint`
impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.code)?;
        if let Some(d) = &self.detail {
            write!(f, ". {}", d.trim_end_matches('.'))?;
        }
        if let Some(h) = &self.hint {
            write!(f, ". Hint: {h}")?;
        }
        Ok(())
    }
}

/// Why talking to the server failed.
#[derive(Debug)]
pub enum PgError {
    /// The byte stream failed (the host's network error is inside).
    Io(io::Error),
    /// The server answered with an `ErrorResponse`.
    Server(ServerError),
    /// The server sent something this client does not expect.
    Protocol(String),
    /// Authentication could not even be tried (method, missing password).
    Auth(String),
    /// TLS is required but the server answered the SSLRequest with `N`.
    TlsRefused,
    /// A message over the size limit.
    TooLarge {
        /// The message's type byte.
        tag: u8,
        /// Its announced length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The row callback failed; passed through unchanged.
    Row(Error),
}

impl From<io::Error> for PgError {
    fn from(e: io::Error) -> Self {
        PgError::Io(e)
    }
}

/// What a failure is about, for the message.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The endpoint's host, as the connection config names it.
    pub host: &'a str,
    /// The endpoint's name.
    pub endpoint: &'a str,
    /// The user the connector logs in as.
    pub user: &'a str,
    /// The `schema.table` being read, if any.
    pub table: Option<&'a str>,
}

impl PgError {
    /// The airlock error a person can act on. Never holds the password: no
    /// message here is built from it, and the server never echoes it.
    pub fn into_error(self, ctx: Context<'_>) -> Error {
        let host = ctx.host;
        match self {
            PgError::Io(e) => Error::network(format!(
                "PostgreSQL at {host} (endpoint `{}`): {}",
                ctx.endpoint,
                NetError::from(e)
            )),
            PgError::Server(e) => server_error(&e, ctx),
            PgError::Protocol(m) => Error::source(format!(
                "PostgreSQL at {host}: unexpected answer from the server: {m}"
            )),
            PgError::Auth(m) => Error::auth(format!("PostgreSQL at {host}: {m}")),
            PgError::TlsRefused => Error::config(format!(
                "PostgreSQL at {host} refuses TLS (it answered the SSLRequest with `N`), but \
                 endpoint `{}` requires it: enable TLS on the server (`ssl = on` with a \
                 certificate in postgresql.conf), or set `tls = \"prefer\"` or `\"disable\"` \
                 on the endpoint if clear text is acceptable",
                ctx.endpoint
            )),
            PgError::TooLarge { tag, len, limit } => Error::source(format!(
                "PostgreSQL at {host} sent a {} of {} MiB{}, over the limit of {} MiB; refused",
                message_name(tag),
                len.div_ceil(1 << 20),
                ctx.table
                    .map(|t| format!(" from `{t}`"))
                    .unwrap_or_default(),
                limit >> 20
            )),
            PgError::Row(e) => e,
        }
    }
}

fn message_name(tag: u8) -> &'static str {
    match tag {
        b'D' => "row",
        b'E' => "error message",
        b'T' => "row description",
        _ => "message",
    }
}

/// Maps an `ErrorResponse` by its SQLSTATE.
fn server_error(e: &ServerError, ctx: Context<'_>) -> Error {
    let host = ctx.host;
    let table = ctx.table.unwrap_or("?");
    let code = e.code.as_str();
    match code {
        // invalid_authorization_specification, invalid_password
        "28000" | "28P01" => Error::auth(format!("PostgreSQL at {host}: {e}")),
        // invalid_catalog_name
        "3D000" => Error::config(format!(
            "PostgreSQL at {host}: {e}: check `database` in the config"
        )),
        // undefined_table
        "42P01" if ctx.table.is_some() => Error::config(format!(
            "table `{table}` does not exist at PostgreSQL at {host}: {e}: \
             check `tables`/`schemas` in the config"
        )),
        // undefined_column (a cursor column dropped since discover)
        "42703" if ctx.table.is_some() => Error::config(format!(
            "table `{table}` at PostgreSQL at {host}: {e}: check `cursor`/`cursors` in the config"
        )),
        // insufficient_privilege
        "42501" => Error::auth(match ctx.table {
            Some(t) => format!(
                "PostgreSQL at {host}: user \"{}\" may not read table `{t}`: {e}: \
                 GRANT SELECT ON {t} TO \"{}\" (and USAGE on its schema)",
                ctx.user, ctx.user
            ),
            None => format!("PostgreSQL at {host}: {e}"),
        }),
        // connection_exception, too_many_connections, admin/crash shutdown,
        // cannot_connect_now: the server is there but not serving us now.
        c if c.starts_with("08") || matches!(c, "53300" | "57P01" | "57P02" | "57P03") => {
            Error::network(format!("PostgreSQL at {host}: {e}"))
        }
        // data_exception, integrity_constraint_violation: the message and its
        // detail often quote the offending value (`invalid input syntax for
        // type integer: "..."`), which is the user's data; the server's own
        // log has it in full.
        c if c.starts_with("22") || c.starts_with("23") => Error::source(format!(
            "PostgreSQL at {host}{}: a {} error (SQLSTATE {code}); the server's message is \
             withheld as it may quote a row's value: find it in the server's log, or run the \
             table's query in psql",
            ctx.table
                .map(|t| format!(", reading `{t}`"))
                .unwrap_or_default(),
            if c.starts_with("22") {
                "data"
            } else {
                "constraint"
            },
        )),
        _ => Error::source(match ctx.table {
            Some(t) => format!("PostgreSQL at {host}, reading `{t}`: {e}"),
            None => format!("PostgreSQL at {host}: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::ErrorKind;

    fn err(code: &str, message: &str) -> ServerError {
        ServerError {
            severity: "FATAL".into(),
            code: code.into(),
            message: message.into(),
            ..Default::default()
        }
    }

    fn ctx(table: Option<&str>) -> Context<'_> {
        Context {
            host: "db.example",
            endpoint: "postgres",
            user: "reader",
            table,
        }
    }

    #[test]
    fn parses_fields_from_the_wire() {
        // An ErrorResponse body: (type byte, cstring)*, then a zero byte.
        let mut body = Vec::new();
        for (t, v) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed for user \"x\""),
            (b'D', "some detail"),
            (b'H', "some hint"),
            (b'R', "auth_failed"),
        ] {
            body.push(t);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut frame = vec![b'E'];
        frame.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        frame.extend_from_slice(&body);
        let mut buf = bytes::BytesMut::from(&frame[..]);
        let Some(postgres_protocol::message::backend::Message::ErrorResponse(b)) =
            postgres_protocol::message::backend::Message::parse(&mut buf).unwrap()
        else {
            panic!("not an ErrorResponse");
        };
        let e = ServerError::parse(&b).unwrap();
        assert_eq!(e.severity, "FATAL");
        assert_eq!(e.code, "28P01");
        assert_eq!(e.detail.as_deref(), Some("some detail"));
        assert_eq!(
            e.to_string(),
            "password authentication failed for user \"x\" (SQLSTATE 28P01). some detail. \
             Hint: some hint"
        );
    }

    #[test]
    fn sqlstates_map_to_kinds() {
        let e = PgError::Server(err(
            "28P01",
            "password authentication failed for user \"x\"",
        ))
        .into_error(ctx(None));
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(
            e.message,
            "PostgreSQL at db.example: password authentication failed for user \"x\" \
             (SQLSTATE 28P01)"
        );
        let kind = |code: &str, table| PgError::Server(err(code, "m")).into_error(ctx(table)).kind;
        assert_eq!(kind("28000", None), ErrorKind::Auth);
        assert_eq!(kind("3D000", None), ErrorKind::Config);
        assert_eq!(kind("42P01", Some("public.t")), ErrorKind::Config);
        assert_eq!(kind("42501", Some("public.t")), ErrorKind::Auth);
        assert_eq!(kind("53300", None), ErrorKind::Network);
        assert_eq!(kind("57014", Some("public.t")), ErrorKind::Source);

        let e = PgError::Server(err("42P01", "relation \"public.t\" does not exist"))
            .into_error(ctx(Some("public.t")));
        assert!(
            e.message.starts_with("table `public.t` does not exist"),
            "{}",
            e.message
        );
        let e = PgError::Server(err("42501", "permission denied for table t"))
            .into_error(ctx(Some("public.t")));
        assert!(
            e.message.contains("GRANT SELECT ON public.t TO \"reader\""),
            "{}",
            e.message
        );
        let e =
            PgError::Server(err("3D000", "database \"nope\" does not exist")).into_error(ctx(None));
        assert!(e.message.contains("check `database`"), "{}", e.message);
    }

    #[test]
    fn data_errors_never_quote_the_value() {
        let mut bad_cast = err(
            "22P02",
            "invalid input syntax for type integer: \"hunter2\"",
        );
        bad_cast.detail = Some("value \"hunter2\" in row 7".into());
        let e = PgError::Server(bad_cast).into_error(ctx(Some("public.v")));
        assert_eq!(e.kind, ErrorKind::Source);
        assert_eq!(
            e.message,
            "PostgreSQL at db.example, reading `public.v`: a data error (SQLSTATE 22P02); the \
             server's message is withheld as it may quote a row's value: find it in the \
             server's log, or run the table's query in psql"
        );
        let e = PgError::Server(err("23505", "duplicate key value: (id)=(hunter2)"))
            .into_error(ctx(None));
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains("constraint error (SQLSTATE 23505)"));
    }

    #[test]
    fn client_side_failures() {
        let e = PgError::TlsRefused.into_error(ctx(None));
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("refuses TLS") && e.message.contains("ssl = on"));
        let e = PgError::TooLarge {
            tag: b'D',
            len: 300 << 20,
            limit: 64 << 20,
        }
        .into_error(ctx(Some("public.t")));
        assert_eq!(e.kind, ErrorKind::Source);
        assert!(
            e.message.contains("row of 300 MiB from `public.t`"),
            "{}",
            e.message
        );
        let e =
            PgError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "eof")).into_error(ctx(None));
        assert_eq!(e.kind, ErrorKind::Network);
    }
}
