//! What a workspace's answers lose or have changed on their way back: locations
//! under the prefix, `Clear-Site-Data`, credential and foreign-domain cookies.

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
        rewrite_response(&mut h, p, false);
        assert_eq!(h["location"], want, "{given}");
    }
}

#[test]
fn a_workspace_cannot_clear_the_sites_data() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    h.append("clear-site-data", HeaderValue::from_static("\"cookies\""));
    h.append("Clear-Site-Data", HeaderValue::from_static("\"*\""));
    rewrite_response(&mut h, "/github/acme/hello", false);
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
