use http::header::{HeaderName, HeaderValue, ACCEPT, CONNECTION, UPGRADE};
use http::HeaderMap;

use super::*;

/// The rules as they read the headers before, each by a look-up by name: the
/// one pass must answer the same for every request.
mod looked_up {
    use super::*;
    const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
    const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
    const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");

    fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
        headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn wants_html(headers: &HeaderMap) -> bool {
        text(headers, &ACCEPT).is_some_and(|a| a.contains("text/html"))
            && !headers.contains_key(X_REQUESTED_WITH)
            && text(headers, &SEC_FETCH_MODE).is_none_or(|m| m.eq_ignore_ascii_case("navigate"))
    }

    pub fn is_navigation(headers: &HeaderMap) -> bool {
        wants_html(headers)
            && text(headers, &SEC_FETCH_MODE).is_some_and(|m| m.eq_ignore_ascii_case("navigate"))
    }

    pub fn navigates(headers: &HeaderMap) -> bool {
        match text(headers, &SEC_FETCH_MODE) {
            None => true,
            Some(mode) => {
                mode.eq_ignore_ascii_case("navigate")
                    && text(headers, &SEC_FETCH_DEST)
                        .is_none_or(|d| d.eq_ignore_ascii_case("document"))
            }
        }
    }

    pub fn is_background(headers: &HeaderMap) -> bool {
        headers
            .get("x-dcs-background")
            .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
    }

    pub fn upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
        let asks = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|t| t.eq_ignore_ascii_case("upgrade"));
        asks.then(|| headers.get(UPGRADE).cloned()).flatten()
    }
}

fn value(v: &str) -> HeaderValue {
    match v {
        // Not visible ASCII: `to_str` fails.
        "\u{e9}" => HeaderValue::from_bytes(b"caf\xe9").expect("opaque"),
        v => HeaderValue::from_str(v).expect("value"),
    }
}

/// Every request made of these headers, alone, repeated, or two values in either
/// order, agrees with the look-ups.
#[test]
fn one_pass_answers_as_the_look_ups_did() {
    let values: &[(&str, &[&str])] = &[
        (
            "accept",
            &["text/html,application/xhtml+xml", "*/*", "\u{e9}"],
        ),
        ("x-requested-with", &["XMLHttpRequest", ""]),
        (
            "sec-fetch-mode",
            &["navigate", "NAVIGATE", "cors", "\u{e9}"],
        ),
        ("sec-fetch-dest", &["document", "iframe", "\u{e9}"]),
        ("x-dcs-background", &["1", " 1 ", "0", "\u{e9}"]),
        (
            "connection",
            &["keep-alive, Upgrade", "upgrade", "keep-alive", "\u{e9}"],
        ),
        ("upgrade", &["websocket", "h2c"]),
    ];
    // Requests: one header at a time with one or two values, and pairs of headers.
    let mut requests: Vec<HeaderMap> = vec![HeaderMap::new()];
    for (name, vs) in values {
        for a in vs.iter() {
            let mut h = HeaderMap::new();
            h.append(*name, value(a));
            requests.push(h.clone());
            for b in vs.iter() {
                let mut twice = h.clone();
                twice.append(*name, value(b));
                requests.push(twice);
            }
        }
    }
    let singles = requests.clone();
    for a in &singles {
        for b in &singles {
            let mut both = a.clone();
            for (name, v) in b {
                both.append(name.clone(), v.clone());
            }
            requests.push(both);
        }
    }
    assert!(requests.len() > 1000, "{}", requests.len());
    for h in &requests {
        let asked = Asked::of(h);
        assert_eq!(asked.wants_html(), looked_up::wants_html(h), "{h:?}");
        assert_eq!(asked.is_navigation(), looked_up::is_navigation(h), "{h:?}");
        assert_eq!(asked.may_be_a_person(), looked_up::navigates(h), "{h:?}");
        assert_eq!(asked.is_background(), looked_up::is_background(h), "{h:?}");
        assert_eq!(asked.upgrade().cloned(), looked_up::upgrade(h), "{h:?}");
    }
}

#[test]
fn a_browser_page_a_script_and_a_websocket() {
    let mut page = HeaderMap::new();
    page.insert(ACCEPT, value("text/html,application/xhtml+xml"));
    page.insert("sec-fetch-mode", value("navigate"));
    page.insert("sec-fetch-dest", value("document"));
    let asked = Asked::of(&page);
    assert!(asked.wants_html() && asked.is_navigation() && asked.may_be_a_person());
    assert!(!asked.is_background() && asked.upgrade().is_none());

    let mut script = page.clone();
    script.insert("sec-fetch-mode", value("cors"));
    let asked = Asked::of(&script);
    assert!(!asked.wants_html() && !asked.is_navigation() && !asked.may_be_a_person());

    let mut frame = page.clone();
    frame.insert("sec-fetch-dest", value("iframe"));
    assert!(!Asked::of(&frame).may_be_a_person(), "a frame's navigation");

    let mut ws = HeaderMap::new();
    ws.insert(CONNECTION, value("keep-alive, Upgrade"));
    ws.insert(UPGRADE, value("websocket"));
    let asked = Asked::of(&ws);
    assert_eq!(asked.upgrade(), Some(&value("websocket")));
    assert!(
        !asked.wants_html() && asked.may_be_a_person(),
        "curl's upgrade"
    );

    assert!(Asked::of(&HeaderMap::new()).may_be_a_person(), "curl");
}

#[test]
fn a_pages_own_requests_are_its_fetches_and_its_websockets() {
    let mut navigation = HeaderMap::new();
    navigation.insert("sec-fetch-mode", value("navigate"));
    navigation.insert("sec-fetch-dest", value("document"));
    assert!(!Asked::of(&navigation).is_a_pages_own(), "a person's");
    assert!(!Asked::of(&HeaderMap::new()).is_a_pages_own(), "curl");

    let mut fetch = HeaderMap::new();
    fetch.insert("sec-fetch-mode", value("no-cors"));
    assert!(Asked::of(&fetch).is_a_pages_own());

    // Chromium's WebSocket handshake: an Origin, no fetch metadata.
    let mut ws = HeaderMap::new();
    ws.insert(CONNECTION, value("Upgrade"));
    ws.insert(UPGRADE, value("websocket"));
    assert!(!Asked::of(&ws).is_a_pages_own(), "websocat's: no Origin");
    ws.insert("origin", value("https://ide.example"));
    assert!(Asked::of(&ws).is_a_pages_own(), "a browser's");
    let mut post = HeaderMap::new();
    post.insert("origin", value("https://ide.example"));
    assert!(
        !Asked::of(&post).is_a_pages_own(),
        "an Origin alone (a form's POST) is no page's own"
    );
}
