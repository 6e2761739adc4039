//! `relay.toml`: where the relay listens, its host key, the tunnels customers
//! open with `ssh -R`, and the worker keys that may reach them.
//!
//! Pure parsing: no sockets, no key files read. Errors name the key path
//! (`tunnels[1].customer_keys[0]`) and say what is expected.
//!
//! ```toml
//! listen = "0.0.0.0:2222"
//! host_key = "relay_host_key"          # generated (mode 0600) on first start
//!
//! [[tunnels]]
//! name = "shop-db"                     # what workers ask for (via.reverse_ssh.tunnel)
//! port = 12345                         # the one port the customer may `ssh -R`
//! customer_keys = ["ssh-ed25519 AAAA... dba@shop"]
//!
//! [[workers]]
//! key = "ssh-ed25519 AAAA... airlock-worker"
//! tunnels = ["shop-db"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use russh::keys::PublicKey;
use russh::keys::ssh_key::public::KeyData;
use serde::Deserialize;

/// A parsed relay configuration.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The address the SSH server listens on.
    pub listen: SocketAddr,
    /// The host key file (OpenSSH format); generated if it does not exist.
    pub host_key: PathBuf,
    /// Where the running relay writes its status (JSON); next to the config
    /// file as `relay.status.json` unless `status_file` is set.
    pub status_file: PathBuf,
    /// The tunnels, in config order.
    pub tunnels: Vec<Tunnel>,
    /// The worker keys.
    pub workers: Vec<Worker>,
}

/// One reverse tunnel a customer opens with `ssh -R PORT:db:5432`.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The name workers ask for as the `direct-tcpip` host.
    pub name: String,
    /// The only forward port the customer's keys may request.
    pub port: u16,
    /// Keys allowed to open this tunnel.
    pub customer_keys: Vec<PublicKey>,
}

/// A worker (an airlock runtime) allowed to reach some tunnels.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Its public key.
    pub key: PublicKey,
    /// Tunnel names it may reach.
    pub tunnels: BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: String,
    host_key: PathBuf,
    status_file: Option<PathBuf>,
    #[serde(default)]
    tunnels: Vec<RawTunnel>,
    #[serde(default)]
    workers: Vec<RawWorker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    name: String,
    port: u16,
    customer_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    key: String,
    tunnels: Vec<String>,
}

impl RelayConfig {
    /// Reads and parses `path`; relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<RelayConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        RelayConfig::parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses relay.toml text; `base` is the directory relative paths start from.
    pub fn parse(text: &str, base: &Path) -> Result<RelayConfig, String> {
        let de = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
        let raw: Raw = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner().message())
        })?;
        let listen: SocketAddr = raw.listen.parse().map_err(|_| {
            format!(
                "listen: \"{}\" is not an address and port, e.g. \"0.0.0.0:2222\"",
                raw.listen
            )
        })?;
        let mut tunnels = Vec::with_capacity(raw.tunnels.len());
        let mut names = BTreeSet::new();
        let mut ports = BTreeMap::new();
        let mut customer_keys: BTreeMap<KeyData, String> = BTreeMap::new();
        for (i, t) in raw.tunnels.into_iter().enumerate() {
            let at = format!("tunnels[{i}]");
            if !crate::config::is_simple_name(&t.name) {
                return Err(format!(
                    "{at}.name: tunnel names use letters, digits, '-', '_' and '.' only"
                ));
            }
            if !names.insert(t.name.clone()) {
                return Err(format!(
                    "{at}.name: \"{}\" is used by another tunnel",
                    t.name
                ));
            }
            if t.port == 0 {
                return Err(format!(
                    "{at}.port: must be 1..=65535 (the port in the customer's `ssh -R PORT:db:5432`)"
                ));
            }
            if let Some(other) = ports.insert(t.port, t.name.clone()) {
                return Err(format!(
                    "{at}.port: {} is already the port of tunnel \"{other}\"",
                    t.port
                ));
            }
            if t.customer_keys.is_empty() {
                return Err(format!(
                    "{at}.customer_keys: list at least one public key line (the customer's ~/.ssh/id_ed25519.pub)"
                ));
            }
            let mut keys = Vec::new();
            for (j, line) in t.customer_keys.iter().enumerate() {
                let key_at = format!("{at}.customer_keys[{j}]");
                let key = public_key(line).map_err(|e| format!("{key_at}: {e}"))?;
                // One key, one tunnel: the port a key may forward must be unambiguous.
                if let Some(prev) = customer_keys.insert(key_id(&key), key_at.clone()) {
                    return Err(format!(
                        "{key_at}: the same key is already {prev}; give each tunnel its own customer key"
                    ));
                }
                keys.push(key);
            }
            tunnels.push(Tunnel {
                name: t.name,
                port: t.port,
                customer_keys: keys,
            });
        }
        let mut workers = Vec::with_capacity(raw.workers.len());
        let mut worker_keys = BTreeSet::new();
        for (i, w) in raw.workers.into_iter().enumerate() {
            let at = format!("workers[{i}]");
            let key = public_key(&w.key).map_err(|e| format!("{at}.key: {e}"))?;
            if let Some(c) = customer_keys.get(&key_id(&key)) {
                return Err(format!(
                    "{at}.key: the same key is {c}; a key is either a customer's or a worker's"
                ));
            }
            if !worker_keys.insert(key_id(&key)) {
                return Err(format!(
                    "{at}.key: this key is listed under another [[workers]] entry; merge their tunnels"
                ));
            }
            for (j, name) in w.tunnels.iter().enumerate() {
                if !names.contains(name) {
                    return Err(format!(
                        "{at}.tunnels[{j}]: no tunnel named \"{name}\"; the [[tunnels]] are: {}",
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            workers.push(Worker {
                key,
                tunnels: w.tunnels.into_iter().collect(),
            });
        }
        let status_file = raw
            .status_file
            .map(|p| base.join(p))
            .unwrap_or_else(|| base.join("relay.status.json"));
        Ok(RelayConfig {
            listen,
            host_key: base.join(raw.host_key),
            status_file,
            tunnels,
            workers,
        })
    }
}

/// The key's algorithm and data, without the comment: what identity means.
pub(crate) fn key_id(key: &PublicKey) -> KeyData {
    key.key_data().clone()
}

fn public_key(line: &str) -> Result<PublicKey, String> {
    let key = PublicKey::from_openssh(line.trim()).map_err(|_| {
        "not a public key line; expected \"ssh-ed25519 AAAA... comment\" as in a .pub file"
            .to_owned()
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(comment: &str) -> String {
        crate::ssh::generate_ed25519(comment).unwrap().1
    }

    fn parse(body: &str) -> Result<RelayConfig, String> {
        RelayConfig::parse(body, Path::new("/etc/airlock"))
    }

    #[test]
    fn full_config_parses_with_paths_relative_to_it() {
        let (c, w) = (key("c"), key("w"));
        let cfg = parse(&format!(
            "listen = \"127.0.0.1:2222\"\nhost_key = \"hk\"\n\
             [[tunnels]]\nname = \"shop-db\"\nport = 12345\ncustomer_keys = [\"{c}\"]\n\
             [[workers]]\nkey = \"{w}\"\ntunnels = [\"shop-db\"]\n"
        ))
        .unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:2222".parse().unwrap());
        assert_eq!(cfg.host_key, Path::new("/etc/airlock/hk"));
        assert_eq!(cfg.status_file, Path::new("/etc/airlock/relay.status.json"));
        assert_eq!(
            (cfg.tunnels[0].name.as_str(), cfg.tunnels[0].port),
            ("shop-db", 12345)
        );
        assert!(cfg.workers[0].tunnels.contains("shop-db"));
    }

    #[test]
    fn mistakes_name_the_key_path() {
        let (c, w) = (key("c"), key("w"));
        let head = "listen = \"127.0.0.1:2222\"\nhost_key = \"hk\"\n";
        let tunnel = |name: &str, port: u16, k: &str| {
            format!("[[tunnels]]\nname = \"{name}\"\nport = {port}\ncustomer_keys = [\"{k}\"]\n")
        };
        let e = parse("listen = \"nowhere\"\nhost_key = \"hk\"\n").unwrap_err();
        assert!(e.starts_with("listen:"), "{e}");
        let e = parse(&format!("{head}{}", tunnel("a", 0, &c))).unwrap_err();
        assert!(e.starts_with("tunnels[0].port"), "{e}");
        let e = parse(&format!("{head}{}", tunnel("a b", 1, &c))).unwrap_err();
        assert!(e.starts_with("tunnels[0].name"), "{e}");
        let e = parse(&format!("{head}{}", tunnel("a", 1, "ssh-ed25519 nope"))).unwrap_err();
        assert!(
            e.starts_with("tunnels[0].customer_keys[0]: not a public key"),
            "{e}"
        );
        let two = format!("{head}{}{}", tunnel("a", 1, &c), tunnel("b", 1, &w));
        assert!(
            parse(&two)
                .unwrap_err()
                .contains("already the port of tunnel \"a\"")
        );
        let same_key = format!("{head}{}{}", tunnel("a", 1, &c), tunnel("b", 2, &c));
        assert!(
            parse(&same_key)
                .unwrap_err()
                .starts_with("tunnels[1].customer_keys[0]")
        );
        let e = parse(&format!(
            "{head}{}[[workers]]\nkey = \"{w}\"\ntunnels = [\"zzz\"]\n",
            tunnel("a", 1, &c)
        ))
        .unwrap_err();
        assert!(
            e.starts_with("workers[0].tunnels[0]: no tunnel named \"zzz\""),
            "{e}"
        );
        let e = parse(&format!(
            "{head}{}[[workers]]\nkey = \"{c}\"\ntunnels = [\"a\"]\n",
            tunnel("a", 1, &c)
        ))
        .unwrap_err();
        assert!(e.contains("either a customer's or a worker's"), "{e}");
        let e = parse(&format!("{head}lisen = 1\n")).unwrap_err();
        assert!(e.contains("lisen"), "{e}");
    }
}
