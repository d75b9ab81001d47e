//! The wire side of the fake API server: paths, query strings, label
//! selectors, `Status` bodies and watch-event lines as the Kubernetes API
//! spells them.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

/// The body of every answer: whole JSON documents, or a watch stream.
pub type FakeBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// What a request path addresses.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) group: String,
    pub(super) version: String,
    pub(super) namespace: String,
    pub(super) resource: String,
    pub(super) name: Option<String>,
}

impl Target {
    /// `services.serving.knative.dev`, `persistentvolumeclaims`.
    pub(super) fn kind_name(&self) -> String {
        match self.group.as_str() {
            "" => self.resource.clone(),
            g => format!("{}.{g}", self.resource),
        }
    }

    /// `v1` or `serving.knative.dev/v1`.
    pub(super) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

pub(super) fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (String::new(), (*v).to_owned(), rest),
        ["apis", g, v, rest @ ..] => ((*g).to_owned(), (*v).to_owned(), rest),
        _ => return None,
    };
    match rest {
        ["namespaces", ns, res] => Some(Target {
            group,
            version,
            namespace: (*ns).to_owned(),
            resource: (*res).to_owned(),
            name: None,
        }),
        ["namespaces", ns, res, name] => Some(Target {
            group,
            version,
            namespace: (*ns).to_owned(),
            resource: (*res).to_owned(),
            name: Some((*name).to_owned()),
        }),
        _ => None,
    }
}

/// Decodes a query string into its pairs.
pub fn form_pairs(q: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// Whether `labels` match a selector of `k=v`, `k==v`, `k!=v`, `k`, `!k` terms.
pub fn selector_matches(selector: &str, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(term.trim()).is_some()
        }
    })
}

/// A `Status` object as the API server writes it.
pub(super) fn status_object(code: StatusCode, reason: &str, message: &str, t: &Target) -> Value {
    let mut details = json!({"group": t.group, "kind": t.resource});
    if let Some(name) = &t.name {
        details["name"] = json!(name);
    }
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason,
        "details": details, "code": code.as_u16(),
    })
}

/// A failure answer with a `Status` body.
pub(super) fn status(
    code: StatusCode,
    reason: &str,
    message: String,
    t: &Target,
) -> Response<FakeBody> {
    respond(code, &status_object(code, reason, &message, t))
}

/// A JSON answer.
pub(super) fn respond(code: StatusCode, body: &Value) -> Response<FakeBody> {
    let full = Full::new(Bytes::from(body.to_string().into_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(full);
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// One line of a watch stream: `{"type": …, "object": …}` and a newline.
pub(super) fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// A `BOOKMARK` event at `version` for objects of `t`.
pub(super) fn bookmark_line(t: &Target, kind: &str, version: u64) -> Bytes {
    event_line(
        "BOOKMARK",
        &json!({"apiVersion": t.api_version(), "kind": kind,
                "metadata": {"resourceVersion": version.to_string()}}),
    )
}
