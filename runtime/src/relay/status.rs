//! `airlock relay status`: reads the status file a running relay rewrites
//! every second and shows which tunnels are up, since when, and what they
//! carried. A file that stopped changing means the relay is not running.

use std::path::Path;
use std::time::{Duration, SystemTime};

use indicatif::{HumanBytes, HumanDuration};
use serde::Deserialize;

/// A status file older than this is from a relay that is no longer running.
const STALE_AFTER: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct StatusFile {
    listen: String,
    host_key: String,
    started: u64,
    updated: u64,
    tunnels: Vec<TunnelLine>,
}

#[derive(Deserialize)]
struct TunnelLine {
    name: String,
    up: bool,
    since: Option<u64>,
    customer: Option<String>,
    bytes: u64,
    connections: u64,
    #[serde(default)]
    open: u64,
}

/// Renders the status file at `path` for a person, as of `now`.
pub fn render(path: &Path, now: SystemTime) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "status file {}: {e}; is the relay running with this config? (`airlock relay --config ...` writes it every second)",
            path.display()
        )
    })?;
    let doc: StatusFile = serde_json::from_str(&text)
        .map_err(|e| format!("status file {}: not a relay status: {e}", path.display()))?;
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ago = |t: u64| HumanDuration(Duration::from_secs(now.saturating_sub(t)));
    let mut out = String::new();
    if now.saturating_sub(doc.updated) > STALE_AFTER.as_secs() {
        out.push_str(&format!(
            "relay NOT RUNNING: its status was last written {} ago; the lines below are from then\n",
            ago(doc.updated)
        ));
    }
    out.push_str(&format!(
        "relay on {} (host key {}), running for {}\n",
        doc.listen,
        doc.host_key,
        HumanDuration(Duration::from_secs(doc.updated.saturating_sub(doc.started)))
    ));
    for t in &doc.tunnels {
        let state = match (t.up, t.since, &t.customer) {
            (true, Some(since), Some(customer)) => {
                format!("up for {} from {customer}", ago(since))
            }
            (true, ..) => "up".to_owned(),
            (false, ..) => "DOWN (no customer session holds its forward)".to_owned(),
        };
        out.push_str(&format!(
            "tunnel {:?}: {state}; {} connections ({} open), {} carried\n",
            t.name,
            t.connections,
            t.open,
            HumanBytes(t.bytes)
        ));
    }
    if doc.tunnels.is_empty() {
        out.push_str("no tunnels configured\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), body).unwrap();
        f
    }

    const DOC: &str = r#"{"listen":"0.0.0.0:2222","host_key":"SHA256:abc","started":1000,"updated":1100,
        "tunnels":[{"name":"shop-db","up":true,"since":1040,"customer":"10.0.0.9:5555","bytes":2500000,"connections":3,"open":1},
                   {"name":"crm","up":false,"since":null,"customer":null,"bytes":0,"connections":0,"open":0}]}"#;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn shows_each_tunnel_with_its_state_and_traffic() {
        let f = file(DOC);
        let out = render(f.path(), at(1101)).unwrap();
        assert!(
            out.starts_with("relay on 0.0.0.0:2222 (host key SHA256:abc)"),
            "{out}"
        );
        assert!(
            out.contains("tunnel \"shop-db\": up for 61 seconds from 10.0.0.9:5555; 3 connections (1 open), 2.38 MiB carried"),
            "{out}"
        );
        assert!(out.contains("tunnel \"crm\": DOWN"), "{out}");
        assert!(!out.contains("NOT RUNNING"), "{out}");
    }

    #[test]
    fn a_file_that_stopped_changing_says_the_relay_is_not_running() {
        let f = file(DOC);
        let out = render(f.path(), at(1200)).unwrap();
        assert!(out.starts_with("relay NOT RUNNING"), "{out}");
    }

    #[test]
    fn a_missing_file_says_what_writes_it() {
        let e = render(Path::new("/nonexistent/relay.status.json"), at(0)).unwrap_err();
        assert!(e.contains("/nonexistent/relay.status.json"), "{e}");
        assert!(e.contains("airlock relay --config"), "{e}");
    }
}
