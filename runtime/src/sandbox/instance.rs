//! One running connector: a store with its limits, and the calls into the
//! connector's exports, each under a wall-time deadline, each failure turned
//! into something a person can read.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::error::Elapsed;

use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Connector, wit_types};
use super::engine::LoadedConnector;
use super::limits::LimitExceeded;
use super::store::StoreState;
use crate::config::Limits;
use crate::net::Network;
use crate::redact::Redactor;
use crate::schema::{Column, ColumnType, TableSchema};

/// The kind of error a connector reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The connector's config is wrong.
    Config,
    /// The source refused the credentials.
    Auth,
    /// The source could not be reached.
    Network,
    /// The source answered with an error.
    Source,
    /// A bug or unexpected state in the connector.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "config error",
            ErrorKind::Auth => "authentication error",
            ErrorKind::Network => "network error",
            ErrorKind::Source => "source error",
            ErrorKind::Internal => "connector error",
        })
    }
}

/// An error the connector returned (it ran fine and said no).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ConnectorError {
    /// What kind.
    pub kind: ErrorKind,
    /// The connector's message (secrets masked).
    pub message: String,
}

/// The connector could not finish a call: it trapped, panicked or hit a limit.
#[derive(Debug, Clone)]
pub struct Trap {
    /// Which export was running.
    pub call: &'static str,
    /// The limit hit, if that is why.
    pub limit: Option<LimitExceeded>,
    /// The engine's message.
    pub message: String,
    /// The last lines the connector wrote to stderr (a panic message lives here).
    pub stderr: Vec<String>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.limit {
            Some(limit) => write!(f, "`{}` stopped: {limit}", self.call)?,
            None => write!(
                f,
                "the connector crashed in `{}`: {}",
                self.call, self.message
            )?,
        }
        let said: Vec<&String> = self
            .stderr
            .iter()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if !said.is_empty() {
            write!(f, "\nconnector stderr (last lines):")?;
            for l in said {
                write!(f, "\n  | {l}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// What the host needs to set up a store for one job.
#[derive(Debug, Clone)]
pub struct JobEnv<'a> {
    /// Job name, used to tag logs.
    pub job: &'a str,
    /// Limits for this job.
    pub limits: &'a Limits,
    /// Masks the job's secrets in everything the connector prints or logs.
    pub redactor: &'a Redactor,
    /// Host directory preopened as `/scratch`.
    pub scratch_dir: Option<&'a Path>,
    /// The endpoints the connector may connect to, and the way to each.
    pub network: Arc<Network>,
}

/// A live connector instance. After a [`Trap`] it must not be called again.
pub struct Instance {
    store: Store<StoreState>,
    bindings: Connector,
    redactor: Redactor,
}

impl LoadedConnector {
    /// A fresh instance for one job, with that job's limits.
    pub async fn instantiate(&self, env: JobEnv<'_>) -> anyhow::Result<Instance> {
        let state = StoreState::new(
            env.job,
            env.limits,
            env.redactor,
            env.scratch_dir,
            env.network,
        )?;
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|cx| {
            cx.data().deadline.check()?;
            // Yield at every tick so jobs sharing a thread take turns.
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            bindings,
            redactor: env.redactor.clone(),
        })
    }
}

impl Instance {
    /// The JSON Schema of the connector's config.
    pub async fn spec(&mut self) -> Result<String, Trap> {
        let timeout = self.begin();
        let src = self.bindings.airlock_connector_source();
        let r = tokio::time::timeout(timeout, src.call_spec(&mut self.store)).await;
        self.finish("spec", r)
    }

    /// The connector's own check of `config`.
    pub async fn check(&mut self, config: &str) -> Result<Result<(), ConnectorError>, Trap> {
        let timeout = self.begin();
        let src = self.bindings.airlock_connector_source();
        let r = tokio::time::timeout(timeout, src.call_check(&mut self.store, config)).await;
        Ok(self.finish("check", r)?.map_err(|e| self.error(e)))
    }

    /// The tables the connector writes.
    pub async fn discover(
        &mut self,
        config: &str,
    ) -> Result<Result<Vec<TableSchema>, ConnectorError>, Trap> {
        let timeout = self.begin();
        let src = self.bindings.airlock_connector_source();
        let r = tokio::time::timeout(timeout, src.call_discover(&mut self.store, config)).await;
        Ok(self
            .finish("discover", r)?
            .map(|tables| tables.into_iter().map(lift_schema).collect())
            .map_err(|e| self.error(e)))
    }

    /// Runs a sync from `state`. Records go to the writer installed with
    /// [`Instance::records`]`().set_writer(..)`.
    pub async fn sync(
        &mut self,
        config: &str,
        state: Option<&str>,
    ) -> Result<Result<(), ConnectorError>, Trap> {
        let timeout = self.begin();
        let src = self.bindings.airlock_connector_source();
        let r = tokio::time::timeout(timeout, src.call_sync(&mut self.store, config, state)).await;
        Ok(self.finish("sync", r)?.map_err(|e| self.error(e)))
    }

    /// The records state, where the sync's writer lives.
    pub fn records(&mut self) -> &mut super::records::RecordsCtx {
        self.store.data_mut().records_mut()
    }

    /// Starts the call's deadline; returns the outer timeout to wrap the call in.
    fn begin(&mut self) -> Duration {
        let deadline = &mut self.store.data_mut().deadline;
        deadline.start();
        // The epoch callback stops wasm that runs too long; the outer timeout
        // also covers time spent waiting inside host calls, with a little slack
        // so the epoch (with its clearer message) normally fires first.
        deadline.budget() + Duration::from_secs(1)
    }

    fn finish<R>(
        &self,
        call: &'static str,
        outcome: Result<wasmtime::Result<R>, Elapsed>,
    ) -> Result<R, Trap> {
        let stderr = self.store.data().stderr.tail();
        match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(Trap {
                call,
                limit: e.downcast_ref::<LimitExceeded>().cloned(),
                message: self
                    .redactor
                    .redact(&format!("{:#}", e.root_cause()))
                    .into_owned(),
                stderr,
            }),
            Err(_) => Err(Trap {
                call,
                limit: Some(LimitExceeded::Deadline {
                    secs: self.store.data().deadline.budget().as_secs(),
                }),
                message: "timed out".into(),
                stderr,
            }),
        }
    }

    fn error(&self, e: wit_types::Error) -> ConnectorError {
        use wit_types::ErrorKind as K;
        ConnectorError {
            kind: match e.kind {
                K::Config => ErrorKind::Config,
                K::Auth => ErrorKind::Auth,
                K::Network => ErrorKind::Network,
                K::Source => ErrorKind::Source,
                K::Internal => ErrorKind::Internal,
            },
            message: self.redactor.redact(&e.message).into_owned(),
        }
    }
}

fn lift_schema(t: wit_types::TableSchema) -> TableSchema {
    use wit_types::ColumnType as W;
    TableSchema {
        name: t.name,
        columns: t
            .columns
            .into_iter()
            .map(|c| Column {
                name: c.name,
                nullable: c.nullable,
                ty: match c.type_ {
                    W::Boolean => ColumnType::Boolean,
                    W::Int => ColumnType::Int,
                    W::Float => ColumnType::Float,
                    W::Text => ColumnType::Text,
                    W::Bytes => ColumnType::Bytes,
                    W::Timestamp => ColumnType::Timestamp,
                    W::Date => ColumnType::Date,
                    W::Decimal(d) => ColumnType::Decimal {
                        precision: d.precision,
                        scale: d.scale,
                    },
                    W::Json => ColumnType::Json,
                },
            })
            .collect(),
        primary_key: t.primary_key,
    }
}
