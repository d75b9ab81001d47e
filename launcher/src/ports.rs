//! Port previews: `/ports/<n>/…` forwards HTTP and WebSocket to `127.0.0.1:<n>`
//! inside the workspace, with `/ports/<n>` stripped (through the proxy that is
//! `/github/<o>/<r>/ports/<n>/`). The proxy authenticated the owner already.
//!
//! `X-Forwarded-Prefix` is extended with `/ports/<n>`, so an app that honours it
//! builds links that stay inside the preview; a preview the proxy serves on a host of
//! its own ([`dcs_net::preview::ROOT_HEADER`]) is at that host's root and gets none.
//!
//! Every request sent to a preview is marked in `Via` ([`dcs_net::preview::mark`]),
//! and a marked request is refused ([`refuse_looped`]): a preview addressing this
//! launcher's own port (`/ports/<own>/ports/<own>/…` would nest without end), another
//! launcher or the proxy arrives marked, and the proxy and launchers turn it away.
//! The path grammar is [`dcs_net::preview`]'s, which the proxy reads as well.
//!
//! An app's redirect to its own address is put back under the preview
//! ([`own_address`]); a port nothing answers on yet gets a page that reloads itself
//! until it does ([`waiting`]).

pub mod own_address;
pub mod waiting;

use std::net::{Ipv4Addr, SocketAddr};

use http::header::{HeaderMap, HeaderValue, LOCATION};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::App;
use crate::body::{self, Body};
use crate::error::Error;
use crate::{forward, pages};

pub use dcs_net::preview::{Target, PREFIX};

/// Parses `rest`, the path after [`PREFIX`] (`/<n>` or `/<n>/…`), and the query.
pub fn parse(rest: &str, query: Option<&str>) -> Result<Target, Error> {
    dcs_net::preview::parse(rest, query).map_err(|e| Error::BadRequest(e.to_string()))
}

/// A 403 for a request that came through a preview (see the module docs), else
/// `None`. The launcher's front calls it before routing anything.
pub fn refuse_looped(headers: &HeaderMap) -> Option<Response<Body>> {
    dcs_net::preview::looped(headers).then(|| {
        let text = "this request came through a workspace's port preview (/ports/<n>/) and \
                    reached a workspace launcher; a preview cannot address a launcher or the \
                    proxy, only the apps running in its workspace";
        pages::message(
            StatusCode::FORBIDDEN,
            "error",
            text,
            pages::wants_json(headers),
        )
    })
}

/// Answers a request whose path starts with `/ports/`.
pub async fn handle(app: &App, mut req: Request<Incoming>, rest: &str) -> Response<Body> {
    if let Some(refused) = refuse_looped(req.headers()) {
        return refused;
    }
    let as_json = pages::wants_json(req.headers());
    let navigation = waiting::is_navigation(req.method(), req.headers());
    let target = parse(rest, req.uri().query());
    let (port, path) = match target {
        Ok(Target::Forward(port, path)) => (port, path),
        Ok(Target::AddSlash(port)) => return add_slash(port),
        Err(err) => return pages::rescue(&err, as_json),
    };
    let Ok(path) = path.parse::<PathAndQuery>() else {
        return pages::rescue(&Error::BadRequest("unusable preview path".into()), as_json);
    };
    let prefix = prepare(req.headers_mut(), port);
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match forward::forward(req, to, Some(path), app.drain_watch()).await {
        Ok(mut res) => {
            waiting::answered(port);
            own_address::relocate(res.headers_mut(), port, &prefix);
            res
        }
        Err(Error::BadGateway(why)) => waiting::not_answering(port, &why, as_json, navigation),
        Err(err) => pages::rescue(&err, as_json),
    }
}

/// The headers a preview app gets: `X-Forwarded-Prefix` extended with `/ports/<n>`
/// (removed for a preview at the root of its own host), the proxy's root flag removed,
/// and this hop marked in `Via`. Returns the preview's prefix (empty at a root).
fn prepare(headers: &mut HeaderMap, port: u16) -> String {
    let at_root = headers.remove(dcs_net::preview::ROOT_HEADER).is_some();
    let mut prefix = String::new();
    if at_root {
        headers.remove("x-forwarded-prefix");
    } else {
        let outer = headers
            .get("x-forwarded-prefix")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_end_matches('/');
        prefix = format!("{outer}{PREFIX}/{port}");
        if let Ok(v) = HeaderValue::from_str(&prefix) {
            headers.insert("x-forwarded-prefix", v);
        }
    }
    dcs_net::preview::mark(headers);
    prefix
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
