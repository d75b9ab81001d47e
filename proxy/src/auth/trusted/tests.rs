//! Trusted-headers mode: CIDR checks and the header + token combination.

use http::HeaderValue;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::auth::secret::Secret;

const SECRET: &str = "s3cret";
const UID: &str = "uid-alice";

fn mode(proxies: &[&str]) -> TrustedHeaders {
    TrustedHeaders::new(&TrustedConfig {
        jwt: JwtConfig {
            secret: Secret::new(SECRET),
            issuer: "https://auth.example/application/o/ide/".into(),
            audience: "ide".into(),
        },
        trusted_proxies: proxies.iter().map(|p| p.parse().expect("cidr")).collect(),
    })
}

fn token(sub: &str, groups: serde_json::Value) -> String {
    let claims = json!({
        "iss": "https://auth.example/application/o/ide/", "aud": "ide", "sub": sub,
        "exp": jsonwebtoken::get_current_timestamp() + 300,
        "preferred_username": "alice", "groups": groups,
    });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(*n, HeaderValue::from_str(v).expect("value"));
    }
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn cidrs_decide_which_peers_are_trusted() {
    let nets: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8"]
        .iter()
        .map(|n| n.parse().expect("cidr"))
        .collect();
    assert!(is_trusted(&nets, ip("10.1.2.3")));
    assert!(is_trusted(&nets, ip("::ffff:10.1.2.3")), "v4-mapped v6");
    assert!(is_trusted(&nets, ip("fd12::1")));
    assert!(!is_trusted(&nets, ip("127.0.0.1")));
    assert!(!is_trusted(&nets, ip("11.0.0.1")));
    assert!(is_trusted(&[], ip("203.0.113.9")), "no list: every peer");
}

#[test]
fn the_identity_is_the_verified_claims_and_headers_never_add_to_them() {
    let t = token(UID, json!(["dev"]));
    let h = request(&[
        (headers::UID, UID),
        (headers::USERNAME, "mallory"),
        (headers::GROUPS, "admins"),
        (headers::EMAIL, "mallory@example.com"),
        (headers::NAME, "Mallory"),
        (headers::JWT, &t),
    ]);
    let id = mode(&[]).check(&h, ip("127.0.0.1")).expect("identity");
    assert_eq!(id.user.as_str(), UID);
    assert_eq!(id.username, "alice", "the signed claim, not the header");
    assert_eq!(id.groups, ["dev"], "the signed claim, not the header");
    assert_eq!(
        id.email, None,
        "the token has no email: none, whatever the header says"
    );
    assert_eq!(id.name, None);
}

#[test]
fn a_token_without_groups_or_username_is_not_filled_in_from_headers() {
    let claims = json!({
        "iss": "https://auth.example/application/o/ide/", "aud": "ide", "sub": UID,
        "exp": jsonwebtoken::get_current_timestamp() + 300,
    });
    let bare = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let h = request(&[
        (headers::UID, UID),
        (headers::USERNAME, "root"),
        (headers::GROUPS, "dcs-admins|authentik Admins"),
        (headers::ENTITLEMENTS, "admin"),
        (headers::JWT, &bare),
    ]);
    let id = mode(&[]).check(&h, ip("127.0.0.1")).expect("identity");
    assert!(
        id.groups.is_empty(),
        "no admin group from an unsigned header: {id:?}"
    );
    assert!(id.entitlements.is_empty());
    assert_eq!(
        id.username, UID,
        "shown by its subject, not the header's name"
    );
    assert_eq!(
        id.admission,
        Admission::Until(claims["exp"].as_u64().expect("exp")),
        "a tunnel it opens lasts until the token expires"
    );
}

#[test]
fn everything_else_is_refused() {
    let good = token(UID, json!([]));
    let m = mode(&[]);
    let peer = ip("127.0.0.1");
    assert_eq!(
        m.check(&request(&[(headers::UID, UID)]), peer),
        Err(Refusal::MissingJwt)
    );
    assert_eq!(
        m.check(&request(&[(headers::JWT, &good)]), peer),
        Err(Refusal::Header(HeaderError::Missing(headers::UID)))
    );
    assert_eq!(
        m.check(
            &request(&[(headers::UID, "uid-bob"), (headers::JWT, &good)]),
            peer
        ),
        Err(Refusal::Jwt(JwtError::Subject))
    );
    let dirty = token(UID, json!(["a\u{0}b"]));
    assert_eq!(
        m.check(
            &request(&[(headers::UID, UID), (headers::JWT, &dirty)]),
            peer
        ),
        Err(Refusal::Jwt(JwtError::Malformed))
    );
    let fenced = mode(&["10.0.0.0/8"]);
    let h = request(&[(headers::UID, UID), (headers::JWT, &good)]);
    assert_eq!(fenced.check(&h, peer), Err(Refusal::UntrustedPeer));
    assert!(fenced.check(&h, ip("10.9.8.7")).is_ok());
}
