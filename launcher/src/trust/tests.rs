//! The bundle's sources, its PEM file, and rustls (`ureq`) trusting exactly it,
//! against a loopback HTTPS server signed by a private CA.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;

use super::test_ca::{serve_https, TestCa};
use super::*;

fn mozilla() -> usize {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
}

/// PEM of one of Mozilla's roots (as an image's store would hold it).
fn a_mozilla_root_pem() -> String {
    let mut out = String::new();
    pem_encode(
        webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref(),
        &mut out,
    );
    out
}

#[test]
fn the_bundle_holds_mozilla_the_image_store_and_the_extra_ca_each_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image_ca = TestCa::new("image CA");
    let extra_ca = TestCa::new("operator CA");
    // The image's store: its own CA, one of Mozilla's (a duplicate), and junk text.
    let store = tmp.path().join("ca-certificates.crt");
    std::fs::write(
        &store,
        format!("# a comment\n{}{}", image_ca.ca_pem, a_mozilla_root_pem()),
    )
    .expect("write");
    let extra = extra_ca.write_ca(tmp.path());
    let missing = tmp.path().join("absent.pem");

    let bundle = Bundle::from_sources(Some(&extra), &[missing, store.clone()]).expect("bundle");
    assert_eq!(
        bundle.counts(),
        &Counts {
            mozilla: mozilla(),
            image: 1,
            image_store: Some(store),
            extra: 1,
        }
    );
    assert_eq!(bundle.len(), mozilla() + 2);
    let pem = bundle.pem();
    let back = pem_certificates(pem.as_bytes()).expect("the PEM parses back");
    assert_eq!(back, bundle.certificates());
    assert!(pem.contains(extra_ca.ca_pem.lines().nth(1).expect("a base64 line")));

    // Without an image store and without an extra file: Mozilla's roots alone.
    let bare = Bundle::from_sources(None, &[]).expect("bundle");
    assert_eq!(bare.len(), mozilla());
    assert_eq!(bare.counts().image_store, None);
}

#[test]
fn an_unusable_extra_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let cases = [
        (tmp.path().join("absent.pem"), "cannot be read"),
        (write("empty.pem", ""), "holds no certificate"),
        (write("key.pem", &key), "holds no certificate"),
        (
            write(
                "bad.pem",
                "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
            ),
            "certificate 1 is not usable",
        ),
    ];
    for (file, why) in cases {
        let err = Bundle::from_sources(Some(&file), &[]).expect_err("unusable");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("DCS_EXTRA_CA_FILE={}: ", file.display()))
                && text.contains(why),
            "{text}"
        );
    }
}

#[test]
fn a_private_key_beside_the_extra_ca_never_reaches_the_bundle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("operator CA");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let file = tmp.path().join("both.pem");
    std::fs::write(&file, format!("{key}{}", ca.ca_pem)).expect("write");
    let bundle = Bundle::from_sources(Some(&file), &[]).expect("bundle");
    assert_eq!(bundle.counts().extra, 1);
    assert!(!bundle.pem().contains("PRIVATE KEY"));
}

#[test]
fn the_file_is_written_whole_once_and_named_for_openssl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bundle = Bundle::from_sources(None, &[]).expect("bundle");
    let file = bundle.write(tmp.path()).expect("write");
    assert_eq!(file, tmp.path().join("trust/ca-bundle.pem"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), bundle.pem());
    let modified = std::fs::metadata(&file).and_then(|m| m.modified());
    assert_eq!(bundle.write(tmp.path()).expect("again"), file);
    assert_eq!(
        std::fs::metadata(&file).and_then(|m| m.modified()).ok(),
        modified.ok(),
        "an unchanged bundle is not rewritten"
    );
    let names: Vec<_> = std::fs::read_dir(tmp.path().join("trust"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["ca-bundle.pem"], "no temporary file is left");
    let written = Written {
        bundle: bundle.clone(),
        file: file.clone(),
        folder: None,
    };
    assert_eq!(
        openssl_env(&written),
        vec![
            ("SSL_CERT_FILE".into(), file.clone().into_os_string()),
            ("SSL_CERT_DIR".into(), file.clone().into_os_string()),
        ]
    );
}

/// `GET` over TLS verified by `bundle`'s roots: the status, or the error's text.
fn get(bundle: &Bundle, url: &str) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(bundle.tls_config())
        .build()
        .into();
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn rustls_trusts_a_private_ca_only_when_it_is_the_extra_file() {
    let ca = TestCa::new("operator CA");
    let service = service_fn(|_req| async {
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let base = serve_https(&ca, service).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let extra = ca.write_ca(tmp.path());
    let url = format!("{base}/x");
    let (without, with) = tokio::task::spawn_blocking(move || {
        let without = Bundle::build(None).expect("bundle");
        let with = Bundle::build(Some(&extra)).expect("bundle");
        (get(&without, &url), get(&with, &url))
    })
    .await
    .expect("join");
    let err = without.expect_err("the private CA is not trusted by default");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(with, Ok(200));
}

#[test]
fn a_written_bundle_is_made_once_per_volume_and_a_failure_is_tried_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let first = written(&a, None).expect("written");
    assert!(first.file.starts_with(&a) && first.file.is_file());
    let again = written(&a, None).expect("written");
    assert!(Arc::ptr_eq(&first, &again), "made once");
    let other = written(&b, None).expect("written");
    assert!(other.file.starts_with(&b), "another volume gets its own");

    let extra = tmp.path().join("ca.pem");
    let err = written(&a, Some(&extra)).expect_err("no such file");
    assert!(err.to_string().contains("ca.pem"), "{err}");
    TestCa::new("operator CA").write_ca(tmp.path());
    let fixed = written(&a, Some(&extra)).expect("tried again, and now it works");
    assert_eq!(fixed.bundle.counts().extra, 1);
}

#[test]
fn the_bundle_written_early_is_the_one_every_use_gets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config");
    write_early(config.clone(), None);
    let file = config.join(DIR).join(FILE);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !file.is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the early thread never wrote the bundle"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let used = written(&config, None).expect("written");
    assert_eq!(used.file, file);
    assert!(used.bundle.counts().mozilla > 0);
}
