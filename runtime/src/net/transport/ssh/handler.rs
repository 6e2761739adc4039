//! The russh client handler of one hop: checks the host key during key exchange
//! and records what was negotiated.

use std::sync::{Arc, Mutex};

use russh::keys::PublicKey;
use russh::keys::PublicKeyOrCertificate;

use super::host_key::{self, Verified};
use crate::config::SshHop;
use crate::conn::NetError;

/// Why a hop's session failed: russh's own error, or airlock refusing it (host key).
#[derive(Debug)]
pub(crate) enum HopError {
    /// A protocol or I/O failure.
    Ssh(russh::Error),
    /// Refused by airlock with a message for the user.
    Refused(NetError),
}

impl From<russh::Error> for HopError {
    fn from(e: russh::Error) -> Self {
        HopError::Ssh(e)
    }
}

/// What the handshake established, filled in by the handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Negotiated {
    /// The server's host key, once checked and accepted.
    pub host_key: Option<(PublicKey, Verified)>,
    /// Key exchange algorithm.
    pub kex: String,
    /// Cipher (same in both directions with OpenSSH).
    pub cipher: String,
    /// Whether strict key exchange (`kex-strict-*-v00@openssh.com`) is on.
    pub strict_kex: bool,
}

/// Handler of one hop's session.
pub(crate) struct HopHandler {
    hop: SshHop,
    /// `None`: only capture the key and refuse it (fingerprint fetching).
    verify: bool,
    pub(crate) negotiated: Arc<Mutex<Negotiated>>,
}

impl HopHandler {
    /// A handler that verifies the host key against `hop.host_key`.
    pub(crate) fn new(hop: &SshHop) -> HopHandler {
        HopHandler {
            hop: hop.clone(),
            verify: true,
            negotiated: Default::default(),
        }
    }

    /// A handler that records the host key and then ends the handshake.
    pub(crate) fn capture(hop: &SshHop) -> HopHandler {
        HopHandler {
            verify: false,
            ..HopHandler::new(hop)
        }
    }
}

/// The message `capture` handlers stop the handshake with; not shown to users.
pub(crate) const CAPTURED: &str = "host key captured";

impl russh::client::Handler for HopHandler {
    type Error = HopError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // A host certificate's key is checked like a plain key: airlock has no
        // host CA configuration, and the pin is on the key.
        let key = server_public_key.public_key();
        let mut n = self.negotiated.lock().unwrap_or_else(|e| e.into_inner());
        if !self.verify {
            n.host_key = Some((key, Verified::Insecure));
            return Err(HopError::Refused(NetError::denied(CAPTURED)));
        }
        let verified = host_key::verify(&self.hop, &key).map_err(HopError::Refused)?;
        n.host_key = Some((key, verified));
        Ok(true)
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        names: &russh::Names,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        let mut n = self.negotiated.lock().unwrap_or_else(|e| e.into_inner());
        n.kex = names.kex.as_ref().to_owned();
        n.cipher = names.cipher.as_ref().to_owned();
        n.strict_kex = names.strict_kex();
        Ok(())
    }
}
