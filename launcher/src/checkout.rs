//! The checkout: clone the repository into `<workspaces>/<owner>/<repo>`, or fetch
//! into an existing clone of it, without ever deleting, resetting or overwriting the
//! user's files.
//!
//! - target missing or empty → clone into a hidden sibling, sync it to the disk, then
//!   rename it into place, so a failed clone (or a power loss) leaves no half-cloned
//!   target; the clone is shallow (the last commit, as `git clone --depth 1`) where
//!   the transport can (HTTP, SSH), and the rest of the history is fetched after the
//!   workspace opened, in the background ([`run::complete_history`],
//!   [`fetch::complete`]), never touching the working tree; an existing checkout is
//!   never made shallow;
//! - target is a clone whose `origin` is the clone URL → fetch `origin` with its
//!   configured refspecs only (working tree, index and HEAD untouched); a failed fetch
//!   is a warning, the existing checkout is still usable;
//! - target is a git repository whose `origin` the user renamed, re-pointed or
//!   removed (or the operator changed the git base) → used as it is, nothing fetched,
//!   with a warning saying how to get updates (see [`fetch`]);
//! - anything else → refused, nothing changed.
//!
//! [`checkout`] is the blocking core (libgit2). The launcher runs it in a child
//! process of its own ([`child`], started and watched by [`run`]), so a transfer
//! stuck in a socket read can be killed: [`watchdog`] holds the git limits,
//! [`lock`] serialises the launchers that share one checkout folder and removes the
//! partial clones a killed one left behind.
//!
//! [`worktree`] writes a fresh clone's files in parallel; [`classify`] names
//! failures; [`credentials`] feeds the token to libgit2, for the git base's
//! [`origin`] only; [`proxy`] picks the operator's proxy, never the checkout's
//! configured one; [`gitdir`] refuses a checkout whose `.git` leads elsewhere and
//! removes what an interrupted fetch left; [`progress`] counts and logs transfers;
//! [`protocol`] is what the launcher and its transfer child say to each other.
//!
//! A redirect is followed only on the same host (libgit2's
//! [`RemoteRedirect::None`]: any path, port or `http` to `https`, never another
//! host, whatever `http.followRedirects` says), and the token goes to the git
//! base's own scheme, host and port only.

pub mod child;
pub mod classify;
pub mod credentials;
pub mod fetch;
pub mod gitdir;
pub mod links;
pub mod lock;
pub mod origin;
pub mod progress;
pub mod protocol;
pub mod proxy;
pub mod run;
pub mod watchdog;
pub mod worktree;

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
use git2::{FetchOptions, RemoteCallbacks, RemoteRedirect, Repository};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{Error, FailureKind, Result};
use classify::{classify, redact_userinfo, Subject};
use credentials::Secret;
use progress::{Observer, Op, Progress};

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
    /// Told about the transfer's progress, if anyone listens.
    pub observer: Option<Observer>,
    /// Set when the transfer runs without TLS roots ([`protocol::ROOTS_LATER_ENV`]):
    /// a TLS connection is refused and this flag raised, so the launcher starts the
    /// transfer again with them.
    pub roots_later: Option<Arc<AtomicBool>>,
    /// For the checkout step outside the workspace (`dcs-launcher checkout`): the
    /// workspaces folder, below which no link on the way to `target` is followed
    /// (checked again right before the transfer, under the checkout lock; see
    /// [`links`]).
    pub confined: Option<PathBuf>,
}

/// What the checkout did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A fresh clone was made.
    Cloned,
    /// An existing clone was fetched.
    Fetched,
    /// A workspace without a repository: its folder was made, empty.
    Created,
    /// A workspace without a repository: its folder exists and is used as it is.
    Existing,
    /// An existing clone was not (or could not be) fetched and is used as it is.
    UsedAsIs {
        /// Why, and what to do about it, for the user's notice and `/_dcs/ready`.
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
            observer: None,
            roots_later: None,
            confined: None,
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

/// [`prepare_empty`] on a blocking thread, for the launcher's async start.
pub async fn prepare_empty_off_runtime(target: PathBuf) -> Result<Outcome> {
    tokio::task::spawn_blocking(move || prepare_empty(&target))
        .await
        .unwrap_or_else(|e| Err(Error::Task(e.to_string())))
}

/// Performs `job` with the history this process's environment asks for
/// ([`protocol::History::from_process_env`]: the transfer child's).
pub fn checkout(job: &Job) -> Result<Outcome> {
    checkout_with(job, protocol::History::from_process_env())
}

/// Performs `job`, fetching `history`.
pub fn checkout_with(job: &Job, history: protocol::History) -> Result<Outcome> {
    let token = job
        .token_file
        .as_deref()
        .map(credentials::read_token)
        .transpose()?;
    if let Some(base) = &job.confined {
        links::refuse_links_below(base, &job.target)?;
    }
    let shown = job.target.display();
    match fs::symlink_metadata(&job.target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => clone_fresh(job, token.as_ref()),
        Err(e) => Err(Error::io(format!("inspecting {shown}"), e)),
        Ok(meta) if meta.is_dir() && is_empty_dir(&job.target)? => clone_fresh(job, token.as_ref()),
        Ok(_) => match gitdir::refuse_foreign_dot_git(&job.target)
            .map(|()| Repository::open(&job.target))?
        {
            Ok(repo) => {
                let git_dir = gitdir::checked(&job.target, &repo)?;
                // The transfer child runs under the checkout lock (see `run`).
                if let Err(error) = gitdir::remove_pack_temporaries(&git_dir) {
                    warn!(%error, "cannot remove the partial packs of an interrupted fetch");
                }
                match history {
                    protocol::History::Complete => fetch::complete(job, &repo, token.as_ref()),
                    protocol::History::FirstOpen => fetch::existing(job, &repo, token.as_ref()),
                }
            }
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

pub(crate) fn subject<'a>(job: &'a Job, token: Option<&Secret>) -> Subject<'a> {
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
    let partial = owner_dir.join(lock::partial_name(&job.repo, std::process::id()));
    if partial.exists() {
        // Left by an earlier transfer with the same pid (the launcher removes every
        // partial clone before it starts one; this is for `checkout` on its own).
        fs::remove_dir_all(&partial)
            .map_err(|e| Error::io(format!("removing stale {}", partial.display()), e))?;
    }
    let url = job.url();
    let shallow = shallow_capable(&url);
    info!(url = %redact_userinfo(&url), target = %target.display(), shallow, "cloning");
    let progress = RefCell::new(Progress::new(Op::Clone, job.observer.clone()));
    let mut options = fetch_options(job, token, &progress);
    if shallow {
        options.depth(1);
    }
    // The files are written afterwards, in parallel (see `worktree`).
    let mut no_files = git2::build::CheckoutBuilder::new();
    no_files.dry_run();
    let cloned = git2::build::RepoBuilder::new()
        .fetch_options(options)
        .with_checkout(no_files)
        .clone(&url, &partial)
        .and_then(|repo| {
            drop(repo);
            let began = Instant::now();
            let written = worktree::write(&partial, &job.cancel)?;
            let ms = began.elapsed().as_millis() as u64;
            info!(
                files = written.files,
                workers = written.workers,
                ms,
                "working tree written"
            );
            Ok(())
        });
    match cloned {
        Ok(()) => {}
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
    // libgit2 and `worktree` write without syncing: the clone reaches the disk here,
    // before its name does, so a power loss never leaves an empty `.git` in place.
    if let Err(e) = durable_into_place(&partial, target, owner_dir) {
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    info!(target = %target.display(), "cloned");
    Ok(Outcome::Cloned)
}

/// Moves the written clone `partial` to `target` in `owner_dir` so that a power loss
/// keeps either nothing or all of it: its whole filesystem synced first (`syncfs`:
/// one call for thousands of files), the folder holding the new name after. A
/// failed sync fails the clone (what was written may not be on the disk); once
/// renamed, a failed sync of the name is only a warning (the clone is complete: a
/// crash at worst loses the name, and the next start clones again).
fn durable_into_place(partial: &Path, target: &Path, owner_dir: &Path) -> Result<()> {
    let began = Instant::now();
    dcs_os::durable::sync_filesystem(partial).map_err(|e| {
        Error::io(
            format!("writing the fresh clone {} to the disk", partial.display()),
            e,
        )
    })?;
    fs::rename(partial, target).map_err(|e| {
        Error::io(
            format!("moving the fresh clone into {}", target.display()),
            e,
        )
    })?;
    if let Err(error) = dcs_os::durable::sync_dir(owner_dir) {
        warn!(%error, folder = %owner_dir.display(), "cannot sync the folder of the fresh clone");
    }
    info!(
        ms = began.elapsed().as_millis() as u64,
        "clone synced to the disk"
    );
    Ok(())
}

/// Whether a first clone from `url` can be shallow: libgit2 fetches shallow over
/// the smart transports (HTTP, SSH), not over `file://` or a local path.
pub fn shallow_capable(url: &str) -> bool {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    matches!(scheme.as_deref(), Some("http" | "https" | "ssh" | "git"))
}

/// Whether the checkout at `target` is shallow (its history incomplete).
pub fn is_shallow(target: &Path) -> bool {
    fs::metadata(target.join(".git").join("shallow")).is_ok_and(|m| m.len() > 0)
}

/// The fetch options of every transfer: the token through the credentials
/// callback (for the git base's origin only), progress (and cancellation) through
/// the transfer callbacks, the launcher's environment's proxy (never git's
/// configured one), redirects on the same host only, and for a transfer without TLS roots
/// ([`Job::roots_later`]) the refusal of any TLS server.
pub(crate) fn fetch_options<'a>(
    job: &'a Job,
    token: Option<&'a Secret>,
    progress: &'a RefCell<Progress>,
) -> FetchOptions<'a> {
    let mut callbacks = RemoteCallbacks::new();
    credentials::install(&mut callbacks, token, &job.git_base);
    let cancel = &job.cancel;
    callbacks.transfer_progress(move |p| {
        progress
            .borrow_mut()
            .observe(progress::Counts::from(&p), Instant::now());
        !cancel.load(Ordering::Relaxed)
    });
    callbacks.sideband_progress(move |data| {
        progress.borrow_mut().sideband(data.len(), Instant::now());
        !cancel.load(Ordering::Relaxed)
    });
    if let Some(needed) = &job.roots_later {
        callbacks.certificate_check(move |cert, host| {
            if cert.as_x509().is_none() {
                // An SSH host key: roots have nothing to say about it.
                return Ok(git2::CertificateCheckStatus::CertificatePassthrough);
            }
            needed.store(true, Ordering::SeqCst);
            Err(git2::Error::from_str(&format!(
                "{host} speaks TLS, and this transfer started without roots to verify it"
            )))
        });
    }
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks)
        .proxy_options(proxy::options(&job.url()))
        .follow_redirects(RemoteRedirect::None);
    options
}
