//! The `none` IDE: no editor, just a file manager and a web terminal. `GET /` shows
//! the repository root with upload and new-folder controls and a terminal panel
//! ([`crate::terminal`]) (the page of [`crate::files::page`], its links
//! pointing into `_dcs/files/`), under the workspace's notices when the front
//! passes them ([`PageNotices`]); every other path is a 404 page.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::{Ide, IdeContext, RunningIde};
use crate::body::Body;
use crate::error::Result;
use crate::files::{listing, page, path};
use crate::front::PageNotices;
use crate::pages;
use crate::supervise::Ending;

/// The `DCS_IDE` name.
pub const KIND: &str = "none";

/// The headless IDE kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneIde;

#[async_trait]
impl Ide for NoneIde {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn start(&self, ctx: &IdeContext) -> Result<Box<dyn RunningIde>> {
        Ok(Box::new(RunningNone {
            repo: ctx.label.clone(),
            checkout_dir: ctx.checkout_dir.clone(),
        }))
    }
}

/// A "running" `none` IDE: nothing runs; it renders pages on request.
#[derive(Debug)]
struct RunningNone {
    repo: String,
    checkout_dir: PathBuf,
}

impl RunningNone {
    async fn root_page(&self, notices: Option<&PageNotices>) -> Result<Response<Body>> {
        let root = path::root(&self.checkout_dir).await?;
        let listing = listing::read_dir(&root, "/").await?;
        let chrome = page::Chrome {
            repo: &self.repo,
            shown: "/",
            prefix: "_dcs/files/",
            parent_link: false,
            notices: notices.map(|n| (n.0.as_slice(), "./")),
        };
        let page = crate::terminal::panel::add_to(&page::render(&chrome, &listing));
        Ok(pages::html(StatusCode::OK, page))
    }
}

#[async_trait]
impl RunningIde for RunningNone {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let as_json = pages::wants_json(req.headers());
        let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
        if req.uri().path() == "/" && is_read {
            return match self.root_page(req.extensions().get::<PageNotices>()).await {
                Ok(res) => res,
                Err(err) => pages::rescue(&err, as_json),
            };
        }
        let text = "this workspace runs without an IDE: only the file manager at ./ exists";
        pages::message(StatusCode::NOT_FOUND, "error", text, as_json)
    }

    async fn healthy(&self) -> bool {
        true
    }

    async fn stop(&self, _grace: Duration) -> Ending {
        Ending::default()
    }
}
