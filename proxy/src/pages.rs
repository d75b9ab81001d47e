//! Rendering errors and small status pages: HTML for browsers, JSON for API and
//! script clients. This is the one "rescue" the whole proxy answers errors with.
//! Every page and JSON error names the request's id (see [`crate::telemetry`]), and
//! the cause is logged under that id.

use dcs_net::escape::html as html_escape;
use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::asked::Asked;
use crate::body::{full, Body};
use crate::error::Error;

/// Whether the client is a browser navigation that wants an HTML page
/// ([`Asked::wants_html`]), for the few places that have only the headers (the
/// request path reads [`Asked`] once and carries it).
pub fn wants_html(headers: &HeaderMap) -> bool {
    Asked::of(headers).wants_html()
}

/// Turns an error into the response the client sees. A sign-in is a `302` to
/// the sign-in page for browsers and a `401` for everything else; the auth layer's
/// 401 ([`Error::needs_sign_in`]) says `"sign_in": true` in its JSON, so a page's
/// script can tell its person to sign in again, and its page links to that; a
/// limit (429) says when to retry in `Retry-After`; after an oversized head (431,
/// 414) the connection is closed.
pub fn rescue(err: &Error, wants_html: bool) -> Response<Body> {
    log_cause(err);
    match err {
        Error::SignIn { location } => {
            let status = if wants_html {
                StatusCode::FOUND
            } else {
                StatusCode::UNAUTHORIZED
            };
            let message = "sign-in required: continue at the sign-in page";
            let mut resp = render(status, err.title(), message, wants_html, true);
            if let Ok(v) = HeaderValue::from_str(location) {
                resp.headers_mut().insert(LOCATION, v);
            }
            resp
        }
        Error::TooManyRequests { retry_after, .. } => {
            let mut resp = page(err.status(), err.title(), &err.to_string(), wants_html);
            let secs = crate::api::error::retry_after_secs(*retry_after);
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        Error::HeadTooLarge(_) | Error::UriTooLong(_) => {
            let mut resp = page(err.status(), err.title(), &err.to_string(), wants_html);
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        _ => render(
            err.status(),
            err.title(),
            &err.to_string(),
            wants_html,
            err.needs_sign_in(),
        ),
    }
}

/// Logs the cause of an error answer, under the request's id (its span): server-side
/// failures as warnings, the client's own as information, sign-ins for debugging.
pub fn log_cause(err: &Error) {
    let status = err.status().as_u16();
    match err {
        Error::SignIn { .. } => tracing::debug!(status, "sign-in required"),
        _ if status >= 500 => {
            tracing::warn!(status, cause = %err, detail = ?err, "answered with an error")
        }
        _ => tracing::info!(status, cause = %err, "answered with an error"),
    }
}

/// `body` as JSON with the request's `request_id` added (an `/api` error).
pub fn with_request_id(body: &impl serde::Serialize) -> serde_json::Value {
    let mut value = serde_json::to_value(body).unwrap_or(serde_json::Value::Null);
    if let (Some(map), Some(id)) = (
        value.as_object_mut(),
        crate::telemetry::current_request_id(),
    ) {
        map.insert("request_id".into(), id.into());
    }
    value
}

/// A status page with a title and a message, naming the request's id.
pub fn page(status: StatusCode, title: &str, message: &str, wants_html: bool) -> Response<Body> {
    render(status, title, message, wants_html, false)
}

/// [`page`]; with `sign_in`, the JSON says `"sign_in": true` and the page links to
/// signing in again.
fn render(
    status: StatusCode,
    title: &str,
    message: &str,
    wants_html: bool,
    sign_in: bool,
) -> Response<Body> {
    let request_id = crate::telemetry::current_request_id();
    let (content_type, body) = if wants_html {
        let page = Page {
            status,
            title,
            message,
            request_id: request_id.as_deref(),
            sign_in,
        };
        ("text/html; charset=utf-8", page.html())
    } else {
        let mut json = serde_json::json!({
            "error": message, "status": status.as_u16(), "title": title, "request_id": request_id,
        });
        if let (true, Some(map)) = (sign_in, json.as_object_mut()) {
            map.insert("sign_in".into(), true.into());
        }
        ("application/json", json.to_string())
    };
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A page or script of the proxy's own (the progress page, the home page): never
/// cached, never sniffed as another type.
pub fn own(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// An HTML status page.
struct Page<'a> {
    status: StatusCode,
    title: &'a str,
    message: &'a str,
    request_id: Option<&'a str>,
    /// The auth layer's 401: a link to sign in again. It ends the session at the
    /// outpost (through this proxy with `--auth authentik`, through the ingress's
    /// route to it with `trusted-headers`), so the next page asks to sign in afresh:
    /// reloading a page whose session the proxy does not accept repeats the 401.
    /// In the whole tab (`target=_top`): a frame's page gets it too, and no sign-in
    /// page works inside a frame.
    sign_in: bool,
}

impl Page<'_> {
    fn html(&self) -> String {
        let code = self.status.as_u16();
        let id = self.request_id.map(html_escape);
        let footer_id = id
            .as_ref()
            .map(|id| format!(" · request id: <code>{id}</code>"))
            .unwrap_or_default();
        let again = if self.sign_in {
            let admin = id
                .as_ref()
                .map(|id| {
                    format!(
                        " If this page comes back after signing in, give an administrator \
                         the request id <code>{id}</code>."
                    )
                })
                .unwrap_or_default();
            format!(
                "<p><a id=sign-in-again href=\"{SIGN_OUT}\" target=_top>Sign in again</a>{admin}</p>",
                SIGN_OUT = crate::auth::authentik::SIGN_OUT_PATH,
            )
        } else {
            String::new()
        };
        format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>{code} {title}</title>\
             <meta name=viewport content=\"width=device-width\">\
             <style>body{{font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}\
             h1{{font-size:1.4em}}code{{background:#f3f3f3;padding:0 .2em}}</style></head>\
             <body><h1>{title}</h1><p>{message}</p>{again}<p><small>{code}{footer_id} · devcontainer-serverless</small></p></body></html>",
            title = html_escape(self.title),
            message = html_escape(self.message),
        )
    }
}

#[cfg(test)]
mod tests {
    use http::header::ACCEPT;
    use http_body_util::BodyExt;

    use super::*;

    async fn text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf8")
    }

    #[tokio::test]
    async fn browsers_get_escaped_html() {
        let resp = rescue(&Error::BadRequest("<script>".into()), true);
        assert_eq!(resp.status(), 400);
        let body = text(resp).await;
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
    }

    #[tokio::test]
    async fn pages_and_json_name_the_request_id() {
        let err = Error::Runtime("boom".into());
        let resp =
            crate::telemetry::with_request_id("rid42".into(), async { rescue(&err, true) }).await;
        assert!(text(resp).await.contains("request id: <code>rid42</code>"));
        let resp =
            crate::telemetry::with_request_id("rid42".into(), async { rescue(&err, false) }).await;
        let v: serde_json::Value = serde_json::from_str(&text(resp).await).expect("json");
        assert_eq!(v["request_id"], "rid42");
    }

    #[tokio::test]
    async fn scripts_get_json() {
        let resp = rescue(&Error::NotFound("nothing here".into()), false);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        let v: serde_json::Value = serde_json::from_str(&text(resp).await).expect("json");
        assert_eq!(v["error"], "nothing here");
        assert_eq!(v["status"], 404);
    }

    #[tokio::test]
    async fn sign_in_is_a_redirect_for_browsers_and_a_401_otherwise() {
        let err = Error::SignIn {
            location: "/outpost.goauthentik.io/start?rd=x".into(),
        };
        let resp = rescue(&err, true);
        assert_eq!(resp.status(), 302);
        assert_eq!(
            resp.headers()[LOCATION],
            "/outpost.goauthentik.io/start?rd=x"
        );
        let resp = rescue(&err, false);
        assert_eq!(resp.status(), 401);
        let v: serde_json::Value = serde_json::from_str(&text(resp).await).expect("json");
        assert_eq!(v["status"], 401);
        assert_eq!(v["sign_in"], true);
    }

    #[tokio::test]
    async fn the_auth_layers_401_says_sign_in_and_its_page_links_to_signing_in_again() {
        let expired = Error::Unauthorized(
            "sign-in required: this request carries no verified identity".into(),
        );
        let resp =
            crate::telemetry::with_request_id("rid7".into(), async { rescue(&expired, false) })
                .await;
        assert_eq!(resp.status(), 401);
        let v: serde_json::Value = serde_json::from_str(&text(resp).await).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "error": "sign-in required: this request carries no verified identity",
                "status": 401, "title": "Sign-in required", "request_id": "rid7", "sign_in": true,
            })
        );
        let resp =
            crate::telemetry::with_request_id("rid7".into(), async { rescue(&expired, true) })
                .await;
        assert_eq!(resp.status(), 401);
        let page = text(resp).await;
        assert!(
            page.contains(
                "<a id=sign-in-again href=\"/outpost.goauthentik.io/sign_out\" target=_top>Sign in again</a>"
            ),
            "{page}"
        );
        assert!(
            page.contains("give an administrator the request id <code>rid7</code>"),
            "{page}"
        );
        // Another 401 (a preview's cookie) is no sign-in: no marker, no link.
        let other = Error::Unauthorized("the preview cookie names no user".into());
        let v: serde_json::Value =
            serde_json::from_str(&text(rescue(&other, false)).await).expect("json");
        assert!(v.get("sign_in").is_none(), "{v}");
        assert!(!text(rescue(&other, true)).await.contains("sign-in-again"));
    }

    #[tokio::test]
    async fn a_limit_is_a_429_page_saying_when_to_retry() {
        let err = Error::TooManyRequests {
            message: "alice already has 3 workspace(s) starting".into(),
            retry_after: std::time::Duration::from_secs(10),
        };
        let resp = rescue(&err, true);
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[RETRY_AFTER], "10");
        let body = text(resp).await;
        assert!(body.contains("Too many workspaces") && body.contains("alice already has 3"));
        let resp = rescue(&err, false);
        assert_eq!(resp.headers()[RETRY_AFTER], "10");
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        let resp = rescue(&Error::HeadTooLarge("big".into()), false);
        assert_eq!(
            (resp.status().as_u16(), &resp.headers()[CONNECTION]),
            (431, &HeaderValue::from_static("close"))
        );
    }

    #[tokio::test]
    async fn an_unavailable_sign_in_service_is_a_503_page() {
        let resp = rescue(&Error::AuthUnavailable, true);
        assert_eq!(resp.status(), 503);
        assert!(text(resp).await.contains("Sign-in service unavailable"));
    }

    #[test]
    fn accept_header_decides() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        h.insert(
            ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(wants_html(&h));
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        assert!(wants_html(&h));
        h.insert("sec-fetch-mode", HeaderValue::from_static("cors"));
        assert!(!wants_html(&h), "fetch() gets JSON");
        h.remove("sec-fetch-mode");
        h.insert(
            "x-requested-with",
            HeaderValue::from_static("XMLHttpRequest"),
        );
        assert!(!wants_html(&h), "XHR gets JSON");
    }
}
