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
use crate::sandbox::{ComponentCache, Sandbox, SandboxOptions};
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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the JSON Schema of a connector's config.
    Spec {
        /// The connector: a .wasm component or a connector crate directory.
        connector: PathBuf,
    },
    /// Check a connection file and let the connector check its config.
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

async fn run(cli: Cli, bar: BarSlot) -> Result<(), JobError> {
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir.clone().or_else(ComponentCache::default_dir)
    };
    let sandbox = Sandbox::new(&SandboxOptions {
        cache_dir,
        pooled_instances: None,
    })
    .map_err(|e| JobError::Failed(format!("cannot set up the WebAssembly engine: {e:#}")))?;
    match cli.command {
        Command::Spec { connector } => {
            let schema = job::spec(&sandbox, &connector).await?;
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
            job::check(&sandbox, &config).await?;
            println!("connector check passed");
        }
        Command::Discover { config, json } => {
            let config = load_config(&config)?;
            let tables = job::discover(&sandbox, &config).await?;
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
            let result = job::sync(&sandbox, &config, progress).await;
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
