//! What a workspace's answers lose or have changed on their way back: locations
//! (root-relative, or absolute on the request's host) under the prefix,
//! `Clear-Site-Data`, credential and foreign-domain cookies.

use super::*;

#[test]
fn root_relative_locations_go_back_under_the_prefix() {
    let p = "/github/acme/hello";
    for (given, want) in [
        ("/sub/", "/github/acme/hello/sub/"),
        ("/github/acme/hello/x", "/github/acme/hello/x"),
        ("sub/", "sub/"),
        ("//evil.example/", "//evil.example/"),
        ("https://x.example/", "https://x.example/"),
    ] {
        let mut h = HeaderMap::new();
        h.insert("location", HeaderValue::from_str(given).expect("v"));
        rewrite_response(&mut h, p, Some("dcs.example"), false);
        assert_eq!(h["location"], want, "{given}");
    }
}

#[test]
fn absolute_locations_on_the_requests_own_host_go_back_under_the_prefix() {
    let p = "/github/acme/hello/ports/3000";
    let host = Some("dcs.example:8443");
    for (given, want) in [
        (
            "http://dcs.example:8443/login",
            "/github/acme/hello/ports/3000/login",
        ),
        (
            "https://DCS.example:8443/a?b=1#c",
            "/github/acme/hello/ports/3000/a?b=1#c",
        ),
        ("HTTP://dcs.example:8443", "/github/acme/hello/ports/3000/"),
        (
            "http://dcs.example:8443?x=1",
            "/github/acme/hello/ports/3000/?x=1",
        ),
        // Already inside: as the app wrote it.
        (
            "https://dcs.example:8443/github/acme/hello/ports/3000/x",
            "https://dcs.example:8443/github/acme/hello/ports/3000/x",
        ),
        // Other hosts, ports, userinfo and schemes are someone else's.
        ("http://dcs.example/login", "http://dcs.example/login"),
        ("http://localhost:3000/login", "http://localhost:3000/login"),
        (
            "http://evil.example/dcs.example:8443/",
            "http://evil.example/dcs.example:8443/",
        ),
        ("http://u@dcs.example:8443/", "http://u@dcs.example:8443/"),
        ("ftp://dcs.example:8443/x", "ftp://dcs.example:8443/x"),
        (
            "http://dcs.example:8443//evil.example/",
            "http://dcs.example:8443//evil.example/",
        ),
        ("http:", "http:"),
    ] {
        let mut h = HeaderMap::new();
        h.insert("location", HeaderValue::from_str(given).expect("v"));
        rewrite_response(&mut h, p, host, false);
        assert_eq!(h["location"], want, "{given}");
    }
    // A scheme's default port, written or not, is the same host; without a known
    // `Host` only root-relative locations move.
    assert_eq!(
        under_prefix("https://dcs.example:443/x", "/p", Some("dcs.example")).as_deref(),
        Some("/p/x")
    );
    assert_eq!(
        under_prefix("http://dcs.example/x", "/p", Some("dcs.example:80")).as_deref(),
        Some("/p/x")
    );
    assert_eq!(under_prefix("http://dcs.example/x", "/p", None), None);
    assert_eq!(under_prefix("/x", "/p", None).as_deref(), Some("/p/x"));
    // A preview at its own host's root (no prefix) keeps every location.
    assert_eq!(
        under_prefix("http://p.example/x", "", Some("p.example")),
        None
    );
}

#[test]
fn a_workspace_cannot_clear_the_sites_data() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    h.append("clear-site-data", HeaderValue::from_static("\"cookies\""));
    h.append("Clear-Site-Data", HeaderValue::from_static("\"*\""));
    rewrite_response(&mut h, "/github/acme/hello", None, false);
    assert!(!h.contains_key("clear-site-data"), "{h:?}");
    assert_eq!(h["content-type"], "text/html");
}

#[test]
fn a_workspace_cannot_set_a_credential_cookie_or_one_for_other_hosts() {
    let mut h = HeaderMap::new();
    for v in [
        "authentik_proxy_ab=forged; Path=/",
        "authentik_session=forged",
        "dcs_instance_token=forged; Path=/instances/inst-1/",
        "sid=1; Path=/; Domain=example.com; HttpOnly",
        "theme=dark",
    ] {
        h.append("set-cookie", HeaderValue::from_static(v));
    }
    let mut host_only = h.clone();
    CREDENTIALS.confine_response(&mut host_only, None);
    let got: Vec<&str> = host_only
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(got, ["sid=1; Path=/; HttpOnly", "theme=dark"]);
    CREDENTIALS.confine_response(&mut h, Some("/github/acme/hello/ports/9998"));
    let got: Vec<&str> = h
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        got,
        [
            "sid=1; Path=/github/acme/hello/ports/9998/; HttpOnly",
            "theme=dark"
        ]
    );
}
