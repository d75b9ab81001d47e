//! Responses written for people: HTML escaping, the page chrome shared by every page
//! the launcher renders, JSON replies, and [`rescue`], the one place an [`Error`]
//! becomes a 4xx/5xx response (HTML for browsers, JSON when the client asks for it).
//!
//! Every error [`message`] (4xx/5xx) names the proxy's id for the request, when it
//! has one ([`crate::front::request_id`]): `request id …` on the page,
//! `"request_id"` in JSON, as the proxy's own error pages do; a 5xx's log line
//! carries it too.

use http::header::{HeaderMap, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};
use tracing::warn;

use crate::body::{self, Body};
use crate::error::Error;
use crate::front::request_id;

pub use dcs_net::escape::html as escape;

/// True when the client prefers JSON (`Accept: application/json`).
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}\
table{border-collapse:collapse;width:100%}td,th{padding:.25rem .75rem;text-align:left}\
tr:nth-child(even){background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}\
form{display:inline-block;margin:.5rem 1rem .5rem 0}.err{color:#a00}code{background:#eee;padding:0 .2rem}\
.dcs-notice{padding:.4rem .75rem;margin:0 0 .5rem;border:1px solid #8a4b00;background:#fff4e5;color:#8a4b00}";

/// A whole HTML document: `title` is escaped here, `body_html` must already be safe.
pub fn document(title: &str, body_html: &str) -> String {
    let title = escape(title);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\n{body_html}\n</body></html>\n"
    )
}

/// An HTML response.
pub fn html(status: StatusCode, document: String) -> Response<Body> {
    respond(status, "text/html; charset=utf-8", document.into_bytes())
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(status, "application/json", value.to_string().into_bytes())
}

/// A `503` for something that will pass by itself (a start, a restart): `Retry-After`,
/// and for browsers a page headed `heading` that reloads itself every two seconds;
/// JSON clients get `{"error": text}`.
pub fn reloads_itself(title: &str, heading: &str, text: &str, as_json: bool) -> Response<Body> {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let mut res = if as_json {
        message(status, "error", text, true)
    } else {
        let body = format!(
            "<meta http-equiv=\"refresh\" content=\"2\"><h1>{}</h1><p>{}</p>",
            escape(heading),
            escape(text)
        );
        html(status, document(title, &body))
    };
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("2"));
    res
}

/// A short message, as `{"<key>": message}` for JSON clients or a small page
/// otherwise; an error's names the request's id, if it has one.
pub fn message(status: StatusCode, key: &str, text: &str, as_json: bool) -> Response<Body> {
    let error = status.is_client_error() || status.is_server_error();
    let id = error.then(request_id::current).flatten();
    if as_json {
        let mut map = serde_json::Map::new();
        map.insert(key.to_owned(), text.into());
        if let Some(id) = id {
            map.insert("request_id".to_owned(), id.into());
        }
        return json(status, &serde_json::Value::Object(map));
    }
    let heading = status.canonical_reason().unwrap_or("Response");
    let class = if status.is_success() {
        ""
    } else {
        " class=\"err\""
    };
    let named = id
        .map(|id| {
            format!(
                "\n<p><small>request id <code>{}</code></small></p>",
                escape(&id)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1>\n<p{class}>{}</p>{named}",
        escape(heading),
        escape(text)
    );
    html(status, document(heading, &body))
}

/// Turns an error into the response a user sees. 5xx answers are logged, with the
/// request's id; 4xx are the user's business and are not.
pub fn rescue(err: &Error, as_json: bool) -> Response<Body> {
    let status = err.status();
    if status.is_server_error() {
        let id = request_id::current();
        let id = id.as_deref().map(tracing::field::display);
        warn!(%status, error = %err, request_id = id, "request failed");
    }
    message(status, "error", &err.to_string(), as_json)
}

fn respond(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response<Body> {
    let mut res = Response::new(body::full(bytes));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_json_is_detected_among_other_types() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(
            ACCEPT,
            HeaderValue::from_static("text/html, application/json;q=0.9"),
        );
        assert!(wants_json(&h));
    }

    #[test]
    fn rescue_answers_json_clients_with_an_error_object() {
        let res = rescue(&Error::Conflict("exists".into()), true);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        let res = rescue(&Error::BadRequest("<bad>".into()), false);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    }

    #[tokio::test]
    async fn a_page_that_says_it_reloads_itself_does() {
        use http_body_util::BodyExt;
        let res = reloads_itself("Restarting…", "Restarting <x>", "wait", false);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[RETRY_AFTER], "2");
        let body = res.into_body().collect().await.expect("body").to_bytes();
        let page = String::from_utf8_lossy(&body);
        assert!(
            page.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
            "{page}"
        );
        assert!(page.contains("Restarting &lt;x&gt;"), "escaped: {page}");

        let res = reloads_itself("Restarting…", "Restarting", "wait", true);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(res.headers()[RETRY_AFTER], "2");
    }

    async fn text(res: Response<Body>) -> String {
        use http_body_util::BodyExt;
        let body = res.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn error_pages_name_the_request_id_and_other_pages_do_not() {
        let served = |status, as_json| {
            request_id::scope("rid-42".into(), async move {
                text(message(status, "error", "gone", as_json)).await
            })
        };
        let page = served(StatusCode::NOT_FOUND, false).await;
        assert!(page.contains("request id <code>rid-42</code>"), "{page}");
        let json: serde_json::Value =
            serde_json::from_str(&served(StatusCode::BAD_GATEWAY, true).await).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"error": "gone", "request_id": "rid-42"})
        );
        let created = served(StatusCode::CREATED, false).await;
        assert!(!created.contains("rid-42"), "not an error: {created}");
        // Not from the proxy: no id to name.
        let page = text(message(StatusCode::NOT_FOUND, "error", "gone", false)).await;
        assert!(!page.contains("request id"), "{page}");
    }

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_5xx_is_logged_with_the_request_id() {
        let log = Capture::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let failed = Error::BadGateway("the IDE hung up".into());
        let res = request_id::scope("rid-7".into(), async { rescue(&failed, true) }).await;
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        let lines = String::from_utf8_lossy(&log.0.lock().expect("log")).into_owned();
        assert!(
            lines.contains("request failed") && lines.contains("request_id=rid-7"),
            "{lines}"
        );
    }
}
