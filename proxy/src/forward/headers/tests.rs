//! Header rewriting: hop-by-hop, identity, `X-Forwarded-*`, and the credentials that
//! stop at the edge (both ways).

use dcs_model::UserId;

use super::*;

mod response;

fn identity() -> Identity {
    Identity {
        email: Some("alice@example.com".into()),
        groups: vec!["dev".into(), "ops".into()],
        ..Identity::from_user(UserId::new("alice").expect("u"))
    }
}

static CREDENTIALS: std::sync::LazyLock<Credentials> = std::sync::LazyLock::new(|| {
    let mut c = Credentials::default();
    c.add_cookie(NamePattern::parse("corp_sso").expect("name"));
    c.add_cookie(NamePattern::parse("_oauth2_*").expect("prefix"));
    c
});

fn ctx<'a>(id: &'a Identity, upgrade: Option<&'a HeaderValue>) -> RequestContext<'a> {
    RequestContext {
        peer: "10.0.0.9:5555".parse().expect("addr"),
        prefix: "/github/acme/hello",
        identity: id,
        host: None,
        authority: "127.0.0.1:9",
        upgrade,
        credentials: &CREDENTIALS,
        preview_root: false,
    }
}

#[test]
fn request_loses_hop_by_hop_and_spoofed_identity() {
    let mut h = HeaderMap::new();
    h.insert(
        "connection",
        HeaderValue::from_static("keep-alive, x-secret-hop"),
    );
    h.insert("x-secret-hop", HeaderValue::from_static("1"));
    h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    h.insert("te", HeaderValue::from_static("trailers"));
    h.insert("x-authentik-uid", HeaderValue::from_static("mallory"));
    h.insert("x-authentik-groups", HeaderValue::from_static("admins"));
    h.insert("x-forwarded-user", HeaderValue::from_static("mallory"));
    h.insert("host", HeaderValue::from_static("ide.example:8443"));
    h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
    let id = identity();
    rewrite_request(&mut h, &ctx(&id, None));
    for gone in [
        "connection",
        "x-secret-hop",
        "keep-alive",
        "te",
        "x-authentik-uid",
        "x-authentik-groups",
    ] {
        assert!(!h.contains_key(gone), "{gone}");
    }
    assert_eq!(
        h["host"], "ide.example:8443",
        "browser Host kept for the IDE's Origin check"
    );
    assert_eq!(h["x-forwarded-user"], "alice");
    assert_eq!(h["x-forwarded-email"], "alice@example.com");
    assert_eq!(h["x-forwarded-groups"], "dev|ops");
    assert_eq!(h["x-forwarded-prefix"], "/github/acme/hello");
    assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.9");
    assert_eq!(h["x-forwarded-host"], "ide.example:8443");
    assert_eq!(h["x-forwarded-proto"], "http");
}

#[test]
fn identity_headers_the_proxy_does_not_set_are_removed_every_value_of_them() {
    // No email and no groups: the proxy sets neither, so a client's must not pass.
    let id = Identity::from_user(UserId::new("bob").expect("u"));
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("x-forwarded-email", "boss@example.com"),
        ("x-forwarded-email", "ceo@example.com"),
        ("x-forwarded-groups", "admins"),
        ("x-forwarded-prefix", "/github/other/repo"),
        ("x-authentik-username", "mallory"),
        ("x-authentik-username", "eve"),
        ("x-authentik-jwt", "token"),
        ("x-dcs-preview-root", "1"),
        ("x-authentikate", "kept: not the outpost's prefix"),
        ("accept", "text/html"),
    ] {
        h.append(name, HeaderValue::from_static(value));
    }
    rewrite_request(&mut h, &ctx(&id, None));
    for gone in [
        "x-forwarded-email",
        "x-forwarded-groups",
        "x-authentik-username",
        "x-authentik-jwt",
        "x-dcs-preview-root",
    ] {
        assert!(!h.contains_key(gone), "{gone}: {:?}", h.get_all(gone));
    }
    assert_eq!(h["x-forwarded-user"], "bob");
    assert_eq!(h["x-forwarded-prefix"], "/github/acme/hello");
    assert_eq!(h.get_all("x-forwarded-prefix").iter().count(), 1);
    assert_eq!(h["x-authentikate"], "kept: not the outpost's prefix");
    assert_eq!(h["accept"], "text/html");
}

#[test]
fn auth_credentials_never_reach_the_workspace_but_other_cookies_do() {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_static("Bearer app-password"),
    );
    h.append(
        "cookie",
        HeaderValue::from_static(
            "authentik_proxy_ab12=sess; ide-theme=dark; dcs_instance_token=secret",
        ),
    );
    h.append("cookie", HeaderValue::from_static("authentik_proxy_x=y"));
    let id = identity();
    rewrite_request(&mut h, &ctx(&id, None));
    assert!(!h.contains_key("authorization"));
    assert_eq!(h.get_all("cookie").iter().count(), 1);
    assert_eq!(h["cookie"], "ide-theme=dark");

    let mut h = HeaderMap::new();
    h.insert(
        "cookie",
        HeaderValue::from_static("authentik_proxy_ab12=sess"),
    );
    rewrite_request(&mut h, &ctx(&id, None));
    assert!(!h.contains_key("cookie"), "nothing left, no header");
}

#[test]
fn upgrade_requests_keep_the_upgrade_pair() {
    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    let ws = HeaderValue::from_static("websocket");
    let id = identity();
    rewrite_request(&mut h, &ctx(&id, Some(&ws)));
    assert_eq!(h["connection"], "upgrade");
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["host"], "127.0.0.1:9", "a Host is always sent");
}

#[test]
fn every_credential_cookie_stops_here_built_in_or_configured() {
    let mut h = HeaderMap::new();
    h.append(
        "cookie",
        HeaderValue::from_static(
            "authentik_session=core; theme=dark; corp_sso=x; _oauth2_proxy=y; dcs_preview=p",
        ),
    );
    h.append(
        "cookie",
        HeaderValue::from_static("Authentik_Proxy_ab=z; app=1"),
    );
    let id = identity();
    rewrite_request(&mut h, &ctx(&id, None));
    assert_eq!(h["cookie"], "theme=dark; app=1");
    let names: Vec<String> = CREDENTIALS
        .cookie_patterns()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "authentik_proxy*",
            "authentik_session",
            "dcs_instance_token",
            "dcs_preview",
            "corp_sso",
            "_oauth2_*"
        ]
    );
}

#[test]
fn only_the_proxy_says_a_preview_is_at_the_root_of_its_host() {
    let id = identity();
    let mut h = HeaderMap::new();
    h.insert("x-dcs-preview-root", HeaderValue::from_static("1"));
    rewrite_request(&mut h, &ctx(&id, None));
    assert!(
        !h.contains_key("x-dcs-preview-root"),
        "a client's copy is dropped"
    );
    let mut h = HeaderMap::new();
    let root = RequestContext {
        preview_root: true,
        prefix: "",
        ..ctx(&id, None)
    };
    rewrite_request(&mut h, &root);
    assert_eq!(h["x-dcs-preview-root"], "1");
}

/// `X-Forwarded-*` a client (an ingress in front) sent are kept or extended; absent,
/// the proxy's own are set, each for the peer of that request, whoever came before
/// it on the same thread.
#[test]
fn forwarded_headers_are_kept_extended_or_set_for_each_peer() {
    let id = identity();
    let rewrite = |peer: &str, given: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("ide.example"));
        for (name, value) in given {
            h.append(*name, HeaderValue::from_static(value));
        }
        let ctx = RequestContext {
            peer: peer.parse().expect("addr"),
            ..ctx(&id, None)
        };
        rewrite_request(&mut h, &ctx);
        h
    };
    for (peer, ip) in [
        ("10.0.0.9:1", "10.0.0.9"),
        ("10.0.0.9:2", "10.0.0.9"),
        ("192.0.2.7:1", "192.0.2.7"),
        ("[2001:db8::1]:1", "2001:db8::1"),
        ("10.0.0.9:3", "10.0.0.9"),
    ] {
        let h = rewrite(peer, &[]);
        assert_eq!(h["x-forwarded-for"], ip, "{peer}");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "ide.example");
        let h = rewrite(
            peer,
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "ide.corp"),
            ],
        );
        assert_eq!(h["x-forwarded-for"], format!("1.2.3.4, {ip}"));
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "ide.corp");
    }
    // Named hop-by-hop by the client: gone before the proxy looks, then set afresh.
    let h = rewrite(
        "10.0.0.9:1",
        &[
            ("connection", "x-forwarded-for, x-forwarded-proto"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ],
    );
    assert_eq!(h["x-forwarded-for"], "10.0.0.9");
    assert_eq!(h["x-forwarded-proto"], "http");
}

/// A kept value is always the value made afresh: for the same text again, for
/// another text, for one that is no valid value, and back.
#[test]
fn kept_values_are_the_values_made_afresh() {
    let texts = [
        "alice",
        "alice",
        "bob",
        "alice",
        "bad\u{1}value",
        "bad\u{1}value",
        "",
        "/github/acme/hello",
        "/github/acme/hello",
        "/github/Acme/hello",
        "alice",
    ];
    for last in [&LAST_PREFIX, &LAST_USER, &LAST_EMAIL] {
        for text in texts {
            assert_eq!(
                kept_value(last, text),
                HeaderValue::from_str(text).ok(),
                "{text:?}"
            );
        }
    }
}

/// One thread serving two people and two workspaces in turn: each request carries
/// its own identity and prefix, never the one before.
#[test]
fn each_request_carries_its_own_identity_and_prefix() {
    let alice = identity();
    let bob = Identity {
        email: None,
        ..Identity::from_user(UserId::new("bob").expect("u"))
    };
    for (who, prefix) in [
        (&alice, "/github/acme/hello"),
        (&bob, "/github/acme/hello"),
        (&bob, "/github/acme/other"),
        (&alice, "/github/acme/other"),
        (&alice, "/github/acme/hello"),
    ] {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-email",
            HeaderValue::from_static("mallory@evil"),
        );
        let ctx = RequestContext {
            prefix,
            ..ctx(who, None)
        };
        rewrite_request(&mut h, &ctx);
        assert_eq!(h["x-forwarded-user"], who.username.as_str());
        assert_eq!(h["x-forwarded-prefix"], prefix);
        assert_eq!(
            h.get("x-forwarded-email")
                .map(|v| v.to_str().expect("text")),
            who.email.as_deref(),
            "a client's own X-Forwarded-Email never passes"
        );
    }
}

#[test]
fn a_set_cookie_request_header_never_reaches_the_workspace() {
    // As ingress-nginx sends one when `auth-response-headers` lists `Set-Cookie`.
    let mut h = HeaderMap::new();
    h.append(
        "set-cookie",
        HeaderValue::from_static("authentik_proxy_x=s1"),
    );
    h.append("set-cookie", HeaderValue::from_static("ide=dark; Path=/"));
    h.insert("cookie", HeaderValue::from_static("ide-theme=dark"));
    rewrite_request(&mut h, &ctx(&identity(), None));
    assert!(!h.contains_key("set-cookie"), "{h:?}");
    assert_eq!(h["cookie"], "ide-theme=dark");
}

#[tokio::test]
async fn the_workspace_gets_the_proxys_request_id_never_a_clients() {
    let who = identity();
    let planted = || {
        let mut h = HeaderMap::new();
        h.append("x-request-id", HeaderValue::from_static("evil"));
        h.append("x-request-id", HeaderValue::from_static("evil-too"));
        h
    };
    // Under the request's id (`crate::telemetry::request_id`, as the edge runs it).
    let mut h = planted();
    crate::telemetry::with_request_id("0123abcd".into(), async {
        rewrite_request(&mut h, &ctx(&who, None));
    })
    .await;
    let ids: Vec<&HeaderValue> = h.get_all("x-request-id").iter().collect();
    assert_eq!(ids, ["0123abcd"], "the proxy's id, and only it");
    // Outside any request's scope there is no id to send: the client's goes anyway.
    let mut h = planted();
    rewrite_request(&mut h, &ctx(&who, None));
    assert!(!h.contains_key("x-request-id"), "{h:?}");
}
