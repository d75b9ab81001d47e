//! The sign-in parsers on hostile input: `X-authentik-*` identity headers,
//! Authentik session cookies and `X-authentik-jwt` verification. Never panics, and
//! never accepts a token it did not sign: a verifier keyed with a secret the fuzzer
//! cannot know must refuse every input.
#![no_main]

use dcs_proxy::auth::headers::{identity, session_cookies};
use dcs_proxy::auth::jwt::{JwtConfig, JwtVerifier};
use dcs_proxy::auth::secret::Secret;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "x-authentik-uid",
    "x-authentik-username",
    "x-authentik-email",
    "x-authentik-name",
    "x-authentik-groups",
    "x-authentik-entitlements",
    "x-authentik-jwt",
    "cookie",
];

fuzz_target!(|input: (Vec<(u8, Vec<u8>)>, String, String)| {
    let (headers, token, uid) = input;
    let mut map = HeaderMap::new();
    for (which, value) in headers {
        let name = HeaderName::from_static(NAMES[usize::from(which) % NAMES.len()]);
        // Only values hyper could deliver: HeaderValue refuses CR, LF and NUL.
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            map.append(name, value);
        }
    }
    let _ = identity(&map);
    let _ = session_cookies(&map);

    let verifier = JwtVerifier::new(&JwtConfig {
        secret: Secret::new(b"a secret the fuzzer never sees 7f3a".to_vec()),
        issuer: "https://auth.example.com/application/o/ide/".into(),
        audience: "client-id".into(),
    });
    assert!(verifier.verify(&token, &uid).is_err(), "an unsigned token verified");
});
