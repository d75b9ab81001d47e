//! The main origin's side of a preview, `/…/ports/<n>/…` of a workspace the caller
//! was already allowed into: forwarded in a sandbox (path mode), or sent to the
//! preview's own host with a one-time ticket (subdomain mode).

use std::net::SocketAddr;

use http::header::{CACHE_CONTROL, HOST, LOCATION};
use http::uri::Authority;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use dcs_net::preview::{BadPort, Target as Preview, PREFIX};

use super::host;
use super::ticket::{self, Grant, Refusal, Who};
use super::{sandbox, STATE_PARAM, TICKET_PARAM};
use crate::auth::Identity;
use crate::body::{self, Body};
use crate::config::previews::PreviewDomain;
use crate::error::{Error, Result};
use crate::forward::{self, Shape, Target};
use crate::state::AppState;

/// Serves `target`, a request for the preview `preview` of a workspace `identity`
/// may open.
pub async fn main_origin(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: Target,
    preview: Result<Preview, BadPort>,
) -> Result<Response<Body>> {
    match (&state.previews.domain, preview) {
        (Some(domain), Ok(preview)) => {
            redirect(state, req, peer, identity, &target, domain, preview)
        }
        (_, preview) => {
            let port = preview.ok().map(|p| p.port());
            sandboxed(state, req, peer, identity, target, port).await
        }
    }
}

/// Path mode: the workspace's answer (or the proxy's error page) with the sandbox
/// policy added; the app's cookies stay under the preview's path.
async fn sandboxed(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: Target,
    port: Option<u16>,
) -> Result<Response<Body>> {
    let wants_html = target.asked.wants_html();
    let shape = Shape {
        preview_path: port.map(|n| format!("{}{PREFIX}/{n}", target.prefix)),
        preview_root: false,
    };
    let mut resp = match forward::exchange(state, req, peer, identity, target, shape).await {
        Ok(resp) => resp,
        Err(err) => crate::pages::rescue(&err, wants_html),
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        sandbox(resp.headers_mut());
    }
    Ok(resp)
}

/// Subdomain mode: `303` to `<scheme>://<n>-<name>.<domain>/<path>?…&dcs_preview_ticket=…`,
/// carrying a lead, or, when the preview host sent the browser here with its `state`
/// (`dcs_preview_state`, [`super::arrive`]), a ticket bound to it. The grant
/// remembers the access policy that allowed it (decided before this, in
/// [`forward::forward`]).
fn redirect(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: &Target,
    domain: &PreviewDomain,
    preview: Preview,
) -> Result<Response<Body>> {
    let port = preview.port();
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Err(Error::BadRequest(format!(
            "previews are served on their own host: open {}{PREFIX}/{port}/ in the browser (with GET) to be sent there",
            target.prefix
        )));
    }
    let (parts, _body) = req.into_parts();
    let https = crate::instances::secure_cookie(&state.api.cookie, &parts, peer);
    let scheme = if https { "https" } else { "http" };
    let main = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .ok_or_else(|| Error::BadRequest("the request has no usable Host header".into()))?;
    let label = host::label(port, &target.spec.key);
    let grant = Grant {
        host: label.clone(),
        key: target.spec.key.clone(),
        port,
        back: format!("{scheme}://{main}{}{PREFIX}/{port}", target.prefix),
        who: Who::of(identity),
        policy: state.policy.fingerprint().to_owned(),
    };
    let path = match preview {
        Preview::AddSlash(_) => "/".to_owned(),
        Preview::Forward(_, path) => path,
    };
    let (path, query) = dcs_net::query::split_target(&path);
    let (bound, kept) = dcs_net::query::take(query, STATE_PARAM);
    let (_, kept) = dcs_net::query::take(kept.as_deref(), TICKET_PARAM);
    let (keys, ttl) = (&state.previews.keys, state.previews.ticket_ttl);
    let token = match bound {
        None => keys.lead(&grant, ttl),
        Some(bound) if ticket::is_state(bound) => keys.ticket(&grant, ttl, bound),
        Some(_) => {
            return Err(Error::BadRequest(format!(
                "{STATE_PARAM} was not made by a preview host: open {}{PREFIX}/{port}/ again",
                target.prefix
            )))
        }
    }
    .map_err(refused)?;
    let location = format!(
        "{scheme}://{}{path}?{}{TICKET_PARAM}={token}",
        host::authority(&label, domain, main.port_u16()),
        kept.map(|q| format!("{q}&")).unwrap_or_default(),
    );
    see_other(&location, &[])
}

/// A `303` to `location` (never cached, never sent as a referrer), setting `cookies`.
pub(super) fn see_other(location: &str, cookies: &[String]) -> Result<Response<Body>> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let headers = resp.headers_mut();
    let location = HeaderValue::from_str(location)
        .map_err(|_| Error::BadRequest("unusable preview address".into()))?;
    headers.insert(LOCATION, location);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    for cookie in cookies {
        let cookie = HeaderValue::from_str(cookie)
            .map_err(|_| Error::BadRequest("unusable preview cookie".into()))?;
        headers.append(http::header::SET_COOKIE, cookie);
    }
    Ok(resp)
}

/// The error a refused ticket or cookie is answered with.
pub(super) fn refused(why: Refusal) -> Error {
    match why {
        Refusal::Busy => Error::TooManyRequests {
            message: why.to_string(),
            retry_after: std::time::Duration::from_secs(5),
        },
        Refusal::NoKey => Error::Runtime(why.to_string()),
        _ => Error::Forbidden(format!(
            "{why}: open the preview again from its workspace (…/ports/<port>/ on the IDE's address)"
        )),
    }
}
