//! TLS on an endpoint: `tls`, `tls_handshake`, `ca_file`, `client_cert`,
//! `client_key`. The same on every route, since the host does TLS end to end
//! with the source, whatever carries the bytes.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::credential;
use crate::config::{ConfigError, Secret};
use crate::redact::Redactor;

/// TLS on an endpoint. The host does the handshake; the connector sees plaintext.
#[derive(Debug, Clone)]
pub struct Tls {
    /// disable, prefer or require.
    pub mode: TlsMode,
    /// `true`: handshake as soon as the connection is open (HTTPS). `false`: the
    /// connector starts it in-band with `upgrade-tls` (PostgreSQL, MySQL, STARTTLS).
    pub immediate: bool,
    /// PEM file of extra CA certificates to trust (besides the Web PKI roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for servers that require one.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<Secret>,
}

/// Whether TLS is used on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Clear text only.
    Disable,
    /// TLS if the connector negotiates it in-band; clear otherwise.
    Prefer,
    /// TLS always: the host refuses application bytes in clear.
    Require,
}

/// `tls` when the endpoint does not say.
pub(super) fn default_mode() -> TlsMode {
    TlsMode::Disable
}

/// The TLS keys of one `[endpoints.NAME]`, as written.
pub(super) struct RawTls {
    pub(super) mode: TlsMode,
    /// "immediate" (default) or "in-band".
    pub(super) handshake: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) client_cert: Option<PathBuf>,
    pub(super) client_key: Option<toml::Value>,
}

impl RawTls {
    /// Checks the settings go together; `path` is the endpoint's key path.
    pub(super) fn resolve(
        self,
        path: &str,
        base: &Path,
        redactor: &mut Redactor,
    ) -> Result<Tls, ConfigError> {
        let immediate = match self.handshake.as_deref() {
            None | Some("immediate") => true,
            Some("in-band") => false,
            Some(other) => {
                return Err(ConfigError::key(
                    format!("{path}.tls_handshake"),
                    format!(
                        "\"{other}\" is not a handshake; use \"immediate\" (HTTPS-style) or \"in-band\" (the connector calls upgrade-tls, as PostgreSQL does)"
                    ),
                ));
            }
        };
        if self.mode == TlsMode::Prefer && immediate {
            return Err(ConfigError::key(
                format!("{path}.tls"),
                "\"prefer\" means TLS if the connector negotiates it in-band; set tls_handshake = \"in-band\", or use tls = \"require\" for a TLS-only port",
            ));
        }
        if self.mode == TlsMode::Disable
            && (self.ca_file.is_some() || self.client_cert.is_some() || self.client_key.is_some())
        {
            return Err(ConfigError::key(
                path,
                "ca_file/client_cert/client_key are set but tls = \"disable\"; set tls = \"require\" or remove them",
            ));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(ConfigError::key(
                path,
                "client_cert and client_key go together; set both or neither",
            ));
        }
        let client_key = self
            .client_key
            .as_ref()
            .map(|v| credential(v, &format!("{path}.client_key"), base, redactor))
            .transpose()?;
        Ok(Tls {
            mode: self.mode,
            immediate,
            ca_file: self.ca_file.map(|p| base.join(p)),
            client_cert: self.client_cert.map(|p| base.join(p)),
            client_key,
        })
    }
}
