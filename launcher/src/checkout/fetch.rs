//! Fetching into an existing checkout, and deciding whether to. The checkout is the
//! user's: if its `origin` no longer is the clone URL (renamed, re-pointed or
//! removed by the user, or the operator changed the git base), nothing is fetched
//! and the workspace opens as it is, with a warning that says why and the one git
//! command that makes updates flow again. Nothing is refused, reset or rewritten.
//!
//! [`complete`] fetches the rest of a shallow checkout's history (after the first
//! open cloned only the last commit): objects and `refs/remotes/origin/*` only, so the
//! user's working tree, index and `HEAD` are untouched whatever they did meanwhile.
//!
//! Both fetch `origin`'s configured refspecs, and nothing while one of them would
//! update anything but remote-tracking refs and tags (a refspec into `refs/heads/`):
//! libgit2 would move the checked-out branch under the user (git refuses to;
//! libgit2 does not check), leaving their commits reachable from the reflog alone.
//! That checkout is used as it is, with a warning naming the refspec.

use std::cell::RefCell;

use git2::Repository;
use tracing::{info, warn};

use super::classify::{classify, redact_userinfo};
use super::credentials::Secret;
use super::progress::{Op, Progress};
use super::{fetch_options, subject, Job, Outcome};
use crate::error::Result;

/// Fetches `origin` of `repo` (the checkout of `job`) with its configured refspecs
/// only, which update nothing but `refs/remotes/origin/*`. A failed fetch, or an
/// `origin` that is not the clone URL, is a warning: the checkout is used as it is.
pub fn existing(job: &Job, repo: &Repository, token: Option<&Secret>) -> Result<Outcome> {
    let url = job.url();
    let Some(mut origin) = ours(repo, &url) else {
        let warning = not_ours_warning(job, repo, &url);
        warn!(target = %job.target.display(), %warning, "not fetching");
        return Ok(Outcome::UsedAsIs { warning });
    };
    if let Some(refspec) = moving_refspec(&origin) {
        let warning = moving_warning(job, &refspec);
        warn!(target = %job.target.display(), %warning, "not fetching");
        return Ok(Outcome::UsedAsIs { warning });
    }
    let shown = job.target.display();
    info!(url = %redact_userinfo(&url), target = %shown, "fetching into the existing checkout");
    let progress = RefCell::new(Progress::new(Op::Fetch, job.observer.clone()));
    let mut options = fetch_options(job, token, &progress);
    // No refspecs: origin's configured ones (checked above).
    match origin.fetch::<&str>(&[], Some(&mut options), None) {
        Ok(()) => {
            progress.borrow().finish();
            info!(target = %shown, "fetched");
            Ok(Outcome::Fetched)
        }
        Err(e) => {
            let error = classify(&e, &subject(job, token));
            warn!(%error, "fetch failed; using the existing checkout as it is");
            Ok(Outcome::UsedAsIs {
                warning: could_not_fetch(&error.to_string()),
            })
        }
    }
}

/// `git fetch --unshallow` in libgit2's terms.
const UNSHALLOW: i32 = i32::MAX;

/// Fetches the rest of the history of a shallow `repo` (the checkout of `job`) from
/// `origin`, with its configured refspecs; a complete `repo` is fetched as
/// [`existing`] does. An `origin` that is not the clone URL is left alone.
pub fn complete(job: &Job, repo: &Repository, token: Option<&Secret>) -> Result<Outcome> {
    if !repo.is_shallow() {
        return existing(job, repo, token);
    }
    let url = job.url();
    let Some(mut origin) = ours(repo, &url) else {
        let warning = not_ours_warning(job, repo, &url);
        warn!(target = %job.target.display(), %warning, "not completing the history");
        return Ok(Outcome::UsedAsIs { warning });
    };
    if let Some(refspec) = moving_refspec(&origin) {
        let warning = moving_warning(job, &refspec);
        warn!(target = %job.target.display(), %warning, "not completing the history");
        return Ok(Outcome::UsedAsIs { warning });
    }
    let shown = job.target.display();
    info!(url = %redact_userinfo(&url), target = %shown, "fetching the rest of the history");
    let progress = RefCell::new(Progress::new(Op::Fetch, job.observer.clone()));
    let mut options = fetch_options(job, token, &progress);
    options.depth(UNSHALLOW);
    match origin.fetch::<&str>(&[], Some(&mut options), None) {
        Ok(()) => {
            progress.borrow().finish();
            info!(target = %shown, "history complete");
            Ok(Outcome::Fetched)
        }
        Err(e) => {
            let error = classify(&e, &subject(job, token));
            warn!(%error, "fetching the rest of the history failed; the checkout stays shallow");
            Ok(Outcome::UsedAsIs {
                warning: could_not_fetch(&error.to_string()),
            })
        }
    }
}

/// The warning of a fetch that failed or was given up, `why` saying how.
pub fn could_not_fetch(why: &str) -> String {
    format!("could not fetch updates ({why}); the existing checkout is used as it is")
}

/// A refspec configured on `origin` whose destination is neither a remote-tracking
/// ref nor a tag (`+refs/heads/*:refs/heads/*`): fetching would move local refs.
fn moving_refspec(origin: &git2::Remote<'_>) -> Option<String> {
    let specs = origin.fetch_refspecs().ok()?;
    let moving = specs.iter().flatten().find(|spec| {
        let dst = spec.rsplit_once(':').map_or("", |(_, dst)| dst);
        !dst.is_empty() && !dst.starts_with("refs/remotes/") && !dst.starts_with("refs/tags/")
    });
    moving.map(str::to_owned)
}

/// The warning for `origin`'s `refspec` that would move local refs.
fn moving_warning(job: &Job, refspec: &str) -> String {
    format!(
        "origin of {} fetches {refspec}, which would move local branches: updates are \
         not fetched. To get them: git config --unset --fixed-value remote.origin.fetch '{refspec}'",
        job.target.display()
    )
}

/// `origin`, if it is the clone URL.
fn ours<'r>(repo: &'r Repository, url: &str) -> Option<git2::Remote<'r>> {
    let origin = repo.find_remote("origin").ok()?;
    let same = origin
        .url()
        .is_some_and(|u| same_remote(u) == same_remote(url));
    same.then_some(origin)
}

/// Why `origin` is not the clone URL, that updates are not fetched, and the git
/// command that fixes it. URLs are shown without user-info.
fn not_ours_warning(job: &Job, repo: &Repository, url: &str) -> String {
    let shown = job.target.display();
    let want = redact_userinfo(url);
    let not_fetched = "updates are not fetched";
    if let Ok(origin) = repo.find_remote("origin") {
        let have = origin
            .url()
            .map_or_else(|| "a URL that is not UTF-8".to_owned(), redact_userinfo);
        return format!(
            "origin of {shown} points at {have}, not {want}: {not_fetched}. \
             To get them: git remote set-url origin {want}"
        );
    }
    let renamed = repo.remotes().ok().and_then(|names| {
        names.iter().flatten().find_map(|name| {
            let remote = repo.find_remote(name).ok()?;
            let same = remote
                .url()
                .is_some_and(|u| same_remote(u) == same_remote(url));
            same.then(|| name.to_owned())
        })
    });
    match renamed {
        Some(name) => format!(
            "{shown} has no remote 'origin' (its remote '{name}' points at {want}): \
             {not_fetched}. To get them: git remote rename {name} origin"
        ),
        None => format!(
            "{shown} has no remote 'origin': {not_fetched}. To get them: \
             git remote add origin {want}"
        ),
    }
}

/// A remote URL with trailing `/` and `.git` removed, for comparison.
pub fn same_remote(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git")
        .unwrap_or(url)
        .trim_end_matches('/')
}

#[cfg(test)]
mod tests;
