//! A test connector that runs the network probes its config lists and writes
//! one row per probe into `probes (i, endpoint, action, outcome, detail)`:
//! `outcome` is "ok" or the network error kind, `detail` what came back.
//! The host's tests read that table to see what a connector experiences.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Instant;

use airlock_sdk::net::{self, Connection, NetError, NetErrorKind};
use airlock_sdk::{ColumnType, Connector, Output, Result, Table, row};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    probes: Vec<Probe>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Probe {
    endpoint: String,
    action: Action,
    /// Request path for `http-get`.
    #[serde(default)]
    path: String,
    /// Byte count for `send-clear`, `echo` and `bulk-read`.
    #[serde(default)]
    bytes: u64,
    /// Connections for `parallel-echo`.
    #[serde(default)]
    count: u32,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, Debug)]
#[serde(rename_all = "kebab-case")]
enum Action {
    /// Connect and close; detail: the TLS version if any.
    Connect,
    /// `GET path` over HTTP/1.1; detail: the status line and TLS version.
    HttpGet,
    /// Send `bytes` in clear (before any upgrade), then read a line.
    SendClear,
    /// `STARTTLS\r\n`, expect `GO\r\n`, upgrade-tls, `PING\r\n`, read the answer line.
    Starttls,
    /// Write `bytes` and read them back; detail: "echoed N bytes".
    Echo,
    /// Open `count` connections at once, echo `bytes` on each, interleaved.
    ParallelEcho,
    /// Read until the peer closes; detail: "read N bytes in T ms".
    BulkRead,
    /// List endpoints; detail: "name host:port tls" per endpoint.
    Endpoints,
}

struct NetTest;

impl Connector for NetTest {
    type Config = Config;
    type State = ();

    fn check(_: &Config) -> Result<()> {
        Ok(())
    }

    fn discover(_: &Config) -> Result<Vec<Table>> {
        Ok(vec![
            Table::new("probes")
                .column("i", ColumnType::Int)
                .column("endpoint", ColumnType::Text)
                .column("action", ColumnType::Text)
                .column("outcome", ColumnType::Text)
                .nullable("detail", ColumnType::Text)
                .primary_key(["i"]),
        ])
    }

    fn sync(config: &Config, _: (), out: &mut Output<()>) -> Result<()> {
        for (i, p) in config.probes.iter().enumerate() {
            let (outcome, detail) = match run(p) {
                Ok(detail) => ("ok".to_owned(), detail),
                Err(e) => (e.kind_name().to_owned(), e.message().to_owned()),
            };
            out.upsert(
                "probes",
                row![
                    i as i64,
                    p.endpoint.as_str(),
                    format!("{:?}", p.action),
                    outcome,
                    detail
                ],
            )?;
        }
        out.checkpoint(&())
    }
}

/// A probe failure: a network error, or an I/O error on an open connection.
enum Failure {
    Net(NetError),
    Io(std::io::Error),
}

impl Failure {
    fn kind_name(&self) -> &str {
        match self {
            Failure::Net(e) => match e.kind {
                NetErrorKind::UnknownEndpoint => "unknown-endpoint",
                NetErrorKind::Denied => "denied",
                NetErrorKind::Unreachable => "unreachable",
                NetErrorKind::Timeout => "timeout",
                NetErrorKind::Tls => "tls",
                NetErrorKind::Closed => "closed",
            },
            Failure::Io(_) => "io",
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Net(e) => e.message.clone(),
            Failure::Io(e) => e.to_string(),
        }
    }
}

impl From<NetError> for Failure {
    fn from(e: NetError) -> Self {
        Failure::Net(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

fn run(p: &Probe) -> std::result::Result<String, Failure> {
    match p.action {
        Action::Endpoints => Ok(net::endpoints()
            .iter()
            .map(|e| format!("{} {}:{} {:?}", e.name, e.host, e.port, e.tls))
            .collect::<Vec<_>>()
            .join("; ")),
        Action::Connect => {
            let c = net::connect(&p.endpoint)?;
            Ok(c.tls_version().unwrap_or_else(|| "clear".into()))
        }
        Action::HttpGet => {
            let mut c = net::connect(&p.endpoint)?;
            let host = net::endpoints()
                .into_iter()
                .find(|e| e.name == p.endpoint)
                .map(|e| e.host)
                .unwrap_or_default();
            write!(
                c,
                "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                p.path
            )?;
            c.flush()?;
            let tls = c.tls_version().unwrap_or_else(|| "clear".into());
            let mut lines = BufReader::new(c);
            let mut status = String::new();
            lines.read_line(&mut status)?;
            Ok(format!("{} via {tls}", status.trim_end()))
        }
        Action::SendClear => {
            let mut c = net::connect(&p.endpoint)?;
            c.write_all(&vec![b'x'; p.bytes as usize])?;
            c.write_all(b"\r\n")?;
            c.flush()?;
            let mut line = String::new();
            BufReader::new(&mut c).read_line(&mut line)?;
            Ok(line.trim_end().to_owned())
        }
        Action::Starttls => {
            let mut c = net::connect(&p.endpoint)?;
            c.write_all(b"STARTTLS\r\n")?;
            c.flush()?;
            let mut go = [0u8; 4];
            c.read_exact(&mut go)?;
            if &go != b"GO\r\n" {
                return Ok(format!("server said {:?}", String::from_utf8_lossy(&go)));
            }
            c.upgrade_tls()?;
            c.write_all(b"PING\r\n")?;
            c.flush()?;
            let mut line = String::new();
            BufReader::new(&mut c).read_line(&mut line)?;
            Ok(format!(
                "{} via {}",
                line.trim_end(),
                c.tls_version().unwrap_or_else(|| "clear".into())
            ))
        }
        Action::Echo => {
            let mut c = net::connect(&p.endpoint)?;
            let n = echo(&mut c, p.bytes as usize, 0)?;
            Ok(format!("echoed {n} bytes"))
        }
        Action::ParallelEcho => {
            let mut conns = (0..p.count)
                .map(|_| net::connect(&p.endpoint))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let mut total = 0;
            for (i, c) in conns.iter_mut().enumerate() {
                total += echo(c, p.bytes as usize, i as u8)?;
            }
            Ok(format!("{} connections echoed {total} bytes", conns.len()))
        }
        Action::BulkRead => {
            let mut c = net::connect(&p.endpoint)?;
            let started = Instant::now();
            let mut buf = vec![0u8; 64 * 1024];
            let mut n = 0u64;
            loop {
                match c.read(&mut buf)? {
                    0 => break,
                    k => n += k as u64,
                }
            }
            Ok(format!(
                "read {n} bytes in {} ms",
                started.elapsed().as_millis()
            ))
        }
    }
}

/// Writes `len` bytes (a pattern seeded by `seed`) and reads them back, in
/// 16 KiB rounds so neither side's buffers must hold it all.
fn echo(c: &mut Connection, len: usize, seed: u8) -> std::io::Result<usize> {
    let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_add(seed)).collect();
    let mut back = vec![0u8; 16 * 1024];
    for chunk in data.chunks(16 * 1024) {
        c.write_all(chunk)?;
        c.flush()?;
        let got = &mut back[..chunk.len()];
        c.read_exact(got)?;
        if got != chunk {
            return Err(std::io::Error::other("echo came back different"));
        }
    }
    Ok(len)
}

airlock_sdk::export!(NetTest);
