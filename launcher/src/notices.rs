//! Notices: things the user should see in whatever page they use, such as "this
//! checkout's `origin` was changed: updates are not fetched". Each [`Notice`] has an
//! id (setting a notice with the same id replaces it), a level, a text and optional
//! [`Action`]s (buttons; e.g. an idle-stop warning's "Keep working").
//!
//! They reach the user three ways, all from this module:
//! - `GET /_dcs/notices`: `{"notices": [...]}` ([`respond`]);
//! - the launcher's own pages render them as a banner ([`banner_html`]) and load
//!   `notice.js`;
//! - IDE documents (VS Code, the `none` IDE's page) get `notice.js` and the banner
//!   injected by the front ([`inject`]).
//!
//! `GET /_dcs/notice.js` ([`SCRIPT`]) keeps the banner current: it fetches the list
//! when the page loads and when the user returns to it (as background traffic,
//! `X-DCS-Background: 1`, which never counts as use), renders it with DOM calls only
//! (no `innerHTML`, so it works under Trusted Types), lets the user dismiss a notice
//! for the session and runs actions. It is served by the launcher, same-origin, so
//! an IDE's CSP (`script-src 'self'`) allows it.
//!
//! The same script carries the idle clock's page side (`notices/idle.js`): beacons of
//! human input (`POST /_dcs/activity`, throttled, sent only on input), a background
//! poll of `GET /_dcs/idle` that shows the warning before an idle stop ("This
//! workspace stops in N min…" with Keep working and Stop now), and, once the
//! workspace is stopped, an overlay with Resume that reloads the page (the
//! navigation wakes the workspace; see the proxy's `resume` module).

pub mod inject;

use std::sync::{Mutex, PoisonError};

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::{self, Body};
use crate::pages::{self, escape};

/// The path of the notices list.
pub const PATH: &str = "/_dcs/notices";
/// The path of the banner script.
pub const SCRIPT_PATH: &str = "/_dcs/notice.js";
/// The banner script, followed by the idle clock's page side.
pub const SCRIPT: &str = concat!(
    include_str!("notices/notice.js"),
    "\n",
    include_str!("notices/idle.js")
);

/// How much a notice matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// For information.
    Info,
    /// Something works less well than it should (e.g. updates are not fetched).
    Warning,
    /// Something is broken or about to be (e.g. the workspace is about to stop).
    Error,
}

/// A button on a notice: `method` to `href`, relative to the workspace root (e.g.
/// `POST _dcs/keep-alive`), after which the list is fetched again; or, with `open`,
/// `href` opened in a new tab (e.g. a log); or, with `reload`, the page reloaded
/// (the notice dismissed for the session first; `href` unused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The button's label.
    pub label: String,
    /// `GET` or `POST`.
    pub method: String,
    /// Where to send it, relative to the workspace root; never absolute.
    pub href: String,
    /// Opens `href` in a new tab (`GET`) instead of sending it in the background.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// Reloads the page instead (e.g. so the IDE loads new extensions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reload: bool,
}

impl Action {
    /// A button that sends `POST href` in the background.
    pub fn post(label: &str, href: &str) -> Self {
        Self {
            label: label.to_owned(),
            method: "POST".to_owned(),
            href: href.to_owned(),
            open: false,
            reload: false,
        }
    }

    /// A button that opens `href` in a new tab.
    pub fn open(label: &str, href: &str) -> Self {
        Self {
            label: label.to_owned(),
            method: "GET".to_owned(),
            href: href.to_owned(),
            open: true,
            reload: false,
        }
    }

    /// A button that reloads the page.
    pub fn reload(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            method: "GET".to_owned(),
            href: "./".to_owned(),
            open: false,
            reload: true,
        }
    }
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id: setting a notice with the same id replaces it.
    pub id: String,
    /// How much it matters.
    pub level: Level,
    /// What to tell the user (plain text).
    pub text: String,
    /// Buttons, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

impl Notice {
    /// A warning without actions.
    pub fn warning(id: &str, text: impl Into<String>) -> Self {
        Self::new(id, Level::Warning, text)
    }

    /// A notice of `level` without actions.
    pub fn new(id: &str, level: Level, text: impl Into<String>) -> Self {
        Self {
            id: id.to_owned(),
            level,
            text: text.into(),
            actions: Vec::new(),
        }
    }

    /// The notice with `action` added.
    pub fn with(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }
}

/// The id of the notice about the checkout (not fetched, origin changed).
pub const CHECKOUT: &str = "checkout";

/// The workspace's current notices, oldest first.
#[derive(Debug, Default)]
pub struct Notices(Mutex<Vec<Notice>>);

impl Notices {
    /// Sets `notice`, replacing one with the same id.
    pub fn set(&self, notice: Notice) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match list.iter_mut().find(|n| n.id == notice.id) {
            Some(slot) => *slot = notice,
            None => list.push(notice),
        }
    }

    /// Removes the notice `id`, if set.
    pub fn clear(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|n| n.id != id);
    }

    /// The notices, oldest first.
    pub fn list(&self) -> Vec<Notice> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `GET /_dcs/notices`.
pub fn respond(notices: &[Notice]) -> Response<Body> {
    pages::json(StatusCode::OK, &serde_json::json!({ "notices": notices }))
}

/// `GET /_dcs/notice.js`.
pub fn script() -> Response<Body> {
    let mut res = Response::new(body::full(SCRIPT));
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The relative URL from the page at `path` (as the launcher sees it, prefix
/// stripped) to the workspace root: `./` for `/` or `/x`, `../` for `/a/b`, …
pub fn root_from(path: &str) -> String {
    let depth = path.matches('/').count().saturating_sub(1);
    if depth == 0 {
        "./".to_owned()
    } else {
        "../".repeat(depth)
    }
}

/// The `<script>` tag that loads the banner script, for a page whose workspace root
/// is `root` (see [`root_from`]).
pub fn script_tag(root: &str) -> String {
    tag(root, None)
}

/// The tag for a document served by the IDE's run `run` (see
/// [`crate::ide::RunningIde::run`]): the idle poll answers the run answering now,
/// and a page of another run is told that it lost the IDE (`idle.js`).
pub fn ide_script_tag(root: &str, run: &str) -> String {
    tag(root, Some(run))
}

fn tag(root: &str, ide_run: Option<&str>) -> String {
    let run = ide_run.map_or_else(String::new, |r| format!(" data-ide-run=\"{}\"", escape(r)));
    format!(
        "<script src=\"{}\"{run} defer></script>",
        escape(&format!("{root}{}", &SCRIPT_PATH[1..]))
    )
}

/// The banner for `notices` as HTML (empty when there are none): the markup
/// `notice.js` renders too, so it can take it over.
pub fn banner_html(notices: &[Notice]) -> String {
    if notices.is_empty() {
        return String::new();
    }
    let mut html = String::from("<div id=\"dcs-notices\">");
    for n in notices {
        let level = match n.level {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        let role = if n.level == Level::Info {
            "status"
        } else {
            "alert"
        };
        html.push_str(&format!(
            "<div class=\"dcs-notice dcs-{level}\" role=\"{role}\" data-id=\"{}\">\
             <span class=\"dcs-notice-text\">{}</span></div>",
            escape(&n.id),
            escape(&n.text)
        ));
    }
    html.push_str("</div>");
    html
}

#[cfg(test)]
mod tests;
