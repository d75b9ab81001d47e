//! Header rewriting, in one place: hop-by-hop headers removed both ways, identity
//! headers from the client removed and set from the verified [`Identity`], the
//! auth layer's credentials (`Authorization`, Authentik's `authentik_proxy_*`
//! cookies) removed, and `X-Forwarded-*` set for the workspace.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use dcs_net::{cookies, hop};

use crate::auth::headers::is_session_cookie;
use crate::auth::Identity;

/// Identity headers only the proxy may set.
const IDENTITY: &[&str] = &[
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-prefix",
];

/// What the request rewrite needs to know.
#[derive(Debug)]
pub struct RequestContext<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The stripped path prefix.
    pub prefix: &'a str,
    /// Who is asking.
    pub identity: &'a Identity,
    /// `Host` to send instead of the client's, if the upstream needs its own.
    pub host: Option<&'a str>,
    /// The upstream's `host:port`, used when the client sent no `Host`.
    pub authority: &'a str,
    /// The upgrade protocol, for upgrade requests.
    pub upgrade: Option<&'a HeaderValue>,
}

/// Rewrites a request's headers for the workspace.
pub fn rewrite_request(headers: &mut HeaderMap, ctx: &RequestContext<'_>) {
    hop::strip(headers, ctx.upgrade);
    let authentik: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-authentik-"))
        .cloned()
        .collect();
    for name in authentik
        .into_iter()
        .chain(IDENTITY.iter().map(|n| HeaderName::from_static(n)))
    {
        headers.remove(name);
    }
    headers.remove(header::AUTHORIZATION);
    strip_session_cookies(headers);

    let original_host = headers.get(header::HOST).cloned();
    if let Some(host) = ctx.host.and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(header::HOST, host);
    } else if original_host.is_none() {
        if let Ok(v) = HeaderValue::from_str(ctx.authority) {
            headers.insert(header::HOST, v);
        }
    }

    let peer_ip = ctx.peer.ip().to_string();
    let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {peer_ip}"),
        None => peer_ip,
    };
    set(headers, "x-forwarded-for", &xff);
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (headers.contains_key("x-forwarded-host"), original_host) {
        headers.insert("x-forwarded-host", host);
    }
    set(headers, "x-forwarded-prefix", ctx.prefix);
    set(headers, "x-forwarded-user", &ctx.identity.username);
    if let Some(email) = &ctx.identity.email {
        set(headers, "x-forwarded-email", email);
    }
    if !ctx.identity.groups.is_empty() {
        set(
            headers,
            "x-forwarded-groups",
            &ctx.identity.groups.join("|"),
        );
    }
}

/// Removes Authentik's session cookies and the instance cookie (which holds an
/// instance's access token) from `Cookie`, keeping every other cookie (the IDE
/// may set its own) in one header; no header is left if none remain.
pub fn strip_session_cookies(headers: &mut HeaderMap) {
    cookies::retain(headers, |name| {
        !is_session_cookie(name) && !crate::api::cookie::is_instance_cookie_name(name)
    });
}

/// Rewrites a response's headers for the client: hop-by-hop removed (kept for a
/// `101`), and a root-relative `Location` put back under the prefix.
pub fn rewrite_response(headers: &mut HeaderMap, prefix: &str, switching: bool) {
    let upgrade = if switching {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    hop::strip(headers, upgrade.as_ref());
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(loc) = location {
        let under_prefix = loc == prefix || loc.starts_with(&format!("{prefix}/"));
        if loc.starts_with('/') && !loc.starts_with("//") && !under_prefix {
            set(
                headers,
                header::LOCATION.as_str(),
                &format!("{prefix}{loc}"),
            );
        }
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name, v);
        }
        Err(_) => {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::UserId;

    use super::*;

    fn identity() -> Identity {
        Identity {
            email: Some("alice@example.com".into()),
            groups: vec!["dev".into(), "ops".into()],
            ..Identity::from_user(UserId::new("alice").expect("u"))
        }
    }

    fn ctx<'a>(id: &'a Identity, upgrade: Option<&'a HeaderValue>) -> RequestContext<'a> {
        RequestContext {
            peer: "10.0.0.9:5555".parse().expect("addr"),
            prefix: "/github/acme/hello",
            identity: id,
            host: None,
            authority: "127.0.0.1:9",
            upgrade,
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
}
