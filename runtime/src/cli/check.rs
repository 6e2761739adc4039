//! `airlock check --config FILE`: the connection file, every endpoint's route,
//! then the connector's own check.

use std::path::Path;

use crate::job::{self, EndpointCheck, JobError, Runtime};

/// Checks everything and prints what it found; an endpoint that could not be
/// reached fails the command only after the connector's check has run, so one
/// run shows every problem.
pub(super) async fn run(rt: &Runtime, config: &Path) -> Result<(), JobError> {
    let config = super::load_config(config)?;
    println!(
        "connection file ok: job `{}`, connector {}",
        config.name,
        config.connector.display()
    );
    let endpoints = job::check_endpoints(rt, &config).await?;
    let failed = endpoints.iter().filter(|e| e.outcome.is_err()).count();
    print_endpoint_checks(&endpoints);
    job::check(rt, &config).await?;
    println!("connector check passed");
    if failed > 0 {
        return Err(JobError::Failed(format!(
            "{failed} of {} endpoints could not be reached; see above",
            endpoints.len()
        )));
    }
    Ok(())
}

/// One block per endpoint: its route hop by hop, the address dialed and TLS, or
/// why it failed.
fn print_endpoint_checks(checks: &[EndpointCheck]) {
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
