//! The checkout: clone the repository into `<workspaces>/<owner>/<repo>`, or fetch
//! into an existing clone of it, without ever deleting, resetting or overwriting the
//! user's files. Blocking (libgit2); run it on a blocking thread.
//!
//! - target missing or empty → clone into a hidden sibling, then rename into place, so
//!   a failed clone leaves no half-cloned target;
//! - target is a clone whose `origin` is the clone URL → fetch `origin` with its
//!   configured refspecs only (working tree, index and HEAD untouched); a failed fetch
//!   is a warning, the existing checkout is still usable;
//! - anything else → refused, nothing changed.
//!
//! [`classify`] names failures; [`credentials`] feeds the token to libgit2;
//! [`progress`] logs transfers.

pub mod classify;
pub mod credentials;
pub mod progress;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dcs_model::{LauncherEnv, RepoRef};
use git2::{FetchOptions, ProxyOptions, RemoteCallbacks, Repository};
use tracing::{info, warn};

use crate::error::{Error, FailureKind, Result};
use classify::{classify, redact_userinfo, Subject};
use credentials::Secret;
use progress::Progress;

/// One checkout to perform.
#[derive(Debug, Clone)]
pub struct Job {
    /// The repository.
    pub repo: RepoRef,
    /// Git base URL; the clone URL is `<base>/<owner>/<repo>.git`.
    pub git_base: String,
    /// Where the checkout goes.
    pub target: PathBuf,
    /// File holding the git token, if any.
    pub token_file: Option<PathBuf>,
    /// Set to abort a transfer in progress (at the next progress callback).
    pub cancel: Arc<AtomicBool>,
}

/// What the checkout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A fresh clone was made.
    Cloned,
    /// An existing clone was fetched.
    Fetched,
    /// A workspace without a repository: its folder was made, empty.
    Created,
    /// A workspace without a repository: its folder exists and is used as it is.
    Existing,
    /// An existing clone could not be fetched and is used as it is.
    UsedAsIs {
        /// Why, for `/_dcs/ready`'s `warning`.
        warning: String,
    },
}

impl Job {
    /// The checkout `env` asks for; `None` for a workspace without a repository.
    pub fn from_env(env: &LauncherEnv, cancel: Arc<AtomicBool>) -> Option<Self> {
        Some(Self {
            repo: env.repo.clone()?,
            git_base: env.git_base.clone(),
            target: env.checkout_dir(),
            token_file: env.git_token_file.clone(),
            cancel,
        })
    }

    /// The clone URL.
    pub fn url(&self) -> String {
        self.repo.clone_url(&self.git_base)
    }
}

/// Makes the folder of a workspace without a repository, if it is missing. An
/// existing folder (or anything else at that path) is left exactly as it is.
pub fn prepare_empty(target: &Path) -> Result<Outcome> {
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => Ok(Outcome::Existing),
        Ok(_) => Err(refused(format!(
            "{} exists and is not a directory; nothing was changed",
            target.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(target)
                .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
            Ok(Outcome::Created)
        }
        Err(e) => Err(Error::io(format!("inspecting {}", target.display()), e)),
    }
}

/// Performs `job`.
pub fn checkout(job: &Job) -> Result<Outcome> {
    let token = job
        .token_file
        .as_deref()
        .map(credentials::read_token)
        .transpose()?;
    let shown = job.target.display();
    match fs::symlink_metadata(&job.target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => clone_fresh(job, token.as_ref()),
        Err(e) => Err(Error::io(format!("inspecting {shown}"), e)),
        Ok(meta) if meta.is_dir() && is_empty_dir(&job.target)? => clone_fresh(job, token.as_ref()),
        Ok(_) => match Repository::open(&job.target) {
            Ok(repo) => fetch_existing(job, &repo, token.as_ref()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Err(refused(format!(
                "{shown} already exists and is not empty, but it is not a git repository; \
                 nothing was changed. Move it away to check out {} there",
                job.repo
            ))),
            Err(e) => Err(Error::Checkout {
                kind: FailureKind::Other,
                message: format!(
                    "{shown} could not be opened as a git repository ({}); nothing was changed",
                    e.message()
                ),
            }),
        },
    }
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    let mut entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    Ok(entries.next().is_none())
}

fn refused(message: String) -> Error {
    Error::Checkout {
        kind: FailureKind::Refused,
        message,
    }
}

fn subject<'a>(job: &'a Job, token: Option<&Secret>) -> Subject<'a> {
    Subject {
        repo: &job.repo,
        git_base: &job.git_base,
        token_configured: token.is_some(),
    }
}

fn clone_fresh(job: &Job, token: Option<&Secret>) -> Result<Outcome> {
    let target = &job.target;
    let owner_dir = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(owner_dir)
        .map_err(|e| Error::io(format!("creating {}", owner_dir.display()), e))?;
    let partial = owner_dir.join(format!(
        ".{}.dcs-partial-{}",
        job.repo.repo(),
        std::process::id()
    ));
    if partial.exists() {
        // Ours: left by an earlier launcher with the same pid (PID 1 in a container).
        fs::remove_dir_all(&partial)
            .map_err(|e| Error::io(format!("removing stale {}", partial.display()), e))?;
    }
    let url = job.url();
    info!(url = %redact_userinfo(&url), target = %target.display(), "cloning");
    let progress = RefCell::new(Progress::new("clone"));
    let cloned = git2::build::RepoBuilder::new()
        .fetch_options(fetch_options(job, token, &progress))
        .clone(&url, &partial);
    match cloned {
        Ok(repo) => drop(repo),
        Err(_) if job.cancel.load(Ordering::Relaxed) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(Error::Checkout {
                kind: FailureKind::Other,
                message: "the clone was cancelled because the launcher is stopping".into(),
            });
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(classify(&e, &subject(job, token)));
        }
    }
    progress.borrow().finish();
    if let Err(e) = fs::rename(&partial, target) {
        let _ = fs::remove_dir_all(&partial);
        return Err(Error::io(
            format!("moving the fresh clone into {}", target.display()),
            e,
        ));
    }
    info!(target = %target.display(), "cloned");
    Ok(Outcome::Cloned)
}

fn fetch_existing(job: &Job, repo: &Repository, token: Option<&Secret>) -> Result<Outcome> {
    let shown = job.target.display();
    let url = job.url();
    let Ok(mut origin) = repo.find_remote("origin") else {
        return Err(refused(format!(
            "{shown} is a git repository without an 'origin' remote, so it is not a \
             checkout of {url}; nothing was changed"
        )));
    };
    let origin_url = origin.url().unwrap_or_default().to_owned();
    if same_remote(&origin_url) != same_remote(&url) {
        return Err(refused(format!(
            "{shown} is a checkout of {}, not of {url}; nothing was changed",
            redact_userinfo(&origin_url)
        )));
    }
    info!(url = %redact_userinfo(&url), target = %shown, "fetching into the existing checkout");
    let progress = RefCell::new(Progress::new("fetch"));
    let mut options = fetch_options(job, token, &progress);
    // No refspecs: origin's configured ones, which only update refs/remotes/origin/*.
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
                warning: format!(
                    "could not fetch updates ({error}); the existing checkout is used as it is"
                ),
            })
        }
    }
}

/// A remote URL with trailing `/` and `.git` removed, for comparison.
fn same_remote(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git")
        .unwrap_or(url)
        .trim_end_matches('/')
}

fn fetch_options<'a>(
    job: &'a Job,
    token: Option<&'a Secret>,
    progress: &'a RefCell<Progress>,
) -> FetchOptions<'a> {
    let mut callbacks = RemoteCallbacks::new();
    credentials::install(&mut callbacks, token);
    let cancel = &job.cancel;
    callbacks.transfer_progress(move |p| {
        progress
            .borrow_mut()
            .observe(progress::Counts::from(&p), Instant::now());
        !cancel.load(Ordering::Relaxed)
    });
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks).proxy_options(proxy);
    options
}
