//! A test connector that misbehaves in the way its config's `mode` says, so the
//! host's tests can check how it contains each failure. `discover` always returns
//! one table, `items (id int primary key, body text)`; `check` always passes.

use airlock_sdk::bindings::airlock::connector::records;
use airlock_sdk::{ColumnType, Connector, Error, Output, Result, Table, Value, row};
use schemars::JsonSchema;
use serde::Deserialize;

/// How to misbehave.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The misbehaviour `sync` performs.
    mode: Mode,
    /// Size in MiB of the single text value the `huge-payload` mode sends.
    #[serde(default = "default_payload_mb")]
    payload_mb: u64,
    /// A secret the `leak-secret` mode tries to leak.
    #[serde(default)]
    password: String,
}

fn default_payload_mb() -> u64 {
    256
}

/// What `sync` does.
#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Spin forever in pure wasm compute, making no host call.
    Loop,
    /// Allocate and touch memory in 1 MiB chunks forever, keeping every chunk.
    GrowMemory,
    /// Send one row whose `body` is `payload_mb` MiB of text, in one host call.
    HugePayload,
    /// Upsert a row whose second column (`body`, text) holds an int.
    BadRow,
    /// Upsert five good rows, then, in the same batch, one whose `body` holds an int.
    BadRowAfterGood,
    /// Send, straight to the host, a column batch of 100 million rows whose
    /// `body` column is all null (a few bytes that would be gigabytes as rows).
    NullFlood,
    /// Upsert into `undeclared`, a table `discover` did not return.
    UndeclaredTable,
    /// Return a `source` error: table `orders` does not exist.
    SourceError,
    /// Send 42 rows to the host and checkpoint them, then panic with "boom at row 42".
    Panic,
    /// Try to leak the `password` secret: log it, print it, and return it in an error.
    LeakSecret,
    /// Try every way out of the sandbox (environment, arguments, host files, a TCP
    /// connection, a name lookup) and fail with a report of what each attempt got.
    Escape,
    /// Write `/scratch/note.txt`, read it back, and list `/scratch`.
    Scratch,
}

struct Misbehave;

impl Connector for Misbehave {
    type Config = Config;
    type State = ();

    fn discover(_config: &Config) -> Result<Vec<Table>> {
        Ok(vec![
            Table::new("items")
                .column("id", ColumnType::Int)
                .column("body", ColumnType::Text)
                .primary_key(["id"]),
        ])
    }

    fn sync(config: &Config, _state: (), out: &mut Output<()>) -> Result<()> {
        match config.mode {
            Mode::Loop => spin(),
            Mode::GrowMemory => grow_memory(),
            Mode::HugePayload => {
                let mib = usize::try_from(config.payload_mb)
                    .ok()
                    .and_then(|mb| mb.checked_mul(1 << 20))
                    .ok_or_else(|| Error::config("`payload_mb` is too large"))?;
                let body = "x".repeat(mib);
                // Straight to the host in one call, bypassing the sdk's batching.
                records::upsert("items", &[vec![Value::Int(1), Value::Text(body)]])?;
                Ok(())
            }
            Mode::BadRow => out.upsert("items", row![1, 2]),
            Mode::BadRowAfterGood => {
                for id in 1..=5 {
                    out.upsert("items", row![id, "fine"])?;
                }
                out.upsert("items", row![6, 7])
            }
            Mode::NullFlood => {
                use airlock_sdk::bindings::airlock::connector::types::{
                    ColumnBatch, ColumnCells, ColumnData,
                };
                let rows = 100_000_000;
                let column = |data| ColumnCells {
                    valid: Vec::new(),
                    data,
                };
                let batch = ColumnBatch {
                    rows,
                    columns: vec![column(ColumnData::Null), column(ColumnData::Null)],
                };
                records::upsert_columns("items", &batch)?;
                Ok(())
            }
            Mode::UndeclaredTable => out.upsert("undeclared", row![1, "x"]),
            Mode::SourceError => Err(Error::source("table `orders` does not exist")),
            Mode::Escape => Err(Error::internal(escape_report())),
            Mode::Scratch => {
                std::fs::write("/scratch/note.txt", "written by the connector")
                    .map_err(|e| Error::internal(format!("write /scratch: {e}")))?;
                let back = std::fs::read_to_string("/scratch/note.txt")
                    .map_err(|e| Error::internal(format!("read /scratch: {e}")))?;
                let outside = std::fs::read_to_string("/scratch/../../etc/hostname").is_ok();
                airlock_sdk::log::info!("scratch read back {back:?}; escaped via ..: {outside}");
                Ok(())
            }
            Mode::LeakSecret => {
                let pw = &config.password;
                airlock_sdk::log::warn!("logging in with password {pw}");
                eprintln!("stderr: password={pw}");
                println!("stdout: password={pw}");
                Err(Error::auth(format!("password {pw} was rejected")))
            }
            Mode::Panic => {
                let rows: Vec<_> = (1..=42).map(|id: i64| row![id, "fine"]).collect();
                // Straight to the host in one call, then committed.
                records::upsert("items", &rows)?;
                out.checkpoint(&())?;
                panic!("boom at row 42");
            }
        }
    }
}

/// What each way out of the sandbox gives: `allowed` marks an escape.
fn escape_report() -> String {
    use std::net::{TcpStream, ToSocketAddrs};
    let env = std::env::vars().count();
    let args = std::env::args().count();
    let verdict = |ok: bool| if ok { "allowed" } else { "denied" };
    let fs =
        verdict(std::fs::read_to_string("/etc/hostname").is_ok() || std::fs::read_dir("/").is_ok());
    let tcp = verdict(TcpStream::connect("127.0.0.1:9").is_ok());
    let dns = verdict("localhost:80".to_socket_addrs().is_ok());
    format!("escape report: env vars={env} args={args} fs={fs} tcp={tcp} dns={dns}")
}

/// Pure compute forever: no host call, no allocation.
fn spin() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

/// Takes memory 1 MiB at a time, writing every page so it is really used, and never
/// gives any back.
fn grow_memory() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        chunk.resize(CHUNK, 0xA5);
        chunks.push(std::hint::black_box(chunk));
    }
}

airlock_sdk::export!(Misbehave);
