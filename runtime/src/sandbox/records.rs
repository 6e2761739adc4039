//! Host side of `airlock:connector/records`: lifts batches into plain rows or
//! column batches (moving every buffer, copying none) and hands them to the
//! [`RecordWriter`] the sync installed. Outside `sync` there is none and every
//! call is refused.

use std::any::Any;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::{wit_records, wit_types};
use super::limits::{LimitExceeded, mib};
use crate::columns::{Blobs, ColumnBatch, ColumnCells, ColumnData};
use crate::schema::{Row, Value, rows_bytes};

/// Why a [`RecordWriter`] refused a call. Its message reaches the connector
/// as the call's error.
pub type RecordError = Box<dyn std::error::Error + Send + Sync>;

/// Where a sync's records go, one call per host call (batches, not rows).
/// Every batch arrives with the bytes the host call measured for its payload
/// limit ([`rows_bytes`] of rows, [`ColumnBatch::bytes`] of a batch), so the
/// writer need not measure it again.
///
/// It is `Any` so whoever installed it can take its own type back after the
/// sync (see [`RecordsCtx::take_writer`]).
pub trait RecordWriter: Any + Send {
    /// Inserts or replaces rows of `table`.
    fn upsert(&mut self, table: &str, rows: Vec<Row>, bytes: u64) -> Result<(), RecordError>;

    /// Inserts or replaces rows of `table` laid out by column.
    fn upsert_columns(
        &mut self,
        table: &str,
        batch: ColumnBatch,
        bytes: u64,
    ) -> Result<(), RecordError>;

    /// Marks rows of `table` deleted by primary key.
    fn delete(&mut self, table: &str, keys: Vec<Row>, bytes: u64) -> Result<(), RecordError>;

    /// Marks every row of `table` deleted.
    fn truncate(&mut self, table: &str) -> Result<(), RecordError>;

    /// Commits everything so far together with `state`.
    fn checkpoint(&mut self, state: String) -> Result<(), RecordError>;
}

/// Per-store state of the records interface.
pub struct RecordsCtx {
    writer: Option<Box<dyn RecordWriter>>,
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
    pub fn set_writer(&mut self, w: Box<dyn RecordWriter>) {
        self.writer = Some(w);
    }

    /// Removes the writer (the sync is over) and hands it back as the type
    /// it was installed as; `None` if none is installed, or one of another type.
    pub fn take_writer<W: RecordWriter>(&mut self) -> Option<Box<W>> {
        let any: Box<dyn Any> = self.writer.take()?;
        any.downcast().ok()
    }

    fn with_writer(
        &mut self,
        f: impl FnOnce(&mut dyn RecordWriter) -> Result<(), RecordError>,
    ) -> Result<(), wit_types::Error> {
        match self.writer.as_deref_mut() {
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
        let rows: Vec<Row> = rows.into_iter().map(lift_row).collect();
        let bytes = rows_bytes(&rows);
        self.limit("upsert", table.len() as u64 + bytes)?;
        Ok(self.with_writer(|w| w.upsert(&table, rows, bytes)))
    }

    fn upsert_columns(
        &mut self,
        table: String,
        batch: wit_types::ColumnBatch,
    ) -> wasmtime::Result<Result<(), wit_types::Error>> {
        let batch = lift_batch(batch);
        let bytes = batch.bytes();
        self.limit("upsert-columns", table.len() as u64 + bytes)?;
        Ok(self.with_writer(|w| w.upsert_columns(&table, batch, bytes)))
    }

    fn delete(
        &mut self,
        table: String,
        keys: Vec<wit_types::Row>,
    ) -> wasmtime::Result<Result<(), wit_types::Error>> {
        let keys: Vec<Row> = keys.into_iter().map(lift_row).collect();
        let bytes = rows_bytes(&keys);
        self.limit("delete", table.len() as u64 + bytes)?;
        Ok(self.with_writer(|w| w.delete(&table, keys, bytes)))
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

/// Moves a WIT column batch into a plain one; every buffer is moved, not copied.
fn lift_batch(b: wit_types::ColumnBatch) -> ColumnBatch {
    use wit_types::ColumnData as W;
    let blobs = |b: wit_types::Blobs| Blobs {
        data: b.data,
        ends: b.ends,
    };
    let column = |c: wit_types::ColumnCells| ColumnCells {
        valid: c.valid,
        data: match c.data {
            W::Null => ColumnData::Null,
            W::Boolean(v) => ColumnData::Boolean(v),
            W::Int(v) => ColumnData::Int(v),
            W::Float(v) => ColumnData::Float(v),
            W::Text(b) => ColumnData::Text(blobs(b)),
            W::Bytes(b) => ColumnData::Bytes(blobs(b)),
            W::Timestamp(v) => ColumnData::Timestamp(v),
            W::Date(v) => ColumnData::Date(v),
            W::Decimal(b) => ColumnData::Decimal(blobs(b)),
            W::Json(b) => ColumnData::Json(blobs(b)),
        },
    };
    ColumnBatch {
        rows: b.rows as usize,
        columns: b.columns.into_iter().map(column).collect(),
    }
}
