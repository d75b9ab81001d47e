//! Putting `notice.js` into the IDE's HTML documents, so its notices show in VS
//! Code too. Only top-level navigations are touched (`Sec-Fetch-Dest: document`,
//! or, from clients that do not send it, `Accept: text/html` on the IDE's root
//! page); those are asked of the IDE uncompressed (`Accept-Encoding: identity`),
//! and a `200 text/html` answer of at most [`LIMIT`] bytes gets the script tag
//! before `</head>` and its `Content-Length` fixed. Everything else streams as it
//! is, and so does a document that already loads the script (the launcher's own
//! pages) or that is compressed or too big anyway.

use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use http::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, BodyStream, StreamBody};
use hyper::body::Frame;

use super::SCRIPT_PATH;
use crate::body::{Body, BoxError};

/// Largest document edited; bigger ones pass unchanged.
pub const LIMIT: usize = 4 * 1024 * 1024;

/// Whether the request (method, path, headers) navigates to an HTML document that
/// should carry the notices.
pub fn wants(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if method != Method::GET {
        return false;
    }
    match headers.get("sec-fetch-dest") {
        Some(dest) => dest == "document",
        None => {
            path == "/"
                && headers
                    .get_all(ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains("text/html"))
        }
    }
}

/// Asks the IDE for the document uncompressed, so it can be edited.
pub fn prepare<B>(req: &mut Request<B>) {
    req.headers_mut()
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
}

/// `html` with `tag` before `</head>` (or before `<body`, or first), or `None` if it
/// already loads the notice script.
pub fn into_html(html: &[u8], tag: &str) -> Option<Vec<u8>> {
    let lower = html.to_ascii_lowercase();
    let find = |needle: &[u8]| lower.windows(needle.len()).position(|w| w == needle);
    if find(&SCRIPT_PATH.as_bytes()[1..]).is_some() {
        return None;
    }
    let at = find(b"</head>").or_else(|| find(b"<body")).unwrap_or(0);
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&html[at..]);
    Some(out)
}

/// `res` with `tag` injected if it is an editable HTML document; unchanged (and
/// still streaming) otherwise.
pub async fn response(res: Response<Body>, tag: &str) -> Response<Body> {
    if !editable(&res) {
        return res;
    }
    let (mut parts, mut body) = res.into_parts();
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    buf.extend_from_slice(&data);
                    if buf.len() > LIMIT {
                        // Too big to edit: send what was read, then the rest.
                        return Response::from_parts(parts, resume(buf.freeze(), body));
                    }
                }
                // Trailers: there is nothing to edit; keep the document as it is.
                Err(_) => return Response::from_parts(parts, resume(buf.freeze(), body)),
            },
            Some(Err(e)) => {
                let failed = stream::iter([Ok::<_, BoxError>(Frame::data(buf.freeze())), Err(e)]);
                return Response::from_parts(parts, StreamBody::new(failed).boxed_unsync());
            }
            None => break,
        }
    }
    let html = buf.freeze();
    let bytes = into_html(&html, tag).map_or(html, Bytes::from);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, crate::body::full(bytes))
}

fn editable(res: &Response<Body>) -> bool {
    let headers = res.headers();
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let plain = headers
        .get(CONTENT_ENCODING)
        .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"));
    res.status() == StatusCode::OK && html && plain
}

/// `head` followed by the rest of `body`.
fn resume(head: Bytes, body: Body) -> Body {
    let first = stream::iter([Ok::<_, BoxError>(Frame::data(head))]);
    StreamBody::new(first.chain(BodyStream::new(body))).boxed_unsync()
}

#[cfg(test)]
mod tests;
