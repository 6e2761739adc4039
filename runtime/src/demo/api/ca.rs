//! A throwaway certificate authority, so the demo API can speak real, verified
//! TLS without anything from a public CA or the system trust store.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// A fresh CA whose key lives only in this value: trust [`ca_pem`](Self::ca_pem)
/// in a client, and [`issue`](Self::issue) server certificates the client will
/// then accept for exactly the names they were issued for.
pub struct DemoCa {
    /// The CA certificate (PEM), what a client adds to its roots.
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl DemoCa {
    /// Generates a new CA (ECDSA P-256). Every call makes a different one, so
    /// nothing outside the process that made it can be tricked by its certificates.
    pub fn new() -> Result<DemoCa, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "airlock demo CA");
        params.distinguished_name = dn;
        // Only leaf certificates below it: path length 0.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(DemoCa {
            ca_pem: issuer.pem(),
            issuer,
        })
    }

    /// Issues a server certificate for `dns_name` (a DNS name or an IP address)
    /// with a fresh key: `(certificate chain PEM, private key PEM)`. The chain
    /// holds the leaf only; clients have the CA as a root.
    pub fn issue(&self, dns_name: &str) -> Result<(String, String), rcgen::Error> {
        self.issue_for(dns_name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// Issues a client certificate (for mutual TLS) named `name`:
    /// `(certificate chain PEM, private key PEM)`.
    pub fn issue_client(&self, name: &str) -> Result<(String, String), rcgen::Error> {
        self.issue_for(name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue_for(
        &self,
        dns_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(String, String), rcgen::Error> {
        let mut params = CertificateParams::new(vec![dns_name.to_owned()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, dns_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

impl std::fmt::Debug for DemoCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CA key stays out of logs.
        f.debug_struct("DemoCa").finish_non_exhaustive()
    }
}
