//! SSH keys: loading the private key a hop authenticates with, making new ones
//! (`airlock keygen`, the relay's and the demo's host keys), and the fingerprint
//! users compare.
//!
//! Key text arrives already resolved from the connection file (a [`Secret`]); this
//! module only parses it. Errors name the config key (`endpoints.db.via.ssh.private_key`)
//! and say what to change, and never quote the key text.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use russh::keys::ssh_key::{LineEnding, PrivateKey};
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKey};

use crate::config::Secret;
use crate::conn::NetError;

/// The fingerprint OpenSSH prints (`ssh-keygen -lf`, `ssh -v`): `SHA256:` and the
/// unpadded base64 of the SHA-256 of the key blob.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The key's algorithm name as it appears in known_hosts (`ssh-ed25519`,
/// `ecdsa-sha2-nistp256`, `ssh-rsa`).
pub fn key_type(key: &PublicKey) -> String {
    key.algorithm().as_str().to_owned()
}

/// Parses a client private key: ed25519, ECDSA (P-256/P-384/P-521) or RSA, in
/// OpenSSH format, PEM (PKCS#1 RSA, SEC1 EC, legacy-encrypted PKCS#1 with
/// AES-128-CBC) or PKCS#8 (plain or encrypted). `passphrase` decrypts an encrypted
/// key and is ignored for a plain one (as `ssh` does). `key_path` is the hop's
/// config key path (`endpoints.db.via.ssh`), used in errors.
pub fn load_client_key(
    key: &Secret,
    passphrase: Option<&Secret>,
    key_path: &str,
) -> Result<Arc<PrivateKey>, NetError> {
    let text = key.expose();
    let at = format!("{key_path}.private_key");
    let kind = KeyText::classify(text);
    let encrypted = match kind {
        KeyText::PublicKey => {
            return Err(NetError::denied(format!(
                "{at}: this is a public key; give the private key file (the one without .pub)"
            )));
        }
        KeyText::Unknown => {
            return Err(NetError::denied(format!(
                "{at}: not a private key; expected OpenSSH (-----BEGIN OPENSSH PRIVATE KEY-----), \
                 PEM (-----BEGIN RSA PRIVATE KEY----- / -----BEGIN EC PRIVATE KEY-----) or \
                 PKCS#8 (-----BEGIN PRIVATE KEY----- / -----BEGIN ENCRYPTED PRIVATE KEY-----) text"
            )));
        }
        KeyText::LegacyPem { cipher: Some(c) } if c != "AES-128-CBC" => {
            return Err(NetError::denied(format!(
                "{at}: the key is encrypted with legacy PEM encryption ({c}), which airlock does not read; \
                 convert it with `ssh-keygen -p -f KEYFILE` (rewrites it in OpenSSH format, keeping the passphrase)"
            )));
        }
        KeyText::LegacyPem { cipher } => cipher.is_some(),
        KeyText::Pkcs8Encrypted => true,
        // OpenSSH keys say whether they are encrypted inside the binary blob;
        // russh decrypts only when asked, so hand it the passphrase if we have one.
        KeyText::OpenSsh => passphrase.is_some(),
        KeyText::Plain => false,
    };
    if encrypted && passphrase.is_none() {
        return Err(encrypted_without_passphrase(&at, key_path));
    }
    // A plain PKCS#8/PEM key must be decoded without a password: russh would
    // otherwise try to decrypt it and fail.
    let password = if encrypted {
        passphrase.map(Secret::expose)
    } else {
        None
    };
    let key = match russh::keys::decode_secret_key(text, password) {
        Ok(k) => k,
        Err(russh::keys::Error::KeyIsEncrypted) => {
            return Err(encrypted_without_passphrase(&at, key_path));
        }
        Err(e) if encrypted => {
            return Err(NetError::denied(format!(
                "{at}: the key could not be decrypted; check {key_path}.passphrase ({})",
                describe(&e)
            )));
        }
        Err(e) => {
            return Err(NetError::denied(format!(
                "{at}: the key could not be read ({})",
                describe(&e)
            )));
        }
    };
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. } => Ok(Arc::new(key)),
        other => Err(NetError::denied(format!(
            "{at}: {} keys are not supported; use an ed25519 key (`airlock keygen --out PATH`), ECDSA or RSA",
            other.as_str()
        ))),
    }
}

fn encrypted_without_passphrase(at: &str, key_path: &str) -> NetError {
    NetError::denied(format!(
        "{at}: the key is encrypted; set {key_path}.passphrase = {{ env = \"...\" }} (or {{ file = \"...\" }})"
    ))
}

/// A short reason from a key-parsing error, without any key material (russh's
/// errors describe structure, never contents).
fn describe(e: &russh::keys::Error) -> String {
    match e {
        russh::keys::Error::UnsupportedKeyType {
            key_type_string, ..
        } => format!("unsupported key type {key_type_string}"),
        russh::keys::Error::UnknownAlgorithm(oid) => format!("unknown key algorithm {oid}"),
        other => other.to_string(),
    }
}

/// What the PEM armour of a key says, before parsing the body.
#[derive(Debug, PartialEq, Eq)]
enum KeyText {
    OpenSsh,
    /// `BEGIN RSA/EC PRIVATE KEY`, with the `DEK-Info` cipher if encrypted.
    LegacyPem {
        cipher: Option<String>,
    },
    Pkcs8Encrypted,
    /// Unencrypted PKCS#8 (`BEGIN PRIVATE KEY`).
    Plain,
    PublicKey,
    Unknown,
}

impl KeyText {
    fn classify(text: &str) -> KeyText {
        let t = text.trim_start();
        if t.starts_with("PuTTY-User-Key-File-") {
            // russh reads PuTTY keys and knows whether they are encrypted.
            return KeyText::OpenSsh;
        }
        if t.starts_with("ssh-")
            || t.starts_with("ecdsa-sha2-")
            || t.starts_with("---- BEGIN SSH2 PUBLIC KEY")
        {
            return KeyText::PublicKey;
        }
        let Some(begin) = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("-----BEGIN "))
        else {
            return KeyText::Unknown;
        };
        match begin {
            "-----BEGIN OPENSSH PRIVATE KEY-----" => KeyText::OpenSsh,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----" => KeyText::Pkcs8Encrypted,
            "-----BEGIN PRIVATE KEY-----" => KeyText::Plain,
            "-----BEGIN RSA PRIVATE KEY-----" | "-----BEGIN EC PRIVATE KEY-----" => {
                let cipher = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("DEK-Info:"))
                    .map(|v| v.trim().split(',').next().unwrap_or("").to_owned());
                KeyText::LegacyPem { cipher }
            }
            _ => KeyText::Unknown,
        }
    }
}

/// How an RSA key signs, given what the server announced in `server-sig-algs`
/// (`russh::client::Handle::best_supported_rsa_hash`). Never SHA-1 (`ssh-rsa`):
/// a server that offers only that is refused with an error naming the hop.
/// Non-RSA keys ignore the hash.
pub fn with_signature_hash(
    key: Arc<PrivateKey>,
    server_sig_algs: Option<Option<HashAlg>>,
    hop: &str,
) -> Result<PrivateKeyWithHashAlg, NetError> {
    if !matches!(key.algorithm(), Algorithm::Rsa { .. }) {
        return Ok(PrivateKeyWithHashAlg::new(key, None));
    }
    let hash = match server_sig_algs {
        Some(Some(h)) => h,
        Some(None) => {
            return Err(NetError::denied(format!(
                "{hop} accepts RSA signatures only with SHA-1 (ssh-rsa), which airlock does not use; \
                 use an ed25519 key (`airlock keygen`) or enable rsa-sha2-256/512 on the server (OpenSSH 7.2+ has them)"
            )));
        }
        // No server-sig-algs (servers before RFC 8308): rsa-sha2-256 is the
        // most widely supported SHA-2 variant; passing `None` would mean SHA-1.
        None => HashAlg::Sha256,
    };
    Ok(PrivateKeyWithHashAlg::new(key, Some(hash)))
}

/// A human name for the signature algorithm a key authenticates with
/// (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`).
pub fn signature_algorithm(key: &PrivateKeyWithHashAlg) -> String {
    key.algorithm().as_str().to_owned()
}

/// Making a key failed: the OS's random source, or encoding it (neither is
/// expected; the message says which step).
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {source}")]
pub struct KeyGenError {
    doing: &'static str,
    source: russh::keys::ssh_key::Error,
}

/// Generates an ed25519 key pair for `airlock keygen`: the private key in
/// OpenSSH format (unencrypted; the file's mode protects it) and the public key
/// as an `authorized_keys` line (`ssh-ed25519 AAAA... comment`).
pub fn generate_ed25519(comment: &str) -> Result<(Secret, String), KeyGenError> {
    let mut key = new_ed25519()?;
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|source| KeyGenError {
            doing: "encoding the private key",
            source,
        })?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|source| KeyGenError {
            doing: "encoding the public key",
            source,
        })?;
    Ok((Secret::new(private.as_str()), public))
}

/// A fresh ed25519 key from the OS's random source (client keys, the relay's
/// and the demo bastion's host keys).
pub fn new_ed25519() -> Result<PrivateKey, KeyGenError> {
    PrivateKey::random(&mut russh::keys::key::safe_rng(), Algorithm::Ed25519).map_err(|source| {
        KeyGenError {
            doing: "generating an ed25519 key",
            source,
        }
    })
}

/// Writes a private key to `path` with mode 0600, refusing to overwrite an
/// existing file (a key that is already authorized somewhere must not be
/// silently replaced).
pub fn write_private_key(path: &Path, private_key: &Secret) -> std::io::Result<()> {
    // `--out keys/shop` is the natural first command; a missing `keys/` is
    // created private to its owner rather than failing.
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| {
            std::io::Error::new(e.kind(), format!("creating {}: {e}", dir.display()))
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{} already exists; refusing to overwrite a key (remove it first, or choose another --out)",
                    path.display()
                ),
            )
        } else {
            std::io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
        }
    })?;
    file.write_all(private_key.expose().as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_loads_back_and_matches_its_public_line() {
        let (private, public) = generate_ed25519("test@airlock").unwrap();
        let key = load_client_key(&private, None, "endpoints.db.via.ssh").unwrap();
        assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
        assert!(public.ends_with(" test@airlock"), "{public}");
        assert_eq!(key.public_key().to_openssh().unwrap(), public);
    }

    #[test]
    fn public_key_and_garbage_are_named_without_quoting_them() {
        let (_, public) = generate_ed25519("x").unwrap();
        let e = load_client_key(&Secret::new(public.clone()), None, "endpoints.db.via.ssh")
            .unwrap_err();
        assert!(
            e.message
                .starts_with("endpoints.db.via.ssh.private_key: this is a public key")
        );
        assert!(!e.message.contains("AAAA"));
        let e = load_client_key(&Secret::new("hunter2"), None, "endpoints.db.via.ssh").unwrap_err();
        assert!(e.message.contains("not a private key"), "{}", e.message);
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn written_key_is_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let (private, _) = generate_ed25519("x").unwrap();
        write_private_key(&path, &private).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let e = write_private_key(&path, &private).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("refusing to overwrite"), "{e}");
    }

    #[test]
    fn rsa_never_signs_with_sha1() {
        let key = load_client_key(&generate_ed25519("x").unwrap().0, None, "p").unwrap();
        // Non-RSA keys carry no hash.
        assert!(with_signature_hash(key, Some(None), "h").is_ok());
    }
}
