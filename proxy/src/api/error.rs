//! API errors: every failure under `/api` is answered with a JSON
//! [`ApiError`] (never HTML), with a stable `error` code. Mistakes of the caller
//! are 4xx; only the proxy's or the runtime's own trouble is 5xx.

use dcs_model::api::{ApiError, FieldError};
use http::header::{ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Response, StatusCode};

use crate::body::{full, Body};
use crate::error::{Error, StartFailure};

/// An API failure: a status, the JSON body, the `Allow` header of a 405 and the
/// `Retry-After` of a 429.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErr {
    status: StatusCode,
    body: ApiError,
    allow: Option<String>,
    retry_after: Option<u64>,
    close: bool,
    /// The auth layer's 401 ([`Error::needs_sign_in`]): the body says `"sign_in": true`.
    sign_in: bool,
}

impl ApiErr {
    /// An error with `status`, stable `code` and a message for a person.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError {
                error: code.to_owned(),
                message: message.into(),
                fields: Vec::new(),
            },
            allow: None,
            retry_after: None,
            close: false,
            sign_in: false,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 413 `payload_too_large`; the connection is closed after it (the rest of
    /// the body is never read).
    pub fn too_large(limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {} KiB", limit / 1024),
        );
        e.close = true;
        e
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(got: Option<&str>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            match got {
                Some(t) => format!(
                    "the body must be JSON (Content-Type: application/json), not {}",
                    crate::server::truncate(t, 100)
                ),
                None => "the body must be JSON: send Content-Type: application/json".into(),
            },
        )
    }

    /// 405 `method_not_allowed`, with `Allow`.
    pub fn method_not_allowed(method: &Method, allowed: &[&str]) -> Self {
        let allow = allowed.join(", ");
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not allowed here; allowed: {allow}",
                crate::server::truncate(method.as_str(), 20)
            ),
        );
        e.allow = Some(allow);
        e
    }

    /// 422 `validation_failed` listing every field's problem.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("invalid request: check {}", names.join(", ")),
        );
        e.body.fields = fields;
        e
    }

    /// 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body.
    pub fn body(&self) -> &ApiError {
        &self.body
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<&str> {
        self.allow.as_deref()
    }

    /// The `Retry-After` seconds of a 429.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The response.
    pub fn into_response(self) -> Response<Body> {
        let mut body = crate::pages::with_request_id(&self.body);
        if let (true, Some(map)) = (self.sign_in, body.as_object_mut()) {
            map.insert("sign_in".into(), true.into());
        }
        let mut resp = json_response(self.status, &body);
        if let Some(v) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            resp.headers_mut().insert(ALLOW, v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<Error> for ApiErr {
    fn from(err: Error) -> Self {
        crate::pages::log_cause(&err);
        let status = err.status();
        let code = match &err {
            Error::BadRequest(_) => "bad_request",
            Error::NotFound(_) => "not_found",
            Error::Unauthorized(_) => "unauthorized",
            // A browser would be sent to sign in; an API client gets a 401.
            Error::SignIn { .. } => {
                let mut e = Self::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "sign-in required: send a valid session cookie or an Authorization header",
                );
                e.sign_in = true;
                return e;
            }
            Error::AuthUnavailable => "auth_unavailable",
            Error::Forbidden(_) => "forbidden",
            Error::StartTimeout { .. } => "start_timeout",
            Error::StartFailed {
                kind: StartFailure::NotFound,
                ..
            } => "repo_not_found",
            Error::StartFailed { .. } => "start_failed",
            Error::Upstream(_) => "upstream_failed",
            Error::Runtime(_) => "runtime_unavailable",
            Error::Cancelled => "start_cancelled",
            Error::RequestTimeout(_) => "request_timeout",
            Error::UpstreamTimeout(_) => "upstream_timeout",
            Error::TooManyRequests { retry_after, .. } => {
                let mut e = Self::new(status, "too_many_requests", err.to_string());
                e.retry_after = Some(retry_after_secs(*retry_after));
                return e;
            }
            Error::Misdirected(_) => "misdirected",
            Error::HeadTooLarge(_) => "headers_too_large",
            Error::UriTooLong(_) => "uri_too_long",
        };
        let mut e = Self::new(status, code, err.to_string());
        // The rest of an unread request is not waited for.
        e.close = matches!(err, Error::HeadTooLarge(_) | Error::UriTooLong(_));
        e.sign_in = err.needs_sign_in();
        e
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// A JSON answer with `status`, never cached.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_errors_keep_their_status_and_get_a_code() {
        let e = ApiErr::from(Error::Forbidden("no".into()));
        assert_eq!(
            (e.status().as_u16(), e.body().error.as_str()),
            (403, "forbidden")
        );
        let e = ApiErr::from(Error::SignIn {
            location: "/outpost.goauthentik.io/start".into(),
        });
        assert_eq!(
            (e.status().as_u16(), e.body().error.as_str()),
            (401, "unauthorized")
        );
        assert!(e.sign_in, "a sign-in says so");
        let e = ApiErr::from(Error::Runtime("down".into()));
        assert_eq!(e.status(), 503);
        assert!(e.body().message.contains("down"));
    }

    #[test]
    fn responses_are_json_with_allow_on_405() {
        let resp = ApiErr::method_not_allowed(&Method::PUT, &["GET", "POST"]).into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[ALLOW], "GET, POST");
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        let resp = ApiErr::too_large(64 * 1024).into_response();
        assert_eq!(resp.status(), 413);
        assert_eq!(resp.headers()[CONNECTION], "close");
    }

    #[test]
    fn too_many_requests_carry_retry_after() {
        let e = ApiErr::from(Error::TooManyRequests {
            message: "limit".into(),
            retry_after: std::time::Duration::from_millis(10_500),
        });
        assert_eq!((e.status().as_u16(), e.retry_after()), (429, Some(11)));
        assert_eq!(e.body().error, "too_many_requests");
        let resp = e.into_response();
        assert_eq!(resp.headers()[RETRY_AFTER], "11");
        assert_eq!(retry_after_secs(std::time::Duration::ZERO), 1);
        assert_eq!(retry_after_secs(std::time::Duration::from_secs(10)), 10);
    }

    #[test]
    fn validation_lists_the_fields() {
        let e = ApiErr::field("repo", "bad");
        assert_eq!(e.status(), 422);
        assert_eq!(e.body().error, "validation_failed");
        assert_eq!(e.body().fields[0].field, "repo");
        assert!(e.body().message.contains("repo"));
    }
}
