//! Tests of [`super::decide`]: own origins pass, foreign ones are refused for
//! writes and upgrades only, and `--auth none` answers only to its own hosts.

use super::*;

const LOCAL: &str = "127.0.0.1:8080";

fn none() -> Site {
    Site {
        guard_host: true,
        ..Site::default()
    }
}

fn ask<'a>(method: &'a str, host: Option<&'a str>, origin: Option<&'a str>) -> Ask<'a> {
    Ask {
        method,
        upgrade: false,
        scope: Scope::Guarded,
        host,
        origin,
        fetch_site: None,
        forwarded_https: false,
        local: LOCAL.parse().expect("addr"),
    }
}

fn passes(site: &Site, a: &Ask<'_>) -> bool {
    decide(site, a) == Verdict::Pass
}

#[test]
fn own_loopback_origins_pass_writes_and_upgrades() {
    for origin in [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "HTTP://LOCALHOST:8080/",
    ] {
        for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"] {
            let a = ask("POST", Some(host), Some(origin));
            assert!(passes(&none(), &a), "{origin} via {host}");
            let up = Ask {
                method: "GET",
                upgrade: true,
                ..a
            };
            assert!(passes(&none(), &up), "upgrade {origin} via {host}");
        }
    }
}

#[test]
fn foreign_origins_are_refused_for_writes_and_upgrades_only() {
    let site = none();
    for origin in [
        "http://127.0.0.2:9000",
        "http://127.0.0.1:9000",
        "https://127.0.0.1:8080",
        "http://evil.example",
        "null",
        "",
        "garbage",
    ] {
        for method in ["POST", "PUT", "DELETE", "PATCH", "get"] {
            let a = ask(method, Some(LOCAL), Some(origin));
            match decide(&site, &a) {
                Verdict::CrossSite(why) => assert!(why.contains("only pages of this server")),
                other => panic!("{method} from {origin:?}: {other:?}"),
            }
        }
        let up = Ask {
            upgrade: true,
            ..ask("GET", Some(LOCAL), Some(origin))
        };
        assert!(matches!(decide(&site, &up), Verdict::CrossSite(_)));
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(passes(&site, &ask(method, Some(LOCAL), Some(origin))));
        }
        let open = Ask {
            scope: Scope::Open,
            ..ask("POST", Some(LOCAL), Some(origin))
        };
        assert!(passes(&site, &open), "health, metrics, the outpost");
    }
}

#[test]
fn without_origin_fetch_metadata_decides_and_without_both_it_passes() {
    let site = none();
    for (fetch_site, ok) in [
        (Some("same-origin"), true),
        (Some("none"), true),
        (Some("same-site"), false),
        (Some("cross-site"), false),
        (Some("Cross-Site"), false),
        (Some(""), false),
        (None, true),
    ] {
        let a = Ask {
            fetch_site,
            ..ask("DELETE", Some(LOCAL), None)
        };
        assert_eq!(passes(&site, &a), ok, "{fetch_site:?}");
    }
}

#[test]
fn auth_none_answers_only_to_its_own_hosts() {
    let site = none();
    for host in [
        "rebind.evil.example",
        "rebind.evil.example:8080",
        "localhost:9999",
        "localhost",
        "127.0.0.2:8080",
        "localhost.:8080",
        "",
        "a b",
    ] {
        let a = ask("GET", Some(host), None);
        match decide(&site, &a) {
            Verdict::Misdirected(why) => assert!(why.contains("--auth none"), "{why}"),
            other => panic!("{host:?}: {other:?}"),
        }
        let health = Ask {
            scope: Scope::Open,
            ..a
        };
        assert!(!passes(&site, &health), "every path: {host}");
    }
    assert!(passes(&site, &ask("GET", None, None)), "no Host at all");
    let public = Site {
        public: Origin::parse("https://dev.example.com"),
        ..none()
    };
    assert!(passes(&public, &ask("GET", Some("dev.example.com"), None)));
    assert!(passes(&public, &ask("GET", Some("localhost:8080"), None)));
    assert!(!passes(
        &public,
        &ask("GET", Some("dev.example.com:8080"), None)
    ));
}

#[test]
fn other_modes_take_the_requests_own_host_as_theirs() {
    let site = Site::default();
    let a = ask(
        "POST",
        Some("ide.example.com"),
        Some("http://ide.example.com"),
    );
    assert!(passes(&site, &a));
    let https = Ask {
        origin: Some("https://ide.example.com"),
        ..a.clone()
    };
    assert!(
        !passes(&site, &https),
        "plain http unless the ingress says https"
    );
    let forwarded = Ask {
        forwarded_https: true,
        ..https
    };
    assert!(passes(&site, &forwarded));
    let foreign = Ask {
        origin: Some("https://evil.example"),
        ..forwarded
    };
    assert!(!passes(&site, &foreign));
    assert!(
        passes(&site, &ask("GET", Some("anything.example"), None)),
        "no 421"
    );
}

#[test]
fn a_public_url_is_the_one_own_origin() {
    let site = Site {
        public: Origin::parse("https://ide.example.com/"),
        ..Site::default()
    };
    let a = ask(
        "POST",
        Some("ide.example.com"),
        Some("https://ide.example.com"),
    );
    assert!(passes(&site, &a));
    let other_host = ask("POST", Some("other.example"), Some("http://other.example"));
    match decide(&site, &other_host) {
        Verdict::CrossSite(why) => assert!(why.contains("https://ide.example.com"), "{why}"),
        v => panic!("{v:?}"),
    }
}

#[test]
fn requests_are_read_from_their_headers() {
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:8080".parse().expect("v"));
    headers.insert("connection", "Upgrade".parse().expect("v"));
    headers.insert("upgrade", "websocket".parse().expect("v"));
    headers.append("origin", "http://127.0.0.1:8080".parse().expect("v"));
    headers.insert("x-forwarded-proto", "https, http".parse().expect("v"));
    let request = |headers: &HeaderMap| {
        let mut req = Request::get("/github/acme/hello/_dcs/terminal")
            .body(())
            .expect("request");
        *req.headers_mut() = headers.clone();
        req
    };
    let site = none();
    let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
    let local: SocketAddr = LOCAL.parse().expect("addr");
    let req = request(&headers);
    let a = Ask::of(
        &req,
        &Asked::of(&headers),
        Scope::Guarded,
        &site,
        peer,
        local,
    );
    assert!(a.upgrade && a.forwarded_https);
    assert_eq!(a.origin, Some("http://127.0.0.1:8080"));
    assert!(passes(&site, &a));
    headers.append("origin", "http://127.0.0.1:8080".parse().expect("v"));
    let req = request(&headers);
    let twice = Ask::of(
        &req,
        &Asked::of(&headers),
        Scope::Guarded,
        &site,
        peer,
        local,
    );
    assert_eq!(twice.origin, Some(""), "a repeated Origin is unreadable");
    assert!(!passes(&site, &twice));
    let untrusted = Site {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
        ..none()
    };
    let req = request(&headers);
    let a = Ask::of(
        &req,
        &Asked::of(&headers),
        Scope::Guarded,
        &untrusted,
        peer,
        local,
    );
    assert!(!a.forwarded_https, "only trusted peers say https");
}

#[test]
fn scopes_follow_routes() {
    assert_eq!(Scope::of(&Route::Api), Scope::Guarded);
    assert_eq!(Scope::of(&Route::Healthz), Scope::Open);
    assert_eq!(Scope::of(&Route::Outpost), Scope::Open);
    let push = Route::ProgressPush {
        name: "ws-1".into(),
    };
    assert_eq!(
        Scope::of(&push),
        Scope::Open,
        "a launcher: hop credential only"
    );
}

#[test]
fn each_header_is_read_once_absent_plain_repeated_or_unreadable() {
    let names = [
        &http::header::HOST,
        &http::header::ORIGIN,
        &dcs_net::names::SEC_FETCH_SITE,
        &dcs_net::names::X_FORWARDED_PROTO,
    ];
    // What a look-up by name answers, as the reference.
    let by_name = |headers: &HeaderMap, name: &http::HeaderName| -> Option<String> {
        let values: Vec<_> = headers.get_all(name).iter().collect();
        match values.as_slice() {
            [] => None,
            [one] => Some(one.to_str().unwrap_or("").to_owned()),
            _ => Some(String::new()),
        }
    };
    let mut headers = HeaderMap::new();
    let mut seen = Vec::new();
    let steps: [(&str, &[u8]); 7] = [
        ("accept", b"text/html"),
        ("host", b"127.0.0.1:8080"),
        ("sec-fetch-site", b"same-origin"),
        ("x-forwarded-proto", b"caf\xe9"),
        ("origin", b"http://127.0.0.1:8080"),
        ("host", b"evil.example"),
        ("cookie", b"a=1"),
    ];
    for (name, value) in steps {
        headers.append(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_bytes(value).expect("value"),
        );
        let found = singles(&headers, names);
        let reference: Vec<_> = names.iter().map(|n| by_name(&headers, n)).collect();
        assert_eq!(
            found.map(|v| v.map(str::to_owned)).to_vec(),
            reference,
            "after {name}"
        );
        seen.push(found[0].map(str::to_owned));
    }
    assert_eq!(seen[0], None, "no Host yet");
    assert_eq!(seen[1].as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(
        seen[5].as_deref(),
        Some(""),
        "a repeated Host is unreadable"
    );
    assert_eq!(
        singles(&headers, names)[3],
        Some(""),
        "a value that is not visible ASCII is unreadable"
    );
}
