//! The error of an API error answer: the API's `ApiError` message and field errors
//! (or the status and the start of a body that is not one), with the exit code of
//! its status, the API's error code (only when the body is the API's) and the
//! request's id, which an operator finds the cause with. The server's text is
//! escaped ([`crate::safe`]) before it can reach a terminal.

use dcs_model::api::ApiError;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::exit::{CliError, Exit};
use crate::safe::escape;

/// The error for an HTTP error answer: the API's own message and field errors when
/// the body is an `ApiError`, else the status and the start of the body; with the
/// request's id (the body's `request_id`, else the `X-Request-Id` header), which
/// an operator finds the cause with.
pub fn api_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> CliError {
    let exit = Exit::from_status(status.as_u16());
    let id = request_id(headers, body).map(|id| format!("request id {id}"));
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => CliError {
            exit,
            message: match id {
                Some(id) => format!("{} ({}, {id})", escape(&e.message), status.as_u16()),
                None => format!("{} ({})", escape(&e.message), status.as_u16()),
            },
            details: e
                .fields
                .iter()
                .map(|f| format!("{}: {}", escape(&f.field), escape(&f.message)))
                .collect(),
            code: Some(e.error),
        },
        Err(_) => {
            // The start of the body on one line: line breaks and tabs dropped, any
            // other control character escaped.
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .filter(|c| !matches!(c, '\n' | '\r' | '\t'))
                .take(200)
                .collect();
            let text = escape(&text);
            let reason = status.canonical_reason().unwrap_or("error");
            let mut head = format!("the server answered {} {reason}", status.as_u16());
            if let Some(id) = id {
                head.push_str(&format!(" ({id})"));
            }
            let message = if text.trim().is_empty() {
                head
            } else {
                format!("{head}: {}", text.trim())
            };
            CliError::new(exit, message)
        }
    }
}

/// The longest request id shown (the proxy's are at most 64 characters).
const MAX_REQUEST_ID: usize = 64;

/// The request id of an error answer: `request_id` of a JSON body, else the
/// `X-Request-Id` header; only if it is short printable ASCII without spaces.
fn request_id(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let from_body = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("request_id")?.as_str().map(str::to_owned));
    let from_header = || {
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    from_body.or_else(from_header).filter(|id| {
        !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.bytes().all(|b| b.is_ascii_graphic())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_show_the_message_and_field_lines() {
        let body = br#"{"error":"validation_failed","message":"invalid request",
            "fields":[{"field":"cpu_limit","message":"not a quantity"}]}"#;
        let none = HeaderMap::new();
        let e = api_error(StatusCode::UNPROCESSABLE_ENTITY, &none, body);
        assert_eq!(e.exit, Exit::Usage);
        assert_eq!(e.message, "invalid request (422)");
        assert_eq!(e.details, vec!["cpu_limit: not a quantity".to_owned()]);
        assert_eq!(e.code.as_deref(), Some("validation_failed"));

        let e = api_error(
            StatusCode::UNAUTHORIZED,
            &none,
            br#"{"error":"unauthorized","message":"sign in"}"#,
        );
        assert_eq!((e.exit, e.details.len()), (Exit::Auth, 0));

        let e = api_error(StatusCode::BAD_GATEWAY, &none, b"<html>\nupstream\n</html>");
        assert_eq!(e.exit, Exit::Server);
        assert!(
            e.message.contains("502 Bad Gateway: <html>upstream</html>"),
            "{}",
            e.message
        );

        let e = api_error(StatusCode::NOT_FOUND, &none, b"");
        assert_eq!(e.exit, Exit::NotFound);
        assert_eq!(e.message, "the server answered 404 Not Found");
    }

    #[test]
    fn api_errors_name_the_request_id() {
        let none = HeaderMap::new();
        let body = br#"{"error":"runtime_unavailable","message":"the runtime is down",
            "request_id":"7f3a-01"}"#;
        let e = api_error(StatusCode::SERVICE_UNAVAILABLE, &none, body);
        assert_eq!(e.message, "the runtime is down (503, request id 7f3a-01)");

        // Else the header's (an HTML page from the ingress, say).
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "rid-9".parse().expect("header"));
        let e = api_error(StatusCode::BAD_GATEWAY, &headers, b"<html>bad</html>");
        assert_eq!(
            e.message,
            "the server answered 502 Bad Gateway (request id rid-9): <html>bad</html>"
        );
        let e = api_error(StatusCode::NOT_FOUND, &headers, b"");
        assert_eq!(
            e.message,
            "the server answered 404 Not Found (request id rid-9)"
        );

        // The body's wins; an unprintable or overlong id is not shown.
        let e = api_error(StatusCode::NOT_FOUND, &headers, body);
        assert!(e.message.ends_with("(404, request id 7f3a-01)"), "{e}");
        for bad in ["a b", "x\\u001b[2J", ""] {
            let body = format!(r#"{{"error":"e","message":"m","request_id":"{bad}"}}"#);
            let e = api_error(StatusCode::NOT_FOUND, &none, body.as_bytes());
            assert_eq!(e.message, "m (404)", "{bad:?}");
        }
        let long = "r".repeat(65);
        let body = format!(r#"{{"error":"e","message":"m","request_id":"{long}"}}"#);
        let e = api_error(StatusCode::NOT_FOUND, &none, body.as_bytes());
        assert_eq!(e.message, "m (404)");
    }

    #[test]
    fn only_the_apis_own_errors_carry_its_code_and_all_text_is_escaped() {
        let none = HeaderMap::new();
        let e = api_error(StatusCode::NOT_FOUND, &none, b"default backend - 404");
        assert_eq!((e.exit, e.code), (Exit::NotFound, None));
        let e = api_error(
            StatusCode::NOT_FOUND,
            &none,
            br#"{"error":"not_found","message":"no \u001b]0;x\u0007 here",
                "fields":[{"field":"a\u009b","message":"b\nc"}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("not_found"));
        assert_eq!(e.message, "no \\u{1b}]0;x\\u{7} here (404)");
        assert_eq!(e.details, vec!["a\\u{9b}: b\\u{a}c".to_owned()]);
        let e = api_error(
            StatusCode::BAD_GATEWAY,
            &none,
            "a\u{1b}[2J\u{9b}b\n".as_bytes(),
        );
        assert!(e.message.ends_with(": a\\u{1b}[2J\\u{9b}b"), "{e}");
    }
}
