//! Reading a JSON request body: content type (415), size limit checked on
//! `Content-Length` and enforced while streaming (413), pace (408, see [`paced`]),
//! syntax (400), a key given
//! twice in one object (422, see [`duplicates`]), and the
//! shape of a [`CreateInstance`] with field-level messages (422).

use bytes::Bytes;
use bytes::BytesMut;
use dcs_model::api::{CreateInstance, FieldError, PatchInstance, SharedWith};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use super::error::ApiErr;

mod duplicates;
mod paced;

pub use self::paced::{paced, PacedBody};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// How much of an oversized body is read and thrown away (within [`DRAIN_TIME`]),
/// so a client still sending it gets its 413 rather than a broken pipe. A larger
/// one is cut: the connection closes.
const DRAIN_MAX: u64 = 1024 * 1024;
/// How long reading and throwing away an oversized body may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards what is left of `body`, at most [`DRAIN_MAX`] bytes within
/// [`DRAIN_TIME`].
async fn drain<B>(mut body: std::pin::Pin<&mut B>)
where
    B: http_body::Body<Data = Bytes>,
{
    let discard = async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// Whether `content_type` is JSON: `application/json` or `application/*+json`,
/// with any parameters.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the body as a JSON value, at most `limit` bytes of it.
pub async fn read_value<B>(parts: &Parts, body: B, limit: usize) -> Result<Value, ApiErr>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if !content_type.as_deref().is_some_and(is_json) {
        return Err(ApiErr::unsupported_media_type(content_type.as_deref()));
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = std::pin::pin!(body);
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_MAX) {
            drain(body.as_mut()).await;
        }
        return Err(ApiErr::too_large(limit));
    }
    let mut bytes = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| paced::unreadable(&err))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                drain(body.as_mut()).await;
                return Err(ApiErr::too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiErr::bad_request(
            "the request body is empty; send a JSON object",
        ));
    }
    let value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiErr::bad_request(format!("the body is not valid JSON: {e}")))?;
    if let Some(path) = duplicates::first(&bytes) {
        return Err(ApiErr::field(
            crate::server::truncate(&path, 200),
            "appears more than once; give each field once",
        ));
    }
    Ok(value)
}

/// The names `CreateInstance` accepts (its fields, plus the `vscode_version` alias).
fn create_fields() -> Vec<String> {
    let mut names: Vec<String> = match serde_json::to_value(CreateInstance::default()) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    names.push("vscode_version".into());
    names
}

/// Decodes a [`CreateInstance`], naming the field of every unknown key and every
/// value of the wrong JSON type (with serde's own message).
pub fn create_instance(value: Value) -> Result<CreateInstance, ApiErr> {
    let Value::Object(map) = value else {
        return Err(ApiErr::field(
            "body",
            format!("the body must be a JSON object, not {}", json_type(&value)),
        ));
    };
    let known = create_fields();
    let mut errors = Vec::new();
    for (name, v) in &map {
        if !known.iter().any(|k| k == name) {
            errors.push(FieldError {
                field: crate::server::truncate(name, 100).to_owned(),
                message: format!("unknown field; the fields are: {}", known.join(", ")),
            });
        } else if name == "env" {
            check_env(v, &mut errors);
        } else if name == "shared_with" {
            check_shared_with(v, &mut errors);
        } else if let Err(e) = serde_json::from_value::<Option<String>>(v.clone()) {
            errors.push(FieldError {
                field: name.clone(),
                message: format!("expected a string: {e}"),
            });
        }
    }
    if map.contains_key("ide_version") && map.contains_key("vscode_version") {
        errors.push(FieldError {
            field: "vscode_version".into(),
            message: "give ide_version or its alias vscode_version, not both".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiErr::validation(errors));
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiErr::field("body", e.to_string()))
}

/// Decodes a [`PatchInstance`]: an object whose only field is `shared_with`.
pub fn patch_instance(value: Value) -> Result<PatchInstance, ApiErr> {
    let Value::Object(map) = value else {
        return Err(ApiErr::field(
            "body",
            format!("the body must be a JSON object, not {}", json_type(&value)),
        ));
    };
    let mut errors = Vec::new();
    for (name, v) in &map {
        if name == "shared_with" {
            check_shared_with(v, &mut errors);
        } else {
            errors.push(FieldError {
                field: crate::server::truncate(name, 100).to_owned(),
                message: "unknown field; the only field is shared_with".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(ApiErr::validation(errors));
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiErr::field("body", e.to_string()))
}

/// `shared_with`: null, or `{"users": [..strings], "groups": [..strings]}`.
fn check_shared_with(v: &Value, errors: &mut Vec<FieldError>) {
    if let Err(e) = serde_json::from_value::<Option<SharedWith>>(v.clone()) {
        errors.push(FieldError {
            field: "shared_with".into(),
            message: format!("expected {{\"users\": [user ids], \"groups\": [group names]}}: {e}"),
        });
    }
}

fn check_env(v: &Value, errors: &mut Vec<FieldError>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            let m: &Map<String, Value> = m;
            for (k, v) in m {
                if !v.is_string() {
                    errors.push(FieldError {
                        field: format!("env.{}", crate::server::truncate(k, 100)),
                        message: format!("expected a string value, not {}", json_type(v)),
                    });
                }
            }
        }
        other => errors.push(FieldError {
            field: "env".into(),
            message: format!(
                "expected an object of NAME: \"value\" strings, not {}",
                json_type(other)
            ),
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;
    use serde_json::json;

    use super::*;

    fn parts(content_type: Option<&str>, len: Option<usize>) -> Parts {
        let mut b = http::Request::builder()
            .method("POST")
            .uri("/api/instances");
        if let Some(t) = content_type {
            b = b.header(CONTENT_TYPE, t);
        }
        if let Some(n) = len {
            b = b.header(CONTENT_LENGTH, n);
        }
        b.body(()).expect("request").into_parts().0
    }

    async fn read(ct: Option<&str>, len: Option<usize>, body: &str) -> Result<Value, ApiErr> {
        let body = Full::new(Bytes::from(body.to_owned()));
        read_value(&parts(ct, len), body, 16).await
    }

    #[tokio::test]
    async fn content_type_size_and_syntax_have_their_statuses() {
        assert_eq!(read(None, None, "{}").await.expect_err("415").status(), 415);
        let e = read(Some("text/plain"), None, "{}").await.expect_err("415");
        assert_eq!(e.status(), 415);
        assert!(e.body().message.contains("text/plain"));
        assert_eq!(
            read(Some("application/json"), Some(17), "{}")
                .await
                .expect_err("declared too large")
                .status(),
            413
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(40));
        assert_eq!(
            read(Some("application/json"), None, &big)
                .await
                .expect_err("streamed too large")
                .status(),
            413
        );
        let e = read(Some("application/json"), None, "{\"a\":")
            .await
            .expect_err("malformed");
        assert_eq!(e.status(), 400);
        assert!(e.body().message.contains("line 1"), "{e:?}");
        assert_eq!(
            read(Some("application/json"), None, " ")
                .await
                .expect_err("empty")
                .status(),
            400
        );
        let ok = read(Some("Application/JSON; charset=utf-8"), None, "{\"a\":1}")
            .await
            .expect("ok");
        assert_eq!(ok, json!({"a": 1}));
        assert!(is_json("application/merge-patch+json"));
    }

    #[tokio::test]
    async fn a_key_given_twice_is_422_naming_it() {
        let e = read(Some("application/json"), None, r#"{"a":1,"a":2}"#)
            .await
            .expect_err("duplicate");
        assert_eq!(e.status(), 422);
        assert_eq!(e.body().fields[0].field, "a");
        assert!(e.body().fields[0].message.contains("more than once"));
    }

    #[test]
    fn wrong_shapes_name_their_fields() {
        let e = create_instance(json!({"reppo": "a/b", "cpu_limit": 2, "env": {"A": 1}}))
            .expect_err("422");
        assert_eq!(e.status(), 422);
        let fields: Vec<&str> = e.body().fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["cpu_limit", "env.A", "reppo"]);
        assert!(e.body().fields[0].message.contains("invalid type"), "{e:?}");
        let e = create_instance(json!([1])).expect_err("not an object");
        assert_eq!(e.status(), 422);
        assert_eq!(e.body().fields[0].field, "body");
        let e = create_instance(json!({"env": "A=1"})).expect_err("env string");
        assert_eq!(e.body().fields[0].field, "env");
        let e =
            create_instance(json!({"ide_version": "1", "vscode_version": "2"})).expect_err("both");
        assert_eq!(e.body().fields[0].field, "vscode_version");
    }

    #[test]
    fn good_bodies_decode_with_the_alias() {
        let req =
            create_instance(json!({"repo": "acme/hello", "vscode_version": "1.96.0", "env": null}))
                .expect("ok");
        assert_eq!(req.ide_version.as_deref(), Some("1.96.0"));
        assert_eq!(req.repo.as_deref(), Some("acme/hello"));
    }
}
