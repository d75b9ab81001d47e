//! Hop-by-hop headers, handled in one place: they describe one connection, so they
//! are dropped before a request or response crosses to the next one (RFC 9110
//! §7.6.1, plus the non-standard `Keep-Alive` and `Proxy-Connection`). An upgrade
//! keeps exactly `Connection: upgrade` and its `Upgrade` protocol.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that always describe one connection.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The protocol the sender asks to switch to (`Upgrade`), when `Connection` names
/// `upgrade`.
pub fn upgrade_requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .any(names_upgrade);
    asks.then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Whether one `Connection` value names `upgrade` among its tokens (a request asks
/// for an upgrade when any of its `Connection` values does).
pub fn names_upgrade(connection: &HeaderValue) -> bool {
    tokens(connection).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// Whether `upgrade` (from [`upgrade_requested`]) is a WebSocket.
pub fn is_websocket(upgrade: &HeaderValue) -> bool {
    upgrade.as_bytes().eq_ignore_ascii_case(b"websocket")
}

/// Removes every hop-by-hop header (and those `Connection` names); when `upgrade`
/// is given, sets `Connection: upgrade` and `Upgrade: <upgrade>` again so the
/// upgrade can pass.
pub fn strip(headers: &mut HeaderMap, upgrade: Option<&HeaderValue>) {
    // Most requests carry no `Connection` (or just `keep-alive`): nothing to collect.
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    // One pass over the few headers a request has, instead of a hashed look-up per
    // hop-by-hop name: most requests (and responses) have none of them.
    if headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        for name in &HOP_BY_HOP {
            headers.remove(name);
        }
    }
    if let Some(proto) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(header::CONNECTION).iter().flat_map(tokens)
}

/// The tokens of one `Connection` value (none when it is not visible ASCII).
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value
        .to_str()
        .ok()
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go_and_host_stays() {
        let mut h = map(&[
            ("host", "ide.example:8443"),
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("x-forwarded-prefix", "/github/acme/hello"),
        ]);
        strip(&mut h, None);
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["host", "x-forwarded-prefix"]);
        assert_eq!(h["host"], "ide.example:8443");
    }

    #[test]
    fn a_lone_hop_by_hop_header_goes_and_a_request_without_one_is_untouched() {
        for hop in ["proxy-authorization", "upgrade", "trailer", "keep-alive"] {
            let mut h = map(&[("host", "h"), (hop, "x"), ("accept", "*/*")]);
            strip(&mut h, None);
            assert!(!h.contains_key(hop), "{hop}");
            assert_eq!(h.len(), 2, "{hop}");
        }
        let plain = map(&[("host", "h"), ("accept", "*/*"), ("cookie", "a=1")]);
        let mut h = plain.clone();
        strip(&mut h, None);
        assert_eq!(h, plain);
    }

    #[test]
    fn an_upgrade_needs_both_headers_and_keeps_exactly_its_protocol() {
        let mut h = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "k"),
        ]);
        let proto = upgrade_requested(&h).expect("upgrade");
        assert!(is_websocket(&proto));
        strip(&mut h, Some(&proto));
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-key"], "k");
        assert!(upgrade_requested(&map(&[("upgrade", "websocket")])).is_none());
    }
}
