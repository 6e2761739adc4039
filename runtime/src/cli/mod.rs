//! The `airlock` command: argument parsing, logging, progress and output.
//! Thin on purpose: every step is a call into [`crate::job`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

use crate::config::JobConfig;
use crate::job::{self, JobError, Progress, SyncReport, thousands};
use crate::net::EgressPolicy;
use crate::sandbox::{ComponentCache, SandboxOptions};
use crate::schema::TableSchema;

/// Run data connectors (WebAssembly components) in a sandbox.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Where compiled connectors are cached [default: ~/.cache/airlock/components].
    #[arg(long, global = true, env = "AIRLOCK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the connector every time instead of using the cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// The operator's egress policy (TOML: allow_loopback, allow_private,
    /// allow_public, allow, deny) [default: public addresses only].
    #[arg(long, global = true, env = "AIRLOCK_EGRESS_POLICY")]
    egress_policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the JSON Schema of a connector's config.
    Spec {
        /// The connector: a .wasm component or a connector crate directory.
        connector: PathBuf,
    },
    /// Check a connection file, open every endpoint (route, host key, auth, TLS) and
    /// let the connector check its config.
    Check {
        /// The connection file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// List the tables a connector writes, with columns and primary keys.
    Discover {
        /// The connection file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a sync from the last committed checkpoint.
    Sync {
        /// The connection file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Print the summary (or the error) as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Forget the job's committed state; the next sync starts over (rows are kept).
    Reset {
        /// The connection file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Generate an SSH key for reaching bastions (ed25519, OpenSSH format, mode 0600)
    /// and print the line for the bastion's authorized_keys.
    Keygen {
        /// Where to write the private key (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Comment on the public key.
        #[arg(long, default_value = "airlock")]
        comment: String,
    },
    /// Print the SHA256 fingerprint of an SSH server's host key, to pin as `host_key`.
    Fingerprint {
        /// HOST or HOST:PORT (port 22 when left out).
        target: String,
        /// Seconds to wait for the server.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
    },
    /// Run the reverse-SSH relay: customers connect with `ssh -N -R PORT:db:5432`,
    /// workers reach their tunnels with `via.reverse_ssh` (see docs/network.md).
    Relay {
        /// The relay file (TOML: listen, host_key, [[tunnels]], [[workers]]).
        /// Required; also accepted after `status`.
        #[arg(short, long, global = true, value_name = "RELAY_TOML")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<RelayAction>,
    },
    /// Run a real sync through an embedded SSH bastion to a sample HTTPS API, into
    /// DuckDB, with nothing to install.
    Demo {
        /// Where the connection file, keys and DuckDB file go.
        #[arg(long, default_value = "airlock-demo")]
        dir: PathBuf,
        /// Records in the sample API.
        #[arg(long, default_value_t = 5000)]
        customers: u64,
    },
}

/// What `airlock relay` does besides running the relay.
#[derive(Debug, Subcommand)]
enum RelayAction {
    /// Show which tunnels are up, since when, from where, and the bytes and
    /// connections they carried (from the running relay's status file).
    Status,
}

/// Runs the command line; returns the process exit code (0 ok, 1 the connector
/// or source failed, 2 bad usage or config).
pub fn main() -> i32 {
    let cli = Cli::parse();
    let bar = BarSlot::default();
    init_logging(&cli, bar.clone());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let json = matches!(cli.command, Command::Sync { json: true, .. });
    match rt.block_on(run(cli, bar)) {
        Ok(()) => 0,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": false, "error": e.to_string() })
                );
            }
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// `HOST` or `HOST:PORT` (IPv6 as `[::1]:22`) → host and port (22 by default).
fn split_host_port(target: &str) -> Result<(String, u16), String> {
    let bad = || format!("\"{target}\" is not HOST or HOST:PORT");
    if let Some(rest) = target.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => 22,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
        }
        _ if target.is_empty() => Err(bad()),
        _ => Ok((target.to_owned(), 22)),
    }
}

fn print_endpoint_checks(checks: &[job::EndpointCheck]) {
    for c in checks {
        println!("endpoint \"{}\" ({})", c.name, c.target);
        match &c.outcome {
            Ok((path, tls)) => {
                for (i, hop) in path.hops.iter().enumerate() {
                    let label = if i == 0 { "route" } else { "     " };
                    println!("  {label}: {hop}");
                }
                if let Some(addr) = path.dialed {
                    println!("  dialed: {addr}");
                }
                match tls {
                    Some(t) => println!(
                        "  tls: {} ({}), certificate {} issued by {}",
                        t.version, c.tls_setting, t.subject, t.issuer
                    ),
                    None => println!("  tls: {}", c.tls_setting),
                }
                println!("  ok");
            }
            Err(e) => println!("  FAILED: {e}"),
        }
    }
}

async fn run(cli: Cli, bar: BarSlot) -> Result<(), JobError> {
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir.clone().or_else(ComponentCache::default_dir)
    };
    let policy = match &cli.egress_policy {
        Some(path) => EgressPolicy::load(path).map_err(JobError::Usage)?,
        None => EgressPolicy::default(),
    };
    let rt = job::Runtime::new(
        &SandboxOptions {
            cache_dir: cache_dir.clone(),
            pooled_instances: None,
        },
        policy,
    )
    .map_err(|e| JobError::Failed(format!("cannot set up the WebAssembly engine: {e:#}")))?;
    match cli.command {
        Command::Spec { connector } => {
            let schema = job::spec(&rt, &connector).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a JSON value serializes")
            );
        }
        Command::Check { config } => {
            let config = load_config(&config)?;
            println!(
                "connection file ok: job `{}`, connector {}",
                config.name,
                config.connector.display()
            );
            let endpoints = job::check_endpoints(&rt, &config).await?;
            let failed = endpoints.iter().filter(|e| e.outcome.is_err()).count();
            print_endpoint_checks(&endpoints);
            job::check(&rt, &config).await?;
            println!("connector check passed");
            if failed > 0 {
                return Err(JobError::Failed(format!(
                    "{failed} of {} endpoints could not be reached; see above",
                    endpoints.len()
                )));
            }
        }
        Command::Discover { config, json } => {
            let config = load_config(&config)?;
            let tables = job::discover(&rt, &config).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&tables_json(&tables)).expect("serializes")
                );
            } else {
                print_tables(&tables);
            }
        }
        Command::Sync { config, json } => {
            let config = load_config(&config)?;
            let progress = Arc::new(Progress::default());
            let shown = (!json && !cli.quiet && std::io::stderr().is_terminal())
                .then(|| bar.show(&config.name, progress.clone()));
            let result = job::sync(&rt, &config, progress).await;
            if let Some(ticker) = shown {
                ticker.abort();
                bar.clear();
            }
            let report = result?;
            if json {
                let mut v = serde_json::to_value(&report).expect("serializes");
                v["ok"] = true.into();
                println!("{v}");
            } else {
                print_summary(&report);
            }
        }
        Command::Keygen { out, comment } => {
            let (private, line) =
                crate::ssh::generate_ed25519(&comment).map_err(JobError::Failed)?;
            crate::ssh::write_private_key(&out, &private)
                .map_err(|e| JobError::Usage(format!("keygen --out: {e}")))?;
            println!("wrote the private key to {} (mode 0600)", out.display());
            println!("give this line to the bastion's admin, for ~airlock/.ssh/authorized_keys:");
            println!("{line}");
            println!(
                "then use it in a connection file: private_key = {{ file = \"{}\" }}",
                out.display()
            );
        }
        Command::Fingerprint {
            target,
            timeout_secs,
        } => {
            let (host, port) = split_host_port(&target).map_err(JobError::Usage)?;
            let (key_type, fingerprint) =
                crate::ssh::fetch_host_key(&host, port, Duration::from_secs(timeout_secs))
                    .await
                    .map_err(|e| JobError::Failed(e.to_string()))?;
            println!("{host}:{port} presents a {key_type} host key: {fingerprint}");
            println!(
                "compare it with the bastion admin's `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`, then pin it:"
            );
            println!("host_key = \"{fingerprint}\"");
        }
        Command::Demo { dir, customers } => {
            let opts = crate::demo::run::DemoOptions {
                dir,
                customers,
                cache_dir,
            };
            let quiet = cli.quiet;
            let report = crate::demo::run::run(&opts, |stage, _| {
                if !quiet {
                    eprintln!("demo: {stage}…");
                }
            })
            .await?;
            println!(
                "airlock demo: rest-api → SSH bastion (host key {} pinned) → https://{} (TLS verified)",
                report.host_key,
                crate::demo::run::API_HOST
            );
            println!("full sync:");
            print_summary(&report.full);
            println!(
                "{} records changed at the source; incremental sync:",
                report.touched
            );
            print_summary(&report.incremental);
            println!("the connection file it used: {}", report.config.display());
        }
        Command::Relay { config, action } => {
            let config = config.ok_or_else(|| {
                JobError::Usage(
                    "airlock relay: --config RELAY_TOML is required (see docs/network.md for the file)"
                        .into(),
                )
            })?;
            match action {
                None => crate::relay::run(&config).await.map_err(JobError::Usage)?,
                Some(RelayAction::Status) => {
                    let relay =
                        crate::relay::RelayConfig::load(&config).map_err(JobError::Usage)?;
                    let shown = crate::relay::status::render(
                        &relay.status_file,
                        std::time::SystemTime::now(),
                    )
                    .map_err(JobError::Usage)?;
                    print!("{shown}");
                }
            }
        }
        Command::Reset { config } => {
            let config = load_config(&config)?;
            if job::reset(&config)? {
                println!(
                    "forgot the state of job `{}`; the next sync starts from scratch (rows are kept)",
                    config.name
                );
            } else {
                println!("job `{}` had no committed state", config.name);
            }
        }
    }
    Ok(())
}

fn load_config(path: &std::path::Path) -> Result<JobConfig, JobError> {
    JobConfig::load(path).map_err(|e| JobError::Usage(e.to_string()))
}

fn print_summary(r: &SyncReport) {
    let s = &r.stats;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "synced job `{}` into {} in {:.2}s",
        r.job,
        r.destination.display(),
        s.elapsed.as_secs_f64()
    );
    let width = s.tables.keys().map(String::len).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>10}",
        "table", "upserts", "deletes"
    );
    for (name, t) in &s.tables {
        let _ = writeln!(
            out,
            "  {name:<width$}  {:>12}  {:>10}",
            thousands(t.upserts),
            thousands(t.deletes)
        );
    }
    let rate = s.total_upserts() as f64 / s.elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "  {} checkpoints, {} rows/s",
        s.checkpoints,
        thousands(rate as u64)
    );
}

fn print_tables(tables: &[TableSchema]) {
    for t in tables {
        let key = if t.primary_key.is_empty() {
            "append-only".to_owned()
        } else {
            format!("key ({})", t.primary_key.join(", "))
        };
        println!("{} — {key}", t.name);
        for c in &t.columns {
            println!(
                "  {:<24} {}{}",
                c.name,
                c.ty,
                if c.nullable { "" } else { " not null" }
            );
        }
    }
}

fn tables_json(tables: &[TableSchema]) -> serde_json::Value {
    tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "primary_key": t.primary_key,
                "columns": t.columns.iter().map(|c| serde_json::json!({
                    "name": c.name, "type": c.ty.to_string(), "nullable": c.nullable,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn init_logging(cli: &Cli, bar: BarSlot) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "warn,airlock=info",
        (false, 1) => "info,airlock=debug",
        _ => "debug,airlock=trace",
    };
    let filter = EnvFilter::try_from_env("AIRLOCK_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || BarWriter(bar.clone()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The progress bar, if one is showing; log lines print above it.
#[derive(Clone, Default)]
struct BarSlot(Arc<Mutex<Option<ProgressBar>>>);

impl BarSlot {
    fn show(&self, job: &str, progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {prefix}: {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(format!("syncing {job}"));
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                bar.set_message(progress.snapshot().line());
                bar.tick();
            }
        })
    }

    fn clear(&self) {
        if let Some(bar) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

struct BarWriter(BarSlot);

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = self.0.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the argument definitions only when they are parsed in a
    /// debug build; this makes a bad definition fail here, not for a user.
    #[test]
    fn the_command_line_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
