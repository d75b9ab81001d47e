//! The file API under `/_dcs/files/<path>`, rooted at the repository checkout:
//! listings, downloads, uploads and new folders. It never deletes or overwrites
//! anything, and no path can leave the checkout.
//!
//! - [`path`]: request path → validated segments → canonical path inside the root.
//! - [`listing`]: directory entries and their JSON form.
//! - [`page`]: the HTML file-manager page (shared with the `none` IDE).
//! - [`read`]: `GET`/`HEAD`: listings, redirects, downloads.
//! - [`range`]: validators (`ETag`, `Last-Modified`), conditional and range requests.
//! - [`send`]: a download's response (`200`, `206`, `304`, `412`, `416`), streamed.
//! - [`write`]: `PUT` uploads and `POST ?mkdir`.
//! - [`temp`]: the launcher's folder for upload temporaries, and the clean-up of
//!   those of launchers that died.

pub mod listing;
pub mod page;
pub mod path;
pub mod range;
pub mod read;
pub mod send;
pub mod temp;
pub mod write;

#[cfg(test)]
mod tests;

use http::header::{HeaderValue, ALLOW};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use crate::app::App;
use crate::body::Body;
use crate::error::{Error, Result};
use crate::pages;

/// Where the file API is served.
pub const PREFIX: &str = "/_dcs/files";

/// What the query string asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `?format=json`: answer listings (and errors) as JSON.
    pub json: bool,
    /// `?download`: send files as attachments.
    pub download: bool,
    /// `?mkdir` or `?op=mkdir`: a `POST` creates the directory.
    pub mkdir: bool,
    /// The raw query, kept for redirects.
    pub raw: Option<String>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut q = Self {
            raw: raw.filter(|r| !r.is_empty()).map(str::to_owned),
            ..Self::default()
        };
        for pair in raw.unwrap_or_default().split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode_str(v).decode_utf8_lossy();
            match (k, v.as_ref()) {
                ("format", "json") => q.json = true,
                ("download", _) => q.download = true,
                ("mkdir", _) | ("op", "mkdir") => q.mkdir = true,
                _ => {}
            }
        }
        q
    }
}

/// Serves one file-API request; `rest` is the raw path after `/_dcs/files`.
pub async fn handle(app: &App, req: Request<Incoming>, rest: &str) -> Response<Body> {
    let query = Query::parse(req.uri().query());
    let as_json = query.json || pages::wants_json(req.headers());
    match serve(app, req, rest, &query).await {
        Ok(res) => res,
        Err(err) => pages::rescue(&err, as_json),
    }
}

async fn serve(
    app: &App,
    req: Request<Incoming>,
    rest: &str,
    query: &Query,
) -> Result<Response<Body>> {
    if rest.is_empty() {
        return Ok(read::redirect("files/", query));
    }
    let rel = path::RelPath::parse(rest)?;
    let root = path::root(app.checkout_dir()).await?;
    let as_json = query.json || pages::wants_json(req.headers());
    let method = req.method().clone();
    let done =
        |status: StatusCode, what: &str| Ok(pages::message(status, what, &rel.display(), as_json));
    match method {
        Method::GET | Method::HEAD => {
            let notices = app.notices().list();
            let page = read::Page {
                repo: app.label(),
                notices: &notices,
            };
            let conditions = range::Conditions::of(req.headers());
            read::get(&root, &rel, query, as_json, &page, &conditions).await
        }
        Method::PUT => {
            refuse_cross_site(&req)?;
            let status = write::upload(&root, &rel, req.into_body(), app.upload_dir()).await?;
            done(status, "created")
        }
        Method::POST if query.mkdir => {
            refuse_cross_site(&req)?;
            let status = write::mkdir(&root, &rel).await?;
            done(status, "created")
        }
        Method::POST => Err(Error::BadRequest(
            "POST supports only ?mkdir (create this directory)".into(),
        )),
        _ => {
            let mut res = pages::message(
                StatusCode::METHOD_NOT_ALLOWED,
                "error",
                "the file API supports GET, HEAD, PUT (upload a new file) and POST ?mkdir; \
                 nothing is ever deleted or overwritten",
                as_json,
            );
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, PUT, POST"));
            Ok(res)
        }
    }
}

/// Writes from another site (a page the user happens to visit) are refused; browsers
/// mark them with `Sec-Fetch-Site: cross-site`.
fn refuse_cross_site(req: &Request<Incoming>) -> Result<()> {
    match req.headers().get("sec-fetch-site") {
        Some(v) if v == "cross-site" => Err(Error::Forbidden(
            "requests from other sites may not change workspace files".into(),
        )),
        _ => Ok(()),
    }
}
