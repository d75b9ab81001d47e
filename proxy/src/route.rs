//! Parsing a request path into a [`Route`]. Pure; fuzzed.
//!
//! `/github/<owner>/<repo>/<rest>` selects the caller's workspace for that repo; the
//! prefix `/github/<owner>/<repo>` is stripped here, in one place, and `<rest>` is
//! forwarded still percent-encoded. Dot segments and encoded NULs are refused
//! anywhere in the path, so no path can mean something other than what it says.
//! What a thread last made of a workspace's prefix is remembered ([`memo`]). A
//! GitHub page's address pasted after a workspace's is told apart here
//! ([`is_github_page`]).

use std::borrow::Cow;

use dcs_model::{InstanceId, RepoRef};
use percent_encoding::percent_decode_str;

use crate::error::Error;

/// The prefix under which repository workspaces are served.
pub const GITHUB_PREFIX: &str = "/github";
/// The prefix of the management API (`/api` and everything under it).
pub const API_PREFIX: &str = "/api";
/// The prefix under which API instances are served (token-gated).
pub const INSTANCES_PREFIX: &str = "/instances";
/// The prefix of Authentik's outpost endpoints (sign-in start, callback, sign-out).
pub const OUTPOST_PREFIX: &str = "/outpost.goauthentik.io";

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Liveness: the process serves requests.
    Healthz,
    /// Readiness: the runtime is usable.
    Readyz,
    /// Prometheus metrics.
    Metrics,
    /// Send the client to the canonical form of the URL (`Location` value).
    Redirect(String),
    /// `/`: the signed-in person's workspaces ([`crate::home`]).
    Home,
    /// The home page's script.
    HomeScript,
    /// `/outpost.goauthentik.io/…`: passed to the Authentik outpost, unauthenticated
    /// (only in `--auth authentik`; a 404 otherwise).
    Outpost,
    /// A request for the caller's workspace of `repo`.
    Workspace {
        /// The repository.
        repo: RepoRef,
        /// The stripped prefix, e.g. `/github/acme/hello`.
        prefix: String,
        /// The rest of the path, starting with `/`, still percent-encoded, with query.
        rest: String,
    },
    /// `/api` or `/api/…`: the management API (its own route table, JSON only).
    Api,
    /// `/instances/<id>[/<rest>]`: an API instance, opened with its access token.
    Instance {
        /// The instance.
        id: InstanceId,
        /// The stripped prefix, `/instances/<id>`.
        prefix: String,
        /// The rest of the path after the prefix, starting with `/`, still
        /// percent-encoded, without the query; `None` for the bare `/instances/<id>`.
        rest: Option<String>,
        /// The query, if any (may hold `tkn`).
        query: Option<String>,
    },
    /// `/_dcs/hop/progress/<name>`: a Knative launcher pushing its start's progress
    /// ([`crate::progress::push`]); authenticated by the workspace's hop credential only.
    ProgressPush {
        /// The workspace's name, as sent (one path segment, not empty).
        name: String,
    },
    /// Nothing lives here.
    NotFound,
}

/// Whether `path` is under the management API (errors there are JSON).
pub fn is_api(path: &str) -> bool {
    path.strip_prefix(API_PREFIX)
        .is_some_and(|after| after.is_empty() || after.starts_with('/'))
}

/// Parses the path and query of a request target.
pub fn parse(path: &str, query: Option<&str>) -> Result<Route, Error> {
    check_segments(path)?;
    match path {
        "/healthz" => return Ok(Route::Healthz),
        "/readyz" => return Ok(Route::Readyz),
        "/metrics" => return Ok(Route::Metrics),
        "/" => return Ok(Route::Home),
        crate::home::SCRIPT_PATH => return Ok(Route::HomeScript),
        _ => {}
    }
    if let Some(after) = path.strip_prefix(OUTPOST_PREFIX) {
        if after.is_empty() || after.starts_with('/') {
            return Ok(Route::Outpost);
        }
    }
    if is_api(path) {
        return Ok(Route::Api);
    }
    if path.starts_with(crate::progress::push::PATH_PREFIX) {
        return Ok(match crate::progress::push::name_in(path) {
            Some(name) => Route::ProgressPush {
                name: name.to_owned(),
            },
            None => Route::NotFound,
        });
    }
    if let Some(after) = path.strip_prefix(INSTANCES_PREFIX) {
        if after.is_empty() || after.starts_with('/') {
            return instance(after, query);
        }
    }
    let Some(after) = path.strip_prefix(GITHUB_PREFIX) else {
        return Ok(Route::NotFound);
    };
    if !(after.is_empty() || after.starts_with('/')) {
        return Ok(Route::NotFound); // e.g. /githubx
    }
    let query_suffix = query.map(|q| ["?", q].concat()).unwrap_or_default();
    // The same `/<owner>/<repo>/` as this thread's last request: as parsed then.
    if let Some((repo, prefix, rest)) = memo::recall(after) {
        let rest = ["/", rest, &query_suffix].concat();
        return Ok(Route::Workspace { repo, prefix, rest });
    }
    let mut parts = after.splitn(4, '/').skip(1); // "" before the first '/'
    let owner = parts.next().unwrap_or("");
    let repo = parts.next().unwrap_or("");
    let rest = parts.next();
    if owner.is_empty() {
        return Err(Error::BadRequest("expected /github/<owner>/<repo>/".into()));
    }
    if repo.is_empty() {
        return Err(Error::BadRequest(format!(
            "missing repository name: expected /github/{}/<repo>/",
            dcs_net::escape::html(owner)
        )));
    }
    let repo = RepoRef::new(&decode(owner)?, &decode(repo)?)
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    // Joined, not `format!`ed: this runs for every request to a workspace.
    let prefix = [GITHUB_PREFIX, "/", repo.as_str()].concat();
    let canonical = path
        .strip_prefix(prefix.as_str())
        .is_some_and(|r| r.starts_with('/'));
    match rest {
        // `/github/o/r` (or a non-canonical spelling such as `r.git`): redirect so the
        // IDE's relative URLs resolve under the prefix.
        None => Ok(Route::Redirect(format!("{prefix}/{query_suffix}"))),
        Some(rest) if !canonical => Ok(Route::Redirect(format!("{prefix}/{rest}{query_suffix}"))),
        Some(rest) => {
            memo::remember(&after[..after.len() - rest.len()], &repo, &prefix);
            Ok(Route::Workspace {
                repo,
                prefix,
                rest: ["/", rest, &query_suffix].concat(),
            })
        }
    }
}

/// The first path segments of a repository's pages on GitHub (`/tree/main`,
/// `/blob/main/README.md`, `/pull/12`, `/issues`, `/commit/<sha>`, …): an IDE never
/// serves a page under these names.
const GITHUB_PAGES: [&str; 10] = [
    "tree", "blob", "pull", "pulls", "issues", "commit", "commits", "actions", "releases", "wiki",
];

/// Whether `rest` (a workspace route's, query included) is the rest of a
/// repository page's address on GitHub, pasted after `/github/<owner>/<repo>`
/// (`/tree/main`, `/pull/12`, `/issues?q=…`): a person's navigation to it is sent to
/// the workspace itself ([`crate::server`]), and anything else is passed on as it is.
pub fn is_github_page(rest: &str) -> bool {
    let path = dcs_net::query::split_target(rest).0;
    let first = path
        .strip_prefix('/')
        .and_then(|p| p.split('/').next())
        .unwrap_or_default();
    GITHUB_PAGES.contains(&first)
}

/// `/instances` + `after`: `/<id>` or `/<id>/<rest>`.
fn instance(after: &str, query: Option<&str>) -> Result<Route, Error> {
    let mut parts = after.splitn(3, '/').skip(1);
    let id = parts.next().unwrap_or("");
    if id.is_empty() {
        return Ok(Route::NotFound);
    }
    // Ids are DNS labels: any other spelling (encoded, upper case) names nothing.
    let Ok(id) = InstanceId::parse(id) else {
        return Ok(Route::NotFound);
    };
    let prefix = format!("{INSTANCES_PREFIX}/{id}");
    Ok(Route::Instance {
        rest: parts.next().map(|rest| format!("/{rest}")),
        id,
        prefix,
        query: query.map(str::to_owned),
    })
}

/// Refuses dot segments (raw or encoded) and NULs (raw or encoded) anywhere in the
/// path. Runs for every request: a segment without `%` is compared as it is, and
/// only one with `%` is decoded (without allocating).
fn check_segments(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') {
        return Err(Error::BadRequest("the path must start with '/'".into()));
    }
    // Nearly every path (every request's): nothing encoded, no NUL, and no segment
    // that begins with a dot (each segment follows a '/'), so none to look at.
    let bytes = path.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == 0) && !path.contains("/.") {
        return Ok(());
    }
    for segment in bytes.split(|&b| b == b'/') {
        let (nul, dots) = if segment.contains(&b'%') {
            let (mut nul, mut all_dots, mut len) = (false, true, 0usize);
            for b in percent_encoding::percent_decode(segment) {
                nul |= b == 0;
                all_dots &= b == b'.';
                len += 1;
            }
            (nul, all_dots && (1..=2).contains(&len))
        } else {
            (segment.contains(&0), segment == b"." || segment == b"..")
        };
        if nul {
            return Err(Error::BadRequest("the path contains a NUL byte".into()));
        }
        if dots {
            return Err(Error::BadRequest(
                "the path contains a '.' or '..' segment".into(),
            ));
        }
    }
    Ok(())
}

/// Percent-decodes one segment into UTF-8.
/// Borrowed when there is nothing to decode (as in nearly every request).
fn decode(segment: &str) -> Result<Cow<'_, str>, Error> {
    percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| Error::BadRequest("the path is not valid UTF-8 once decoded".into()))
}

mod memo;
#[cfg(test)]
mod tests;
