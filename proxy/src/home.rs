//! The home page at `/`: the signed-in person's workspaces (repository workspaces
//! and API instances, with their state; Open, Stop, Delete) and a box to open a
//! repository by name or by a pasted GitHub link.
//!
//! The page itself is the same for everyone but for the name it greets; its script
//! ([`SCRIPT_PATH`], same origin) lists the workspaces from `GET /api/instances` (for
//! members of an admin group, as `GET /api/me` says, everyone's on request:
//! `?all=true`, with their owners, the others' without an Open link) and
//! acts through `POST /api/instances/{id}/stop` (the warning's Stop now) and
//! `DELETE /api/instances/{id}`. So who sees and may do what is decided where the
//! API decides it, and the edge's origin check covers the actions as
//! any other state-changing request; nothing here decides access.
//!
//! The box is a plain form: `GET /?repo=<link>` answers `303` to
//! `/github/<owner>/<repo>/` ([`RepoRef::from_link`]), or the page again, `400`,
//! with the link kept in the box and why it was refused.
//!
//! Where people sign in (every `--auth` but `none`), the page has a Sign out link
//! to the outpost's sign-out (through this proxy with `authentik`, through the
//! ingress's route to the outpost with `trusted-headers`); when the sign-in expires
//! while the page is open, its script says so, with a link that signs in again.

use std::net::SocketAddr;

use dcs_model::RepoRef;
use dcs_net::escape::html as esc;
use http::header::{ALLOW, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::auth::authentik::SIGN_OUT_PATH;
use crate::auth::Identity;
use crate::body::Body;
use crate::error::Result;
use crate::state::AppState;

/// Where the page's script is served.
pub const SCRIPT_PATH: &str = "/_dcs/home.js";

/// The page's script.
const SCRIPT: &str = include_str!("home/script.js");

/// What the page may load and where its form and script may go: its own origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /` (and `HEAD`): the page, or where the box's link leads.
pub async fn serve(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>> {
    let (parts, _body) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut resp = crate::pages::page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "the home page is only read (GET)",
            crate::pages::wants_html(&parts.headers),
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(resp);
    }
    let identity = state.auth.authenticate(&parts, peer).await?;
    let who = Who {
        identity: &identity,
        signs_out: signs_out(state),
    };
    let link = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "repo")
            .map(|(_, value)| value.into_owned())
    });
    Ok(match link {
        None => page(StatusCode::OK, &who, None),
        Some(link) => match RepoRef::from_link_at(&link, &state.links) {
            Ok(repo) => see_other(&format!(
                "{}/{}/",
                crate::route::GITHUB_PREFIX,
                repo.as_str()
            )),
            Err(err) => page(
                StatusCode::BAD_REQUEST,
                &who,
                Some((&link, &err.to_string())),
            ),
        },
    })
}

/// The script.
pub fn script() -> Response<Body> {
    crate::pages::own(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_owned(),
    )
}

fn see_other(location: &str) -> Response<Body> {
    let mut resp = crate::pages::own(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        String::new(),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// Whether people sign in here, and so may sign out: every auth mode but `none`
/// (the one that guards the served hosts, [`crate::edge::Site::guard_host`]).
fn signs_out(state: &AppState) -> bool {
    !state.edge.site.guard_host
}

/// Who the page is for.
struct Who<'a> {
    identity: &'a Identity,
    /// Whether it offers Sign out (see [`signs_out`]).
    signs_out: bool,
}

/// The page for `who`; `refused` is a link the box refused and why.
fn page(status: StatusCode, who: &Who<'_>, refused: Option<(&str, &str)>) -> Response<Body> {
    let (value, problem) = match refused {
        Some((link, why)) => (
            esc(link),
            format!(
                "<p id=refused role=alert>Cannot open that: {}</p>",
                esc(why)
            ),
        ),
        None => (String::new(), String::new()),
    };
    let body = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <title>Your workspaces · devcontainer-serverless</title>\
         <meta name=viewport content=\"width=device-width\">\
         <style>body{{font:16px system-ui,sans-serif;max-width:48em;margin:3em auto;padding:0 1em;color:#222}}\
         h1{{font-size:1.4em}}form{{display:flex;gap:.5em;margin:1em 0 2em}}\
         input[name=repo]{{flex:1;font:inherit;padding:.3em .5em}}button{{font:inherit;cursor:pointer}}\
         table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.4em .5em;border-bottom:1px solid #ddd}}\
         td.actions{{text-align:right;white-space:nowrap}}td.actions button{{margin-left:.4em}}\
         .state-running{{color:#1a7f37}}.state-failed{{color:#c33}}.state-starting{{color:#9a6700}}\
         #refused,#failed{{border-left:4px solid #c33;padding:.2em 1em;background:#fdf3f3}}\
         small{{color:#666}}</style>\
         <script src=\"{script}\" defer></script></head>\
         <body><h1>Your workspaces</h1>\
         <p>Signed in as <strong id=user>{user}</strong>.{sign_out}\
         <label id=everyone-box hidden> <input type=checkbox id=everyone> Everyone's workspaces</label></p>\
         <form method=get action=\"/\"><label for=repo hidden>Repository</label>\
         <input id=repo name=repo required value=\"{value}\" autocomplete=off spellcheck=false \
         placeholder=\"owner/repo or a GitHub link\"><button type=submit>Open</button></form>\
         {problem}\
         <p id=failed role=alert hidden></p>\
         <table id=workspaces hidden><thead><tr><th>Workspace</th><th id=owner-head hidden>Owner</th>\
         <th>State</th><th></th></tr></thead>\
         <tbody id=rows></tbody></table>\
         <p id=empty hidden>No workspaces yet: open a repository above.</p>\
         <noscript><p>The list needs JavaScript; <code>dcs list</code> shows it too.</p></noscript>\
         <p><small>Stop ends a workspace now (its files are kept; opening it starts it again). \
         Delete forgets it: an API instance's link stops working; its files are kept. \
         devcontainer-serverless</small></p>\
         </body></html>",
        script = SCRIPT_PATH,
        user = esc(&who.identity.username),
        sign_out = if who.signs_out {
            format!(" <a id=sign-out href=\"{SIGN_OUT_PATH}\">Sign out</a>")
        } else {
            String::new()
        },
    );
    let mut resp = crate::pages::own(status, "text/html; charset=utf-8", body);
    resp.headers_mut()
        .insert("content-security-policy", HeaderValue::from_static(CSP));
    resp
}

#[cfg(test)]
mod tests;
