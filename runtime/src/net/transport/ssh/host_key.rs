//! Server host keys: the SHA256 fingerprint users compare, and the check each hop
//! makes before any credential is sent.
//!
//! russh calls the check during key exchange, after the server has proved it holds
//! the key and before authentication starts, so a refused key never sees a password
//! or a signature.

use std::fmt;
use std::path::Path;

use russh::keys::PublicKey;
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};

use crate::config::{HostKeyCheck, SshHop};
use crate::conn::NetError;
use crate::ssh::keys::{fingerprint, key_type};

/// How a host key was accepted, shown by `airlock check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// It matched a `host_key` pin.
    Pinned,
    /// It is listed for the host in this known_hosts file.
    KnownHosts(String),
    /// `insecure_accept_any_host_key = true`: not verified at all.
    Insecure,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verified::Pinned => f.write_str("pinned"),
            Verified::KnownHosts(path) => write!(f, "known_hosts ({path})"),
            Verified::Insecure => {
                f.write_str("INSECURE: not verified (insecure_accept_any_host_key)")
            }
        }
    }
}

/// Checks the key `hop` presented against the hop's [`HostKeyCheck`]. A refusal
/// is [`NetErrorKind::Denied`](crate::conn::NetErrorKind::Denied) and says what to
/// do: the presented fingerprint, what was expected, and the config line.
pub fn verify(hop: &SshHop, key: &PublicKey) -> Result<Verified, NetError> {
    let presented = fingerprint(key);
    let kind = key_type(key);
    let server = format!("{}:{}", hop.host, hop.port);
    match &hop.host_key {
        HostKeyCheck::Pinned(pins) => {
            if pins.iter().any(|p| p == &presented) {
                Ok(Verified::Pinned)
            } else {
                Err(mismatch(hop, &kind, &presented, pins, None))
            }
        }
        HostKeyCheck::KnownHosts(path) => check_known_hosts(hop, key, path),
        HostKeyCheck::InsecureAcceptAny => {
            tracing::warn!(
                "INSECURE: accepting the host key of {server} ({kind} {presented}) without verifying it \
                 ({}.insecure_accept_any_host_key = true); anyone who can intercept this connection can \
                 read and change it. Pin it instead: host_key = \"{presented}\"",
                hop.key_path
            );
            Ok(Verified::Insecure)
        }
        HostKeyCheck::Missing => Err(NetError::denied(format!(
            "{server} presented a {kind} host key with fingerprint {presented}, and {path} has no host key \
             to check it against, so airlock refused to connect (before authenticating). If that is the \
             server's key (confirm with its operator, who can run `ssh-keygen -lf /etc/ssh/ssh_host_{short}_key.pub` \
             on it), add under [{path}]:\n    host_key = \"{presented}\"",
            path = hop.key_path,
            short = short_type(&kind),
        ))),
    }
}

/// `ed25519` / `ecdsa` / `rsa`, as in the sshd host key file names.
fn short_type(kind: &str) -> &'static str {
    if kind.contains("ed25519") {
        "ed25519"
    } else if kind.starts_with("ecdsa") {
        "ecdsa"
    } else {
        "rsa"
    }
}

fn mismatch(
    hop: &SshHop,
    kind: &str,
    presented: &str,
    expected: &[String],
    known_hosts: Option<&Path>,
) -> NetError {
    let server = format!("{}:{}", hop.host, hop.port);
    let (source, approve) = match known_hosts {
        None => (
            format!("{}.host_key", hop.key_path),
            format!(
                "replace the pin under [{}]: host_key = \"{presented}\" (or, during a planned key rotation, \
                 list both: host_key = [\"{}\", \"{presented}\"])",
                hop.key_path,
                expected.first().map(String::as_str).unwrap_or("SHA256:...")
            ),
        ),
        Some(p) => (
            p.display().to_string(),
            format!(
                "remove the old entry with `ssh-keygen -R '{}' -f {}` and add the new key \
                 (`ssh-keyscan -p {} {} >> {}`, then compare its fingerprint)",
                known_hosts_name(&hop.host, hop.port),
                p.display(),
                hop.port,
                hop.host,
                p.display()
            ),
        ),
    };
    NetError::denied(format!(
        "HOST KEY MISMATCH for {server} ({path}): expected {expected} (from {source}), but the server presented \
         a {kind} key {presented}. airlock refused the connection before authenticating; no credentials were sent. \
         Someone may be intercepting the connection, or the server's host key was changed. If the change is \
         legitimate (confirm the new fingerprint with the server's operator), {approve}",
        path = hop.key_path,
        expected = expected.join(" or "),
    ))
}

/// How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise.
fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

fn check_known_hosts(hop: &SshHop, key: &PublicKey, path: &Path) -> Result<Verified, NetError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        NetError::denied(format!(
            "{}.known_hosts: cannot read {}: {e}",
            hop.key_path,
            path.display()
        ))
    })?;
    let name = known_hosts_name(&hop.host, hop.port);
    let mut listed = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A line this parser does not understand (another key type, a typo) is
        // skipped, as OpenSSH does, rather than failing the whole file.
        let Ok(entry) = line.parse::<Entry>() else {
            continue;
        };
        if !host_matches(entry.host_patterns(), &name) {
            continue;
        }
        let same_key = entry.public_key().key_data() == key.key_data();
        match entry.marker() {
            Some(Marker::Revoked) if same_key => {
                return Err(NetError::denied(format!(
                    "{}:{} presented the host key {} that {} marks @revoked; airlock refused the connection",
                    hop.host,
                    hop.port,
                    fingerprint(key),
                    path.display()
                )));
            }
            // Host certificates are not used: a CA line is not a host key.
            Some(_) => continue,
            None if same_key => return Ok(Verified::KnownHosts(path.display().to_string())),
            None => listed.push(fingerprint(entry.public_key())),
        }
    }
    let presented = fingerprint(key);
    let kind = key_type(key);
    if listed.is_empty() {
        let server = format!("{}:{}", hop.host, hop.port);
        return Err(NetError::denied(format!(
            "{server} is not in {file} (looked for \"{name}\"); it presented a {kind} key {presented}, so airlock \
             refused to connect (before authenticating). If that is the server's key (confirm with its operator), \
             add it: `ssh-keyscan -p {port} {host} >> {file}`, or pin it under [{path}]: host_key = \"{presented}\"",
            file = path.display(),
            port = hop.port,
            host = hop.host,
            path = hop.key_path,
        )));
    }
    Err(mismatch(hop, &kind, &presented, &listed, Some(path)))
}

/// OpenSSH host matching for one known_hosts line: comma-separated patterns with
/// `*`/`?` wildcards and `!` negation (a negated match excludes the line), or
/// one hashed name (`|1|salt|HMAC-SHA1(salt, name)`).
fn host_matches(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            // HMAC-SHA1 is what the known_hosts format defines for hashed names;
            // it hides host names in the file and is not used for any security
            // decision about the connection.
            let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
            ring::hmac::verify(&k, name.as_bytes(), hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for p in list {
                if let Some(neg) = p.strip_prefix('!') {
                    if glob(neg, name) {
                        return false;
                    }
                } else if glob(p, name) {
                    matched = true;
                }
            }
            matched
        }
    }
}

/// `*` and `?` glob, case-insensitive like OpenSSH's host matching.
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let n: Vec<char> = name.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Secret, SshAuth};

    fn hop(check: HostKeyCheck, port: u16) -> SshHop {
        SshHop {
            host: "bastion.example.com".into(),
            port,
            user: "airlock".into(),
            auth: SshAuth::Password(Secret::new("x")),
            host_key: check,
            keepalive_interval: Duration::from_secs(15),
            keepalive_count: 3,
            key_path: "endpoints.db.via.ssh".into(),
        }
    }

    fn key() -> PublicKey {
        let (private, _) = crate::ssh::keys::generate_ed25519("k").unwrap();
        crate::ssh::keys::load_client_key(&private, None, "p")
            .unwrap()
            .public_key()
            .clone()
    }

    #[test]
    fn pins_missing_and_mismatch() {
        let k = key();
        let fp = fingerprint(&k);
        assert!(fp.starts_with("SHA256:") && fp.len() == 50, "{fp}");
        assert_eq!(
            verify(
                &hop(
                    HostKeyCheck::Pinned(vec!["SHA256:x".into(), fp.clone()]),
                    22
                ),
                &k
            ),
            Ok(Verified::Pinned)
        );
        let e = verify(&hop(HostKeyCheck::Missing, 22), &k).unwrap_err();
        assert!(
            e.message.contains(&format!("host_key = \"{fp}\"")),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("[endpoints.db.via.ssh]"),
            "{}",
            e.message
        );
        let e = verify(
            &hop(HostKeyCheck::Pinned(vec!["SHA256:old".into()]), 22),
            &k,
        )
        .unwrap_err();
        assert!(
            e.message.contains("SHA256:old") && e.message.contains(&fp),
            "{}",
            e.message
        );
        assert!(e.message.contains("before authenticating"), "{}", e.message);
    }

    #[test]
    fn known_hosts_plain_bracketed_hashed_and_negated() {
        let k = key();
        let other = key();
        let line = k.to_openssh().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let check = HostKeyCheck::KnownHosts(path.clone());

        std::fs::write(
            &path,
            format!("# comment\n*.example.com,!bastion.example.com {line}\n"),
        )
        .unwrap();
        assert!(
            verify(&hop(check.clone(), 22), &k)
                .unwrap_err()
                .message
                .contains("is not in")
        );

        std::fs::write(
            &path,
            format!("garbage line\n[bastion.example.com]:2222 {line}\n"),
        )
        .unwrap();
        assert!(matches!(
            verify(&hop(check.clone(), 2222), &k),
            Ok(Verified::KnownHosts(_))
        ));
        assert!(verify(&hop(check.clone(), 22), &k).is_err());
        let e = verify(&hop(check.clone(), 2222), &other).unwrap_err();
        assert!(e.message.contains("HOST KEY MISMATCH"), "{}", e.message);
        assert!(e.message.contains(&fingerprint(&k)) && e.message.contains(&fingerprint(&other)));

        // `ssh-keygen -H` style: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
        let salt = vec![7u8; 20];
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt),
            b"bastion.example.com",
        );
        let hashed = HostPatterns::HashedName {
            salt,
            hash: tag.as_ref().try_into().unwrap(),
        };
        std::fs::write(&path, format!("{} {line}\n", hashed.to_string())).unwrap();
        assert!(matches!(
            verify(&hop(check, 22), &k),
            Ok(Verified::KnownHosts(_))
        ));
    }

    #[test]
    fn glob_matches_like_openssh() {
        assert!(glob("*.example.com", "a.example.com"));
        assert!(glob("10.0.0.?", "10.0.0.7"));
        assert!(!glob("10.0.0.?", "10.0.0.70"));
        assert!(glob("HOST", "host"));
    }
}
