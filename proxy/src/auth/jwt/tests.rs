//! The verification table: one valid token, then every way a token can be wrong.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const SECRET: &str = "provider-client-secret";
const ISS: &str = "https://auth.example.com/application/o/ide/";
const AUD: &str = "client-id-123";
const UID: &str = "5f0b6c1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn verifier() -> JwtVerifier {
    JwtVerifier::new(&JwtConfig {
        secret: Secret::new(SECRET),
        issuer: ISS.into(),
        audience: AUD.into(),
    })
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": UID, "exp": now() + 600, "iat": now(),
        "preferred_username": "alice", "email": "alice@example.com",
        "groups": ["dev", "ops"], "name": "Alice",
    })
}

fn with(key: &str, value: Value) -> Value {
    let mut c = claims();
    c[key] = value;
    c
}

fn without(key: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().expect("object").remove(key);
    c
}

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// A token assembled by hand: any header, any signature bytes.
fn forge(header: Value, claims: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(&header),
        part(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[test]
fn a_valid_token_yields_its_claims() {
    let token = sign(Algorithm::HS256, SECRET, &claims());
    let c = verifier().verify(&token, UID).expect("valid");
    assert_eq!(c.sub, UID);
    assert_eq!(c.preferred_username.as_deref(), Some("alice"));
    assert_eq!(c.groups, Some(vec!["dev".into(), "ops".into()]));
    assert_eq!(c.entitlements, None);
}

#[test]
fn issuer_matches_with_or_without_its_trailing_slash_and_leeway_applies() {
    let bare = with("iss", json!(ISS.trim_end_matches('/')));
    assert!(verifier()
        .verify(&sign(Algorithm::HS256, SECRET, &bare), UID)
        .is_ok());
    let just_expired = with("exp", json!(now() - 10));
    assert!(verifier()
        .verify(&sign(Algorithm::HS256, SECRET, &just_expired), UID)
        .is_ok());
}

#[test]
fn every_bad_token_is_refused_for_the_right_reason() {
    let hs = |c: &Value| sign(Algorithm::HS256, SECRET, c);
    let cases: Vec<(&str, String, &str, JwtError)> = vec![
        (
            "alg none",
            forge(json!({"alg": "none", "typ": "JWT"}), &claims(), b""),
            UID,
            JwtError::Malformed,
        ),
        (
            "RS256",
            forge(json!({"alg": "RS256", "typ": "JWT"}), &claims(), &[7; 256]),
            UID,
            JwtError::Algorithm,
        ),
        (
            "HS384 with the right secret",
            sign(Algorithm::HS384, SECRET, &claims()),
            UID,
            JwtError::Algorithm,
        ),
        (
            "wrong secret",
            sign(Algorithm::HS256, "not-the-secret", &claims()),
            UID,
            JwtError::Signature,
        ),
        (
            "expired",
            hs(&with("exp", json!(now() - 120))),
            UID,
            JwtError::Expired,
        ),
        (
            "not yet valid",
            hs(&with("nbf", json!(now() + 600))),
            UID,
            JwtError::NotYetValid,
        ),
        (
            "wrong aud",
            hs(&with("aud", json!("other-client"))),
            UID,
            JwtError::Audience,
        ),
        (
            "wrong iss",
            hs(&with(
                "iss",
                json!("https://evil.example/application/o/ide/"),
            )),
            UID,
            JwtError::Issuer,
        ),
        (
            "sub is not the uid",
            hs(&claims()),
            "mallory",
            JwtError::Subject,
        ),
        (
            "no exp",
            hs(&without("exp")),
            UID,
            JwtError::MissingClaim("exp".into()),
        ),
        (
            "no sub",
            hs(&without("sub")),
            UID,
            JwtError::MissingClaim("sub".into()),
        ),
        (
            "no aud",
            hs(&without("aud")),
            UID,
            JwtError::MissingClaim("aud".into()),
        ),
        (
            "no iss",
            hs(&without("iss")),
            UID,
            JwtError::MissingClaim("iss".into()),
        ),
        ("garbage", "not.a.jwt".into(), UID, JwtError::Malformed),
        ("empty", String::new(), UID, JwtError::Malformed),
    ];
    for (case, token, uid, want) in cases {
        assert_eq!(verifier().verify(&token, uid), Err(want), "{case}");
    }
}

#[test]
fn the_verifier_debug_shows_no_key() {
    let shown = format!("{:?}", verifier());
    assert!(
        !shown.contains(SECRET) && shown.contains("issuer"),
        "{shown}"
    );
}
