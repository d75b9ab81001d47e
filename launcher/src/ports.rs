//! Port previews: `/ports/<n>/…` forwards HTTP and WebSocket to `127.0.0.1:<n>`
//! inside the workspace, with `/ports/<n>` stripped (through the proxy that is
//! `/github/<o>/<r>/ports/<n>/`). The proxy authenticated the owner already.
//!
//! `X-Forwarded-Prefix` is extended with `/ports/<n>`, so an app that honours it
//! builds links that stay inside the preview.

use std::net::{Ipv4Addr, SocketAddr};

use http::header::{HeaderValue, LOCATION};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::App;
use crate::body::{self, Body};
use crate::error::Error;
use crate::{forward, pages};

/// Where the previews live.
pub const PREFIX: &str = "/ports";

/// What a path under [`PREFIX`] asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `/ports/<n>` without the slash: redirect to `<n>/` (relative URLs need it).
    AddSlash(u16),
    /// Forward to port `.0` with path and query `.1`.
    Forward(u16, String),
}

/// Parses `rest`, the path after [`PREFIX`] (`/<n>` or `/<n>/…`), and the query.
pub fn parse(rest: &str, query: Option<&str>) -> Result<Target, Error> {
    let bad =
        || Error::BadRequest("a preview is /ports/<port>/ with a port from 1 to 65535".into());
    let rest = rest.strip_prefix('/').ok_or_else(bad)?;
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let valid = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| valid && *p != 0)
        .ok_or_else(bad)?;
    if path.is_empty() {
        return Ok(Target::AddSlash(port));
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(Target::Forward(port, format!("{path}{query}")))
}

/// Answers a request whose path starts with `/ports/`.
pub async fn handle(app: &App, mut req: Request<Incoming>, rest: &str) -> Response<Body> {
    let as_json = pages::wants_json(req.headers());
    let target = parse(rest, req.uri().query());
    let (port, path) = match target {
        Ok(Target::Forward(port, path)) => (port, path),
        Ok(Target::AddSlash(port)) => return add_slash(port),
        Err(err) => return pages::rescue(&err, as_json),
    };
    let Ok(path) = path.parse::<PathAndQuery>() else {
        return pages::rescue(&Error::BadRequest("unusable preview path".into()), as_json);
    };
    let prefix = req
        .headers()
        .get("x-forwarded-prefix")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned();
    if let Ok(v) = HeaderValue::from_str(&format!("{prefix}{PREFIX}/{port}")) {
        req.headers_mut().insert("x-forwarded-prefix", v);
    }
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match forward::forward(req, to, Some(path), app.drain_watch()).await {
        Ok(res) => res,
        Err(Error::BadGateway(why)) => {
            let text = format!("nothing answers on port {port} in the workspace ({why}); start your app and reload");
            pages::message(StatusCode::BAD_GATEWAY, "error", &text, as_json)
        }
        Err(err) => pages::rescue(&err, as_json),
    }
}

fn add_slash(port: u16) -> Response<Body> {
    let mut res = Response::new(body::empty());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&format!("{port}/")) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests;
