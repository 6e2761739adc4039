//! Host side of `airlock:connector/records`: lifts batches into plain rows and
//! hands them to the job's [`Writer`]. Outside `sync` there is no writer and
//! every call is refused.

use wasmtime::component::{HasSelf, Linker};

use super::bindings::{wit_records, wit_types};
use super::limits::{LimitExceeded, mib};
use crate::job::{WriteError, Writer};
use crate::schema::{Row, Value};

/// Per-store state of the records interface.
pub struct RecordsCtx {
    writer: Option<Writer>,
    max_payload: u64,
}

/// Access to [`RecordsCtx`] from a store's data.
pub trait RecordsView: Send {
    /// The records state.
    fn records(&mut self) -> &mut RecordsCtx;
}

impl RecordsCtx {
    /// No writer yet; calls may carry at most `max_payload` bytes.
    pub fn new(max_payload: u64) -> Self {
        RecordsCtx {
            writer: None,
            max_payload,
        }
    }

    /// Installs the writer for a sync.
    pub fn set_writer(&mut self, w: Writer) {
        self.writer = Some(w);
    }

    /// Removes the writer (the sync is over).
    pub fn take_writer(&mut self) -> Option<Writer> {
        self.writer.take()
    }

    fn with_writer(
        &mut self,
        f: impl FnOnce(&mut Writer) -> Result<(), WriteError>,
    ) -> Result<(), wit_types::Error> {
        match self.writer.as_mut() {
            Some(w) => f(w).map_err(|e| wit_types::Error {
                // Either way the connector cannot fix it at run time: a contract
                // violation is a bug in it, a destination failure is the host's.
                kind: wit_types::ErrorKind::Internal,
                message: e.to_string(),
            }),
            None => Err(wit_types::Error {
                kind: wit_types::ErrorKind::Internal,
                message: "records can only be written during `sync`".into(),
            }),
        }
    }

    fn limit(&self, call: &'static str, size: u64) -> wasmtime::Result<()> {
        if size > self.max_payload {
            return Err(LimitExceeded::HostCall {
                call,
                size_mb: mib(size),
                limit_mb: mib(self.max_payload),
            }
            .into());
        }
        Ok(())
    }
}

/// Adds the records interface to `linker`.
pub fn add_to_linker<T: RecordsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit_records::add_to_linker::<T, HasSelf<RecordsCtx>>(linker, T::records)?;
    wit_types::add_to_linker::<T, HasSelf<RecordsCtx>>(linker, T::records)
}

impl wit_types::Host for RecordsCtx {}

impl wit_records::Host for RecordsCtx {
    fn upsert(
        &mut self,
        table: String,
        rows: Vec<wit_types::Row>,
    ) -> wasmtime::Result<Result<(), wit_types::Error>> {
        self.limit("upsert", batch_size(&table, &rows))?;
        let rows = rows.into_iter().map(lift_row).collect();
        Ok(self.with_writer(|w| w.upsert(&table, rows)))
    }

    fn delete(
        &mut self,
        table: String,
        keys: Vec<wit_types::Row>,
    ) -> wasmtime::Result<Result<(), wit_types::Error>> {
        self.limit("delete", batch_size(&table, &keys))?;
        let keys = keys.into_iter().map(lift_row).collect();
        Ok(self.with_writer(|w| w.delete(&table, keys)))
    }

    fn truncate(&mut self, table: String) -> wasmtime::Result<Result<(), wit_types::Error>> {
        self.limit("truncate", table.len() as u64)?;
        Ok(self.with_writer(|w| w.truncate(&table)))
    }

    fn checkpoint(&mut self, state: String) -> wasmtime::Result<Result<(), wit_types::Error>> {
        self.limit("checkpoint", state.len() as u64)?;
        Ok(self.with_writer(|w| w.checkpoint(state)))
    }
}

/// Bytes a batch occupies once lifted into the host.
fn batch_size(table: &str, rows: &[wit_types::Row]) -> u64 {
    let cell = std::mem::size_of::<wit_types::Value>() as u64;
    let heap: u64 = rows
        .iter()
        .flatten()
        .map(|v| match v {
            wit_types::Value::Text(s)
            | wit_types::Value::Decimal(s)
            | wit_types::Value::Json(s) => s.len() as u64,
            wit_types::Value::Bytes(b) => b.len() as u64,
            _ => 0,
        })
        .sum();
    let cells: u64 = rows.iter().map(|r| r.len() as u64).sum();
    table.len() as u64 + heap + cells * cell
}

/// Moves a WIT row into a plain row; strings and byte buffers are moved, not copied.
fn lift_row(row: wit_types::Row) -> Row {
    row.into_iter().map(lift_value).collect()
}

fn lift_value(v: wit_types::Value) -> Value {
    use wit_types::Value as W;
    match v {
        W::Null => Value::Null,
        W::Boolean(b) => Value::Boolean(b),
        W::Int(i) => Value::Int(i),
        W::Float(f) => Value::Float(f),
        W::Text(s) => Value::Text(s),
        W::Bytes(b) => Value::Bytes(b),
        W::Timestamp(t) => Value::Timestamp(t),
        W::Date(d) => Value::Date(d),
        W::Decimal(s) => Value::Decimal(s),
        W::Json(s) => Value::Json(s),
    }
}
