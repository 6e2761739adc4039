//! TLS on the host (rustls): one client config per endpoint, verifying the
//! endpoint's configured `host` — also when the bytes travel through a tunnel,
//! because the name checked is never the address dialed.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::config::{ConfigError, Tls};
use crate::conn::{BoxStream, Deadline, NetError};

/// A ready-to-use TLS client for one endpoint.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    host: String,
}

/// What a handshake negotiated, for `airlock check` and the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: String,
    /// The server certificate's subject, e.g. "CN=api.example.com".
    pub subject: String,
    /// The server certificate's issuer.
    pub issuer: String,
}

impl TlsClient {
    /// Builds the client for `host` from the endpoint's TLS settings. `path` is
    /// the endpoint's key path, for errors (`endpoints.api`).
    pub fn new(host: &str, tls: &Tls, path: &str) -> Result<TlsClient, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(file) = &tls.ca_file {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ConfigError::key(
                        format!("{path}.ca_file"),
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
            if certs.is_empty() {
                return Err(ConfigError::key(
                    format!("{path}.ca_file"),
                    format!("{} holds no PEM certificate", file.display()),
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    ConfigError::key(
                        format!("{path}.ca_file"),
                        format!("{} holds a certificate rustls refuses: {e}", file.display()),
                    )
                })?;
            }
        }
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::key(path, format!("TLS setup: {e}")))?
            .with_root_certificates(roots);
        let config = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        ConfigError::key(
                            format!("{path}.client_cert"),
                            format!("cannot read {}: {e}", cert.display()),
                        )
                    })?;
                // The key's text is a secret: the error says what is wrong, never what it holds.
                let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|_| {
                    ConfigError::key(
                        format!("{path}.client_key"),
                        "not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    )
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| ConfigError::key(format!("{path}.client_cert"), e.to_string()))?
            }
            _ => builder.with_no_client_auth(),
        };
        let server_name = ServerName::try_from(host.to_owned()).map_err(|_| {
            ConfigError::key(
                format!("{path}.host"),
                format!("\"{host}\" is not a valid TLS server name"),
            )
        })?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            host: host.to_owned(),
        })
    }

    /// Runs the handshake over `stream`, done by `deadline`.
    pub async fn handshake(
        &self,
        stream: BoxStream,
        deadline: Deadline,
    ) -> Result<(BoxStream, TlsInfo), NetError> {
        let handshake = async {
            let connect = self.connector.connect(self.server_name.clone(), stream);
            connect.await.map_err(|e| self.explain(e))
        };
        let doing = || format!("the TLS handshake with {}", self.host);
        let tls = deadline.run(doing, handshake).await?;
        let (_, conn) = tls.get_ref();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(v) => format!("{v:?}"),
            None => "unknown".to_owned(),
        };
        let (subject, issuer) = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| describe_cert(c))
            .unwrap_or_default();
        Ok((
            Box::new(tls),
            TlsInfo {
                version,
                subject,
                issuer,
            },
        ))
    }

    fn explain(&self, e: std::io::Error) -> NetError {
        let host = &self.host;
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        let msg = match inner {
            Some(rustls::Error::InvalidCertificate(cert)) => {
                use rustls::CertificateError as C;
                match cert {
                    C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                        "TLS: the certificate presented is not valid for {host}; the endpoint's `host` must be the name on the server's certificate (it is verified even through a tunnel)"
                    ),
                    C::UnknownIssuer => format!(
                        "TLS: the certificate of {host} is signed by an unknown CA; if the server uses a private CA, set `ca_file` on the endpoint to its PEM"
                    ),
                    C::Expired | C::ExpiredContext { .. } => {
                        format!("TLS: the certificate of {host} has expired")
                    }
                    other => format!("TLS: the certificate of {host} was refused: {other:?}"),
                }
            }
            Some(other) => format!("TLS handshake with {host} failed: {other}"),
            None => format!(
                "TLS handshake with {host} failed: {e}; is the port speaking TLS (tls_handshake = \"immediate\") or does it negotiate TLS in-band (tls_handshake = \"in-band\")?"
            ),
        };
        NetError::tls(msg)
    }
}

/// Subject and issuer of a DER certificate, in RFC 4514-ish form.
fn describe_cert(der: &CertificateDer<'_>) -> (String, String) {
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => (cert.subject().to_string(), cert.issuer().to_string()),
        Err(_) => ("(unparsable certificate)".into(), String::new()),
    }
}
