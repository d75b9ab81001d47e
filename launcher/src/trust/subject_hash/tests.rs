//! The hash against OpenSSL's own (`openssl x509 -subject_hash`) for every Mozilla
//! root and for names made to test the canonical form: each string type, mixed
//! case, whitespace to trim and collapse, non-ASCII text.

use std::io::Write;
use std::process::{Command, Stdio};

use rcgen::{CertificateParams, DnType, DnValue, KeyPair};

use super::*;

/// What the `openssl` command line says the subject hash of `der` is.
fn openssl_hash(der: &[u8]) -> u32 {
    let mut child = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-subject_hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command line (installed by `make deps`)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(der)
        .expect("write");
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    u32::from_str_radix(text.trim(), 16).expect("8 hex digits")
}

#[test]
fn every_mozilla_root_hashes_as_openssl_hashes_it() {
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let der = der.as_ref();
        assert_eq!(subject_hash(der), Some(openssl_hash(der)));
    }
}

#[test]
fn string_types_case_and_whitespace_are_canonical_as_in_openssl() {
    let names: [(DnType, DnValue); 6] = [
        (
            DnType::CommonName,
            DnValue::Utf8String("  Mixed   CASE\tName  ".into()),
        ),
        (
            DnType::OrganizationName,
            DnValue::PrintableString("ACME  Corp".try_into().expect("printable")),
        ),
        (
            DnType::OrganizationalUnitName,
            DnValue::BmpString("Ünïcode DEPT".try_into().expect("bmp")),
        ),
        (
            DnType::LocalityName,
            DnValue::UniversalString("Zürich  Nord".try_into().expect("universal")),
        ),
        (
            DnType::StateOrProvinceName,
            DnValue::TeletexString(" Bern  STATE ".try_into().expect("teletex")),
        ),
        (
            DnType::CountryName,
            DnValue::PrintableString("CH".try_into().expect("printable")),
        ),
    ];
    let key = KeyPair::generate().expect("key");
    let mut all = CertificateParams::new(Vec::<String>::new()).expect("params");
    for (kind, value) in names.iter().cloned() {
        all.distinguished_name.push(kind.clone(), value.clone());
        let mut one = CertificateParams::new(Vec::<String>::new()).expect("params");
        one.distinguished_name.push(kind, value);
        let der = one.self_signed(&key).expect("cert").der().to_vec();
        assert_eq!(subject_hash(&der), Some(openssl_hash(&der)));
    }
    let der = all.self_signed(&key).expect("cert").der().to_vec();
    assert_eq!(subject_hash(&der), Some(openssl_hash(&der)));
}

#[test]
fn names_differing_only_in_case_and_spacing_share_a_hash() {
    let key = KeyPair::generate().expect("key");
    let cert = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.self_signed(&key).expect("cert").der().to_vec()
    };
    assert_eq!(
        subject_hash(&cert("Example  Root CA")),
        subject_hash(&cert(" example root ca"))
    );
    assert_ne!(
        subject_hash(&cert("Example Root CA")),
        subject_hash(&cert("Example Root CA 2"))
    );
}

#[test]
fn what_is_not_a_certificate_has_no_hash() {
    assert_eq!(subject_hash(b""), None);
    assert_eq!(subject_hash(b"\x30\x03\x02\x01"), None);
    let der = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
    assert_eq!(subject_hash(&der[..der.len() / 2]), None);
}
