//! The wire side of the fake API server: paths, query strings, label
//! selectors and `Status` bodies as the Kubernetes API spells them.

use std::collections::BTreeMap;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{json, Value};

/// What a request path addresses.
pub(super) struct Target {
    pub(super) group: String,
    pub(super) version: String,
    pub(super) namespace: String,
    pub(super) resource: String,
    pub(super) name: Option<String>,
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

pub(super) fn query(req: &Request<Body>) -> BTreeMap<String, String> {
    let q = req.uri().query().unwrap_or_default();
    form_pairs(q)
}

/// Decodes a query string into its pairs.
pub fn form_pairs(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
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

pub(super) fn status(
    code: StatusCode,
    reason: &str,
    message: String,
    t: &Target,
) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason,
        "details": {"name": t.name, "group": t.group, "kind": t.resource},
        "code": code.as_u16(),
    });
    respond(code, &body)
}

pub(super) fn respond(code: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string().into_bytes()));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
