//! `airlock demo`: a real sync through a real SSH tunnel with nothing to install.
//!
//! On loopback it starts a sample HTTPS JSON API (certificate from a throwaway
//! CA, for the name `api.demo.internal`) and an embedded SSH bastion that alone
//! knows where that name is. Then it writes a connection file like a user
//! would — endpoint `api` through the bastion, its host key pinned, TLS
//! required and verified against the API's real name — and runs the
//! `rest-api` connector with it into DuckDB, twice: a full sync, then an
//! incremental one after some records changed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::api::{ApiOptions, ApiServer, DemoCa};
use super::bastion::{Bastion, BastionRules};
use crate::config::JobConfig;
use crate::job::{self, JobError, Progress, Runtime, SyncReport};
use crate::net::EgressPolicy;
use crate::sandbox::SandboxOptions;

/// The API's name: on its certificate, in the endpoint, and known only to the bastion.
pub const API_HOST: &str = "api.demo.internal";

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the connection file, keys, CA and DuckDB file go.
    pub dir: PathBuf,
    /// Records the sample API holds.
    pub customers: u64,
    /// Compiled-component cache.
    pub cache_dir: Option<PathBuf>,
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoReport {
    /// The connection file it wrote (readable as an example).
    pub config: PathBuf,
    /// The bastion's pinned host-key fingerprint.
    pub host_key: String,
    /// The first (full) sync.
    pub full: SyncReport,
    /// The second (incremental) sync.
    pub incremental: SyncReport,
    /// Records changed at the source between the two.
    pub touched: usize,
}

/// Runs the demo. `progress` is called with each sync's progress before it starts.
pub async fn run(
    opts: &DemoOptions,
    mut progress: impl FnMut(&str, Arc<Progress>),
) -> Result<DemoReport, JobError> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| JobError::Failed(format!("demo: {what}: {e}"));
    std::fs::create_dir_all(opts.dir.join("keys"))
        .map_err(|e| fail(&format!("cannot create {}", opts.dir.display()), &e))?;
    let dir = std::path::absolute(&opts.dir).map_err(|e| fail("bad --dir", &e))?;

    // The source: an HTTPS API with a certificate for its real name.
    let ca = DemoCa::new().map_err(|e| fail("creating the demo CA", &e))?;
    std::fs::write(dir.join("demo-ca.pem"), &ca.ca_pem).map_err(|e| fail("writing the CA", &e))?;
    let (chain, key) = ca
        .issue(API_HOST)
        .map_err(|e| fail("issuing the API's certificate", &e))?;
    let api = ApiServer::start(
        loopback(),
        Some((chain, key)),
        ApiOptions {
            customers: opts.customers,
            ..ApiOptions::default()
        },
    )
    .await
    .map_err(|e| fail("starting the sample API", &e))?;

    // The bastion, with a fresh client key that only it accepts.
    let key_path = dir.join("keys/airlock");
    if key_path.exists() {
        std::fs::remove_file(&key_path).map_err(|e| fail("replacing the demo key", &e))?;
    }
    let (private, authorized) = crate::ssh::generate_ed25519("airlock-demo")
        .map_err(|e| fail("generating the client key", &e))?;
    crate::ssh::write_private_key(&key_path, &private)
        .map_err(|e| fail("writing the client key", &e))?;
    let client_key = russh::keys::PublicKey::from_openssh(&authorized)
        .map_err(|e| fail("reading the client key", &e))?;
    let bastion = Bastion::start(
        loopback(),
        BastionRules {
            user: "airlock".into(),
            client_key,
            forwards: HashMap::from([((API_HOST.to_owned(), 443), api.local_addr())]),
        },
    )
    .await
    .map_err(|e| fail("starting the bastion", &e))?;

    let config_path = dir.join("airlock.toml");
    std::fs::write(&config_path, connection_file(&bastion, &rest_api_crate()))
        .map_err(|e| fail("writing the connection file", &e))?;
    let db = dir.join("demo.duckdb");
    for stale in [db.clone(), db.with_extension("duckdb.wal")] {
        let _ = std::fs::remove_file(stale);
    }
    let config = JobConfig::load(&config_path).map_err(|e| JobError::Usage(e.to_string()))?;

    // The demo is its own operator: its peers live on loopback.
    let rt = Runtime::new(
        &SandboxOptions {
            cache_dir: opts.cache_dir.clone(),
            pooled_instances: None,
        },
        EgressPolicy::loopback_allowed(),
    )
    .map_err(|e| fail("setting up the runtime", &e))?;

    let p = Arc::new(Progress::default());
    progress("full sync", p.clone());
    let full = job::sync(&rt, &config, p).await?;

    let touched: Vec<u64> = (1..=opts.customers).step_by(40).collect();
    api.touch(touched.iter().copied());
    let p = Arc::new(Progress::default());
    progress("incremental sync", p.clone());
    let incremental = job::sync(&rt, &config, p).await?;

    Ok(DemoReport {
        config: config_path,
        host_key: bastion.host_key_fingerprint().to_owned(),
        full,
        incremental,
        touched: touched.len(),
    })
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The `rest-api` connector crate next to this runtime's sources.
fn rest_api_crate() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/rest-api")
}

fn connection_file(bastion: &Bastion, connector: &Path) -> String {
    let addr = bastion.local_addr();
    format!(
        r#"# Written by `airlock demo`. The bastion and the API live only while the demo runs.
name = "demo"
connector = {connector:?}

[config]
endpoint = "api"
path = "/v1/customers"
page_size = 200

# The connector asks for "api"; the host decides the route and does TLS.
[endpoints.api]
host = "{API_HOST}"          # the real name: only the bastion can resolve it; TLS verifies it
port = 443
tls = "require"
ca_file = "demo-ca.pem"      # the demo's throwaway CA

[endpoints.api.via.ssh]
host = "{ip}"
port = {port}
user = "airlock"
private_key = {{ file = "keys/airlock" }}
host_key = "{fingerprint}"

[destination]
duckdb = "demo.duckdb"
"#,
        connector = connector.display().to_string(),
        ip = addr.ip(),
        port = addr.port(),
        fingerprint = bastion.host_key_fingerprint(),
    )
}
