//! `X-authentik-jwt` verification past the signature: a share of the inputs is
//! signed with the verifier's own key, so the claim checks (algorithm, issuer,
//! audience, expiry, not-before, subject) and the claims' extraction are fuzzed,
//! not only the signature check.
//!
//! Structured inputs build a token whose verdict is known in advance (times are
//! an hour from any edge, so the clock cannot decide): it must verify exactly when
//! every check should pass, and then yield exactly the claims it carried. Raw
//! inputs sign arbitrary payload bytes under an arbitrary header: they must never
//! panic, and anything that verifies must name the right issuer, audience and
//! subject.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dcs_proxy::auth::jwt::{JwtConfig, JwtVerifier};
use dcs_proxy::auth::secret::Secret;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const KEY: &[u8] = b"the fuzz target's provider secret";
const ISSUER: &str = "https://auth.example.com/application/o/ide/";
const AUDIENCE: &str = "client-id";

#[derive(Debug, Arbitrary)]
enum Input {
    Structured(Claims),
    Raw {
        header: Vec<u8>,
        payload: Vec<u8>,
        uid: String,
        sign: bool,
    },
}

#[derive(Debug, Arbitrary)]
struct Claims {
    /// 0: HS256; 1: HS384; 2: `none`.
    alg: u8,
    /// 0: the issuer; 1: without its trailing slash; 2: another; 3: absent.
    iss: u8,
    /// 0: the client id; 1: a list holding it; 2: another; 3: absent.
    aud: u8,
    /// 0: an hour ahead; 1: an hour ago; 2: absent.
    exp: u8,
    /// 0: absent; 1: an hour ago; 2: an hour ahead.
    nbf: u8,
    sub: Option<String>,
    /// Whether the `X-authentik-uid` sent along is `sub`.
    uid_is_sub: bool,
    other_uid: String,
    preferred_username: Option<String>,
    email: Option<String>,
    groups: Option<Vec<String>>,
    /// Extra claims of any JSON-ish shape.
    extra: Vec<(String, String)>,
}

fn verifier() -> JwtVerifier {
    JwtVerifier::new(&JwtConfig {
        secret: Secret::new(KEY.to_vec()),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    })
}

/// `header.payload.signature` with the test key (HS256 or HS384), or unsigned.
fn token(header: &[u8], payload: &[u8], alg: Option<Algorithm>) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = match alg {
        Some(alg) => jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(KEY), alg)
            .expect("HMAC signing cannot fail"),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn structured(c: Claims) {
    let mut map = Map::new();
    for (k, v) in &c.extra {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    let (alg, alg_name) = match c.alg % 3 {
        0 => (Some(Algorithm::HS256), "HS256"),
        1 => (Some(Algorithm::HS384), "HS384"),
        _ => (None, "none"),
    };
    let mut set = |k: &str, v: Option<Value>| match v {
        Some(v) => {
            map.insert(k.to_owned(), v);
        }
        None => {
            map.remove(k);
        }
    };
    let iss_ok = c.iss % 4 < 2;
    set("iss", match c.iss % 4 {
        0 => Some(json!(ISSUER)),
        1 => Some(json!(ISSUER.trim_end_matches('/'))),
        2 => Some(json!("https://evil.example.com/")),
        _ => None,
    });
    let aud_ok = c.aud % 4 < 2;
    set("aud", match c.aud % 4 {
        0 => Some(json!(AUDIENCE)),
        1 => Some(json!(["other", AUDIENCE])),
        2 => Some(json!("another-client")),
        _ => None,
    });
    let exp_ok = c.exp % 3 == 0;
    set("exp", match c.exp % 3 {
        0 => Some(json!(now() + 3600)),
        1 => Some(json!(now() - 3600)),
        _ => None,
    });
    let nbf_ok = c.nbf % 3 != 2;
    set("nbf", match c.nbf % 3 {
        0 => None,
        1 => Some(json!(now() - 3600)),
        _ => Some(json!(now() + 3600)),
    });
    set("sub", c.sub.clone().map(Value::String));
    set("preferred_username", c.preferred_username.clone().map(Value::String));
    set("email", c.email.clone().map(Value::String));
    set("groups", c.groups.clone().map(|g| json!(g)));
    let uid = match (&c.sub, c.uid_is_sub) {
        (Some(sub), true) => sub.clone(),
        _ => c.other_uid.clone(),
    };
    let sub_ok = c.sub.as_deref() == Some(uid.as_str());
    let header = json!({"alg": alg_name, "typ": "JWT"}).to_string();
    let payload = Value::Object(map).to_string();
    let got = verifier().verify(&token(header.as_bytes(), payload.as_bytes(), alg), &uid);
    let should = alg == Some(Algorithm::HS256) && iss_ok && aud_ok && exp_ok && nbf_ok && sub_ok;
    match got {
        Ok(claims) => {
            assert!(should, "verified a token that must fail: {c:?}");
            assert_eq!(Some(claims.sub), c.sub);
            assert_eq!(claims.preferred_username, c.preferred_username);
            assert_eq!(claims.email, c.email);
            assert_eq!(claims.groups, c.groups);
        }
        Err(e) => assert!(!should, "refused a good token ({e}): {c:?}"),
    }
}

fn raw(header: &[u8], payload: &[u8], uid: &str, sign: bool) {
    let alg = sign.then_some(Algorithm::HS256);
    if let Ok(claims) = verifier().verify(&token(header, payload, alg), uid) {
        // Whatever else it holds, it came signed, for us, about this user.
        assert!(sign, "an unsigned token verified");
        assert_eq!(claims.sub, uid);
        let parsed: Value = serde_json::from_slice(payload).expect("a verified payload is JSON");
        let iss = parsed["iss"].as_str().unwrap_or_default().trim_end_matches('/');
        assert_eq!(iss, ISSUER.trim_end_matches('/'));
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Structured(c) => structured(c),
        Input::Raw { header, payload, uid, sign } => raw(&header, &payload, &uid, sign),
    }
});
