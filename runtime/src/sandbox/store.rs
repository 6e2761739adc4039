//! What a connector's store holds: its WASI context (stripped of ambient
//! authority), its resource table, its limits, and the host interfaces' state.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::limits::{Deadline, Limiter};
use super::log::{LogCtx, LogView};
use super::network::{NetworkCtx, NetworkCtxView, NetworkView};
use super::records::{RecordsCtx, RecordsView};
use super::stdio::{GuestOutput, Stream};
use crate::config::Limits;
use crate::net::Network;
use crate::redact::Redactor;

/// Where a connector sees its scratch directory, if it has one.
pub const SCRATCH_GUEST_PATH: &str = "/scratch";

/// Data of one connector's store.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) deadline: Deadline,
    pub(super) records: RecordsCtx,
    log: LogCtx,
    network: NetworkCtx,
    pub(super) stderr: GuestOutput,
}

impl StoreState {
    /// State for `job` under `limits`. No environment, no arguments, no stdin,
    /// no WASI sockets, no name lookups, no files — except `scratch` as `/scratch`
    /// (opened through cap-std, so `..` and symlinks cannot leave it). The only
    /// way out is `network`: the endpoints of the job's config.
    pub fn new(
        job: &str,
        limits: &Limits,
        redactor: &Redactor,
        scratch: Option<&Path>,
        network: Arc<Network>,
    ) -> anyhow::Result<Self> {
        let stdout = GuestOutput::new(job, Stream::Stdout, redactor.clone());
        let stderr = GuestOutput::new(job, Stream::Stderr, redactor.clone());
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        if let Some(dir) = scratch {
            b.preopened_dir(dir, SCRATCH_GUEST_PATH, FsPerms::ReadWrite)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "scratch_dir: cannot open {} for the connector: {e}",
                        dir.display()
                    )
                })?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources as usize);
        Ok(StoreState {
            wasi: b.build(),
            table,
            limiter: Limiter::new(limits),
            deadline: Deadline::idle(limits.call_timeout_secs),
            records: RecordsCtx::new(limits.host_call_mb * 1024 * 1024),
            log: LogCtx::new(job, redactor.clone(), limits.host_call_mb * 1024 * 1024),
            network: NetworkCtx::new(
                job,
                network,
                limits.connections,
                limits.connection_buffer_kb as usize * 1024,
                redactor.clone(),
            ),
            stderr,
        })
    }

    /// The records state (the sync's writer lives here).
    pub fn records_mut(&mut self) -> &mut RecordsCtx {
        &mut self.records
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RecordsView for StoreState {
    fn records(&mut self) -> &mut RecordsCtx {
        &mut self.records
    }
}

impl LogView for StoreState {
    fn log(&mut self) -> &mut LogCtx {
        &mut self.log
    }
}

impl NetworkView for StoreState {
    fn network(&mut self) -> NetworkCtxView<'_> {
        NetworkCtxView {
            ctx: &mut self.network,
            table: &mut self.table,
        }
    }
}
