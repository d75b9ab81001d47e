//! The roots the repository check verifies a git server against when the operator
//! named CAs of their own (`--extra-ca-file`): Mozilla's, the system's and the
//! file's, as the launchers trust them for the clone itself, so the check never
//! refuses a server the clone would reach. Without the file the check uses the
//! platform's verifier (see [`super::client_for`]).

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Every root as DER: Mozilla's, the system's (those rustls can parse), then each
/// certificate of the PEM file `extra_ca`; an error names the file when it cannot
/// be read or holds no certificate. Blocking: reads files (at start-up).
pub fn with_extra(extra_ca: &Path) -> Result<Vec<Vec<u8>>, String> {
    let shown = extra_ca.display();
    let extra = CertificateDer::pem_file_iter(extra_ca)
        .map_err(|e| format!("cannot read --extra-ca-file {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--extra-ca-file {shown}: {e}"))?;
    if extra.is_empty() {
        return Err(format!("--extra-ca-file {shown} holds no certificate"));
    }
    let system = rustls_native_certs::load_native_certs().certs;
    let usable = |cert: &CertificateDer<'_>| {
        rustls::RootCertStore::empty()
            .add(cert.clone().into_owned())
            .is_ok()
    };
    Ok(webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .chain(system.iter())
        .filter(|cert| usable(cert))
        .chain(extra.iter())
        .map(|cert| cert.to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let why = with_extra(&empty).expect_err("no certificate");
        assert!(
            why.contains("empty.pem") && why.contains("no certificate"),
            "{why}"
        );
        let why = with_extra(&dir.path().join("missing.pem")).expect_err("missing");
        assert!(why.contains("cannot read --extra-ca-file"), "{why}");
    }
}
