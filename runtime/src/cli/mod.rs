//! The `airlock` command: the argument definitions, logging and the dispatch
//! to one file per subcommand. Thin on purpose: every step is a call into
//! [`crate::job`] (or [`crate::ssh`], [`crate::relay`]); what is left here is
//! printing. Shared output has files of its own: `summary.rs` (after a sync),
//! `tables.rs` (what `discover` lists), `progress.rs` (the bar and the log
//! writer above it).

mod check;
#[cfg(feature = "demo")]
mod demo;
mod discover;
mod fingerprint;
mod keygen;
mod progress;
mod relay;
mod reset;
mod spec;
mod summary;
mod sync;
mod tables;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::JobConfig;
use crate::job::{self, JobError};
use crate::net::EgressPolicy;
use crate::sandbox::{ComponentCache, SandboxOptions};
use progress::{BarSlot, BarWriter};

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
    #[cfg(feature = "demo")]
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

/// Sets up what every subcommand shares (the component cache, the egress
/// policy, the WebAssembly engine), then hands over to the subcommand's file.
async fn run(cli: Cli, bar: BarSlot) -> Result<(), JobError> {
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir.clone().or_else(ComponentCache::default_dir)
    };
    let policy = match &cli.egress_policy {
        Some(path) => EgressPolicy::load(path).map_err(|e| JobError::Usage(e.to_string()))?,
        None => EgressPolicy::default(),
    };
    let mut rt = job::Runtime::new(
        &SandboxOptions {
            cache_dir: cache_dir.clone(),
            pooled_instances: None,
        },
        policy,
    )
    .map_err(|e| JobError::Failed(format!("cannot set up the WebAssembly engine: {e:#}")))?;
    if let Some(dir) = &cli.cache_dir {
        // Python and JavaScript build tools and builds go there too.
        rt.build_cache = Some(dir.clone());
    }
    match cli.command {
        Command::Spec { connector } => spec::run(&rt, &connector).await,
        Command::Check { config } => check::run(&rt, &config).await,
        Command::Discover { config, json } => discover::run(&rt, &config, json).await,
        Command::Sync { config, json } => sync::run(&rt, &config, json, cli.quiet, &bar).await,
        Command::Reset { config } => reset::run(&rt, &config).await,
        Command::Keygen { out, comment } => keygen::run(&out, &comment),
        Command::Fingerprint {
            target,
            timeout_secs,
        } => fingerprint::run(&target, timeout_secs).await,
        Command::Relay { config, action } => relay::run(config, action).await,
        #[cfg(feature = "demo")]
        Command::Demo { dir, customers } => demo::run(dir, customers, cache_dir, cli.quiet).await,
    }
}

/// Reads and checks a connection file; every problem in it is bad input.
fn load_config(path: &Path) -> Result<JobConfig, JobError> {
    JobConfig::load(path).map_err(|e| JobError::Usage(e.to_string()))
}

/// Logs to stderr, above the progress bar when one shows: `-q` warnings only,
/// `-v` debug, `-vv` trace; `AIRLOCK_LOG` (an `EnvFilter`) overrides both.
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
