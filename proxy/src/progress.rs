//! The live progress page: a browser navigation to a workspace that is not ready
//! gets, at once, a page that shows its start's real phases as they happen and moves
//! on to the workspace by itself once it is ready.
//!
//! Under every workspace's prefix the proxy answers two paths itself (the launcher
//! never sees them): [`PROGRESS_PATH`], the start's [`Progress`] as JSON (what the
//! page's script polls; a failure carries its reason and what to do), and
//! [`SCRIPT_PATH`], that script. Both are same-origin, so the page needs nothing
//! from anywhere else and works under the workspace's own auth (a `/github/` user,
//! an instance's cookie). Other clients (XHR, the IDE's own requests, scripts,
//! anything without `Sec-Fetch-Mode: navigate`) are held until the workspace is
//! ready, as before ([`crate::asked::Asked::is_navigation`]).
//!
//! The phases come from the runtime ([`crate::runtime::Runtime::progress`]: the
//! local launcher's `/_dcs/ready` report, the Knative Service's status); the outcome
//! of the start (a failure, a limit, a missing repository) from the activator, which
//! a [`board`] follower waits on. A start past `--start-timeout` keeps being followed.
//!
//! # Layout
//! - [`board`]: the starts progress pages follow, and how each ended.
//! - [`page`]: the HTML page, its script and the JSON answer.

pub mod board;
pub mod page;
pub mod push;

use std::time::Duration;

use dcs_model::api::{Progress, StartPhase};
use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::error::{Error, Result, StartFailure};
use crate::forward::Target;
use crate::runtime::{Status, WorkspaceSpec};
use crate::state::AppState;

/// Under a workspace's prefix: its start's progress as JSON.
pub const PROGRESS_PATH: &str = "/_dcs/progress";
/// Under a workspace's prefix: the progress page's script.
pub const SCRIPT_PATH: &str = "/_dcs/progress.js";

/// How long a navigation waits for a start to end before it gets the page: a start
/// that ends at once (a limit, a missing repository, a remembered failure, a
/// workspace that was running after all) answers as it always did.
const GRACE: Duration = Duration::from_millis(200);

/// What the runtime's bare [`Status`] says of a start.
pub fn of_status(status: &Status) -> Option<Progress> {
    Some(match status {
        Status::NotFound => return None,
        Status::Stopped => Progress::at(StartPhase::Stopped),
        Status::Starting => Progress::at(StartPhase::Starting),
        Status::Running => Progress::at(StartPhase::Ready),
        Status::Failed { reason } => Progress::failed(reason.clone(), RETRY_HINT),
    })
}

const RETRY_HINT: &str = "Reload the page to try again. If it keeps failing, give your \
     administrator the request id shown below: the proxy's log has the details.";

/// What to do about a start that failed with `err`.
pub fn hint(err: &Error) -> &'static str {
    match err {
        Error::StartFailed { kind, .. } => match kind {
            // Clone and fetch use the operator's git token alone (a user's own
            // credentials serve git inside the workspace, not the checkout), so only
            // the administrator can open a private repository to the server.
            StartFailure::NotFound => {
                "Check the repository's owner and name, and that it exists on the git \
                 server. A private repository opens only if the server's git token \
                 (set by your administrator) can read it."
            }
            StartFailure::Auth => {
                "The server's git token may not read this repository: ask your \
                 administrator to give it read access, then reload."
            }
            StartFailure::Refused => {
                "The workspace folder holds something that is not this repository; \
                 nothing was changed. Move it away, then reload."
            }
            StartFailure::Network => {
                "The git server could not be reached. Reload in a moment to try again."
            }
            StartFailure::Other => RETRY_HINT,
        },
        Error::NotFound(_) => "Check the address: the repository or instance does not exist.",
        Error::TooManyRequests { .. } => {
            "Wait until your other workspaces have started, then reload."
        }
        Error::Forbidden(_) => "Ask your administrator for access to this repository.",
        _ => RETRY_HINT,
    }
}

/// A start that failed with `err`, as progress.
pub fn failed(err: &Error) -> Progress {
    Progress::failed(err.to_string(), hint(err))
}

/// Before a request is forwarded to `target`: answers the progress paths, and gives
/// a browser navigation to a workspace that is not ready the progress page (and
/// begins its start). `None`: forward as usual.
pub async fn intercept(
    state: &AppState,
    req: &Request<Incoming>,
    target: &Target,
) -> Result<Option<Response<Body>>> {
    let path = dcs_net::query::split_target(&target.rest).0;
    match path {
        PROGRESS_PATH => return Ok(Some(page::json(&current(state, &target.spec).await?))),
        SCRIPT_PATH => return Ok(Some(page::script())),
        _ => {}
    }
    if req.method() != Method::GET || !target.asked.is_navigation() {
        return Ok(None);
    }
    let spec = &target.spec;
    if state.activator.status(&spec.key).await? == Status::Running {
        return Ok(None);
    }
    let mut ended = state.activator.board.follow(&state.activator, spec);
    match tokio::time::timeout(GRACE, board::outcome(&mut ended)).await {
        Ok(Ok(())) => Ok(None),
        Ok(Err(err)) => Err(err),
        Err(_) => {
            let progress = current(state, spec).await?;
            let containers = state.activator.runtime().applies_containers();
            Ok(Some(page::html(&target.prefix, &progress, containers)))
        }
    }
}

/// Where `spec`'s start is now. While a page follows it, a failure is the outcome of
/// the start it follows (never a stale one of an earlier attempt); a workspace whose
/// start is no longer followed (past the start timeout, a proxy restart) is followed
/// again, unless it was deleted or stopped meanwhile: a page never recreates or
/// restarts a workspace (a navigation does).
pub async fn current(state: &AppState, spec: &WorkspaceSpec) -> Result<Progress> {
    let key = &spec.key;
    let followed = state.activator.board.state(key);
    let following = matches!(followed, Some(board::Followed::Following));
    let status = state.activator.status(key).await?;
    if status == Status::Running {
        return Ok(Progress::at(StartPhase::Ready));
    }
    if let Some(err) = settled_failure(followed.as_ref(), &status) {
        return Ok(failed(err));
    }
    match status {
        // A start that failed may leave nothing behind before its follower hears.
        Status::NotFound if following => return Ok(Progress::at(StartPhase::Starting)),
        Status::NotFound => {
            return Ok(Progress::failed(
                "the workspace does not exist (it was deleted)",
                "Open its address again to make it anew, or create the instance again.",
            ))
        }
        // Stopped after the page's follower gave up (the start timeout): the stop
        // stands, as it does for a stop while the page follows.
        Status::Stopped if !following => return Ok(failed(&Error::Cancelled)),
        _ => {}
    }
    if !following {
        drop(state.activator.board.follow(&state.activator, spec));
    }
    let progress = state.activator.runtime().progress(key).await?;
    Ok(match progress {
        // A failure while it is starting is this attempt's (its launcher said so).
        Some(p) if p.phase == StartPhase::Failed && status == Status::Starting => p,
        Some(p) if !matches!(p.phase, StartPhase::Failed | StartPhase::Stopped) => p,
        // An earlier attempt's failure, or not begun yet: the follower decides.
        _ => Progress::at(StartPhase::Starting),
    })
}

/// The failure a followed start ended with, unless it is stale: a start timeout is
/// no failure (the start goes on), and a workspace starting again (an API create,
/// another tab) is followed anew.
fn settled_failure<'a>(
    followed: Option<&'a board::Followed>,
    status: &Status,
) -> Option<&'a Error> {
    match followed {
        Some(board::Followed::Ended(Err(err)))
            if !matches!(err, Error::StartTimeout { .. })
                && !matches!(status, Status::Starting | Status::Running) =>
        {
            Some(err)
        }
        _ => None,
    }
}

/// The progress `GET /api/status` shows for `key` in `status`: the runtime's phases
/// while it starts (nothing is begun here), the outcome a page followed, or none.
pub async fn for_api(
    state: &AppState,
    key: &dcs_model::WorkspaceKey,
    status: &Status,
) -> Option<Progress> {
    if let Some(err) = settled_failure(state.activator.board.state(key).as_ref(), status) {
        return Some(failed(err));
    }
    match status {
        Status::Running => Some(Progress::at(StartPhase::Ready)),
        Status::NotFound => None,
        _ => match state.activator.runtime().progress(key).await {
            Ok(Some(p)) => Some(p),
            Ok(None) => of_status(status),
            Err(err) => {
                tracing::debug!(workspace = %key, %err, "no progress");
                of_status(status)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_followed_failure_counts_until_the_workspace_starts_again() {
        let refused = board::Followed::Ended(Err(Error::StartFailed {
            kind: StartFailure::Refused,
            message: "not a git repository".into(),
        }));
        let failed_status = Status::Failed { reason: "x".into() };
        assert!(settled_failure(Some(&refused), &failed_status).is_some());
        assert!(settled_failure(Some(&refused), &Status::NotFound).is_some());
        assert!(
            settled_failure(Some(&refused), &Status::Starting).is_none(),
            "started again elsewhere"
        );
        let timeout = board::Followed::Ended(Err(Error::StartTimeout {
            after: Duration::from_secs(3),
        }));
        assert!(settled_failure(Some(&timeout), &Status::Stopped).is_none());
        assert!(settled_failure(Some(&board::Followed::Following), &Status::NotFound).is_none());
    }

    #[test]
    fn only_a_browsers_navigation_gets_the_page() {
        let mut h = http::HeaderMap::new();
        h.insert("accept", "text/html".parse().expect("value"));
        let is_navigation = |h: &http::HeaderMap| crate::asked::Asked::of(h).is_navigation();
        assert!(!is_navigation(&h), "curl asking for HTML is held");
        h.insert("sec-fetch-mode", "navigate".parse().expect("value"));
        assert!(is_navigation(&h));
        h.insert("accept", "application/json".parse().expect("value"));
        assert!(!is_navigation(&h));
    }

    #[test]
    fn each_failure_says_what_to_do() {
        let refused = Error::StartFailed {
            kind: StartFailure::Refused,
            message: "m".into(),
        };
        assert!(hint(&refused).contains("Move it away"));
        // The checkout uses the operator's token only: a user's own credential
        // (`dcs credentials`) would not help, so nothing tells them to add one.
        for kind in [StartFailure::Auth, StartFailure::NotFound] {
            let words = hint(&Error::StartFailed {
                kind,
                message: "m".into(),
            });
            assert!(words.contains("administrator"), "{words}");
            assert!(!words.contains("credentials"), "{words}");
        }
        let p = failed(&refused);
        assert_eq!(
            (p.phase, p.reason.as_deref()),
            (StartPhase::Failed, Some("m"))
        );
        assert_eq!(of_status(&Status::NotFound), None);
        assert_eq!(
            of_status(&Status::Running).map(|p| p.phase),
            Some(StartPhase::Ready)
        );
    }
}
