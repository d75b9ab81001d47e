//! The transfer child: `dcs-launcher git-transfer`, started by the launcher for each
//! clone or fetch ([`super::run`]). It reads its [`Request`] from stdin, runs the
//! blocking [`checkout`](super::checkout) core, and reports [`Line`]s on stdout:
//! progress at most every [`PROGRESS_EVERY`], then the outcome. It exits as soon as
//! its stdin closes, so a launcher that dies (even by SIGKILL) takes it along.
//!
//! [`program`] is how the launcher starts it: with the launcher's trust bundle
//! ([`crate::trust`]) written into the config volume and named by OpenSSL's
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` in the child's environment, so libgit2 verifies git
//! servers with the roots IDE downloads use (Mozilla's, the image's,
//! `DCS_EXTRA_CA_FILE`), whether or not the image has CA certificates. A volume's
//! first transfer from a URL that is not `https://` starts without them (OpenSSL
//! would read the whole file for nothing); it refuses a TLS server (a redirect to
//! `https://`) and says [`Line::NeedsRoots`], and [`super::run`] starts it again
//! with them ([`Program::with_roots`]).
//!
//! When a checkout container did the transfer before the launcher started
//! (`DCS_CHECKOUT_OUTCOME_FILE`, Knative's init container `checkout`), [`program`]
//! starts the child in *replay* mode ([`REPLAY_ENV`]): it transfers nothing and
//! reports the outcome that container recorded, so the launcher's start-up
//! (readiness, notices) is the same and the workspace container never needs the
//! token; the checkout lock was the container's to hold.
//!
//! The child makes itself non-dumpable before it reads its request (which may carry
//! the token held in the launcher's memory): the user's processes run as the same
//! user and must not read its memory or descriptors through `/proc`.

use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dcs_model::{LauncherEnv, RepoRef};
use tracing::{info, warn};

use super::progress::{Counts, Observer, Op};
use super::protocol::{History, Line, Program, Request, Wire, ROOTS_LATER_ENV};
use super::{checkout, Job};
use crate::error::{Error, FailureKind, Result};
use crate::trust;

/// How often progress is reported at most.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Exit status when the launcher went away mid-transfer.
pub const EXIT_ORPHANED: i32 = 9;

/// Set once the outcome is being reported: the launcher closes stdin after it
/// read the outcome, which is no reason to give up any more.
static REPORTING: AtomicBool = AtomicBool::new(false);

/// The name of the unit test that acts as the transfer child (see
/// [`Program::this_executable`](super::protocol::Program::this_executable)).
#[cfg(test)]
pub const TEST_CHILD_NAME: &str = "checkout::child::tests::acts_as_the_transfer_child_when_asked";

/// The child's environment variable naming the outcome file to replay (see the
/// module docs).
pub const REPLAY_ENV: &str = "DCS_TRANSFER_REPLAY";

/// How to start the transfer child for `env`: in replay mode when a checkout
/// container recorded the outcome (`DCS_CHECKOUT_OUTCOME_FILE`), else as
/// [`transfer_program`] does.
pub async fn program(env: &LauncherEnv) -> Result<Program> {
    match &env.checkout_outcome_file {
        Some(file) => {
            let mut program = Program::this_executable();
            program.env.push((REPLAY_ENV.into(), file.clone().into()));
            Ok(program)
        }
        None => transfer_program(env).await,
    }
}

/// How to start a transfer child that transfers for `env`: this executable
/// ([`Program::this_executable`]) with the trust bundle built from `env`, written to
/// `<config>/trust/ca-bundle.pem` and named in OpenSSL's variables. A
/// `DCS_EXTRA_CA_FILE` that cannot be used, or a config volume the bundle cannot be
/// written to, fails the checkout with a message saying which.
pub async fn transfer_program(env: &LauncherEnv) -> Result<Program> {
    let (config, extra) = (env.config_dir(), env.extra_ca_file.clone());
    let written = tokio::task::spawn_blocking(move || trust::written(&config, extra.as_deref()))
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(|e| Error::Checkout {
            kind: FailureKind::Other,
            message: e.to_string(),
        })?;
    let (file, counts) = (&written.file, written.bundle.counts());
    info!(
        file = %file.display(),
        folder = ?written.folder.as_ref().map(|f| &f.dir),
        mozilla = counts.mozilla,
        image = counts.image,
        image_store = ?counts.image_store,
        extra = counts.extra,
        "trusted certificates for git"
    );
    let mut program = Program::this_executable();
    let roots = trust::openssl_env(&written);
    let url = env.repo.as_ref().map(|repo| repo.clone_url(&env.git_base));
    if written.folder.is_some() || url.as_deref().is_none_or(tls_expected) {
        program.env.extend(roots);
        return Ok(program);
    }
    // A volume's first transfer over plain HTTP (or SSH, or a local path): OpenSSL
    // would read the whole bundle file when libgit2 starts, for nothing. Without
    // roots, unless the server redirects to TLS: then again with them.
    let without = trust::openssl_env_without_roots(&written).map_err(|e| Error::Checkout {
        kind: FailureKind::Other,
        message: e.to_string(),
    })?;
    program.env.extend(without);
    program.env.push((ROOTS_LATER_ENV.into(), "1".into()));
    program.roots_later = Some(roots);
    Ok(program)
}

/// Whether a transfer from `url` starts with TLS, or may through a proxy of the
/// environment (`https_proxy` and its kin naming an `https://` proxy, whose
/// certificate libgit2 verifies with the same roots).
pub fn tls_expected(url: &str) -> bool {
    let https = |u: &str| {
        u.trim()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    };
    https(url)
        || [
            "https_proxy",
            "HTTPS_PROXY",
            "http_proxy",
            "HTTP_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| https(&v)))
}

/// Runs the child on this process's stdin and stdout; returns the exit status (0
/// when the checkout succeeded, 1 when it failed, 2 for a malformed request).
pub fn main() -> u8 {
    // The rest of a shallow clone's history: nobody waits for it (`crate::background`).
    if crate::background::asked_by_env() {
        crate::background::lower_this_thread();
    }
    // Before the request (and perhaps the token) is read: see the module docs.
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        warn!(%error, "cannot make the transfer child non-dumpable");
    }
    let mut first = String::new();
    let request = std::io::stdin()
        .lock()
        .read_line(&mut first)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str::<Wire>(&first).map_err(|e| e.to_string()));
    first.clear();
    let mut out = std::io::stdout();
    let request = match request.map(Wire::into_parts) {
        Ok((request, token)) => {
            if let Some(token) = token {
                super::credentials::hold(token);
            }
            request
        }
        Err(why) => {
            send(
                &mut out,
                &Line::Failed {
                    kind: FailureKind::Other,
                    message: format!("the git transfer got a malformed request: {why}"),
                },
            );
            return 2;
        }
    };
    // The launcher holds our stdin open while it lives.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        loop {
            match std::io::stdin().read(&mut sink) {
                Ok(0) | Err(_) if REPORTING.load(Ordering::SeqCst) => return,
                Ok(0) | Err(_) => {
                    warn!("the launcher went away; giving up the transfer");
                    std::process::exit(EXIT_ORPHANED);
                }
                Ok(_) => {}
            }
        }
    });
    if let Some(file) = std::env::var_os(REPLAY_ENV) {
        REPORTING.store(true, Ordering::SeqCst);
        let line = replay(std::path::Path::new(&file), History::from_process_env());
        let ok = matches!(line, Line::Done { .. });
        send(&mut out, &line);
        return if ok { 0 } else { 1 };
    }
    if transfer(&request, Box::new(out)) {
        0
    } else {
        1
    }
}

/// The line a checkout container recorded in `file` (a [`Line`] written by
/// [`record`]); for [`History::Complete`], that the checkout step's history mode
/// completes the history (`crate::checkout_history`).
pub fn replay(file: &std::path::Path, history: History) -> Line {
    if history == History::Complete {
        return Line::Done {
            outcome: super::Outcome::UsedAsIs {
                warning: "the history is completed beside the workspace by the checkout step"
                    .into(),
            },
        };
    }
    let recorded = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Line>(&text).map_err(|e| e.to_string()));
    match recorded {
        Ok(line @ (Line::Done { .. } | Line::Failed { .. })) => line,
        Ok(Line::Progress { .. } | Line::NeedsRoots) | Err(_) => Line::Failed {
            kind: FailureKind::Other,
            message: format!(
                "the checkout container left no outcome in {} (see its log: kubectl logs -c checkout)",
                file.display()
            ),
        },
    }
}

/// Records `result` in `file` for [`replay`] (atomically).
pub fn record(file: &std::path::Path, result: &Result<super::Outcome>) -> std::io::Result<()> {
    let line = match result {
        Ok(outcome) => Line::Done {
            outcome: outcome.clone(),
        },
        Err(err) => Line::Failed {
            kind: err.failure_kind(),
            message: err.to_string(),
        },
    };
    let text = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
    dcs_os::atomic::write_atomic(file, &text)
}

/// Performs `request`, writing progress and the final line to `out`. Returns
/// whether the checkout succeeded.
pub fn transfer(request: &Request, out: Box<dyn Write + Send>) -> bool {
    let reporter = Arc::new(Mutex::new(Reporter { out, last: None }));
    let repo = match RepoRef::parse(&request.repo) {
        Ok(repo) => repo,
        Err(e) => {
            reporter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .line(&Line::Failed {
                    kind: FailureKind::Other,
                    message: format!("the git transfer got a bad repository: {e}"),
                });
            return false;
        }
    };
    let observer = Observer::new({
        let reporter = reporter.clone();
        move |op, counts| {
            reporter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .progress(op, counts, Instant::now());
        }
    });
    let job = Job {
        repo,
        git_base: request.git_base.clone(),
        target: request.target.clone(),
        token_file: request.token_file.clone(),
        cancel: Arc::new(AtomicBool::new(false)),
        observer: Some(observer),
        roots_later: std::env::var_os(ROOTS_LATER_ENV).map(|_| Arc::new(AtomicBool::new(false))),
        confined: request.confined.clone(),
    };
    let result = checkout(&job);
    REPORTING.store(true, Ordering::SeqCst);
    let needs_roots = job
        .roots_later
        .as_ref()
        .is_some_and(|needed| needed.load(Ordering::SeqCst));
    let ok = result.is_ok() && !needs_roots;
    let line = match result {
        // What failed or was warned about is the refused TLS server: not the outcome.
        _ if needs_roots => Line::NeedsRoots,
        Ok(outcome) => Line::Done { outcome },
        Err(err) => Line::Failed {
            kind: err.failure_kind(),
            message: err.to_string(),
        },
    };
    reporter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .line(&line);
    ok
}

/// Writes lines, throttling progress.
struct Reporter {
    out: Box<dyn Write + Send>,
    last: Option<(Instant, Op)>,
}

impl Reporter {
    fn progress(&mut self, op: Op, counts: &Counts, now: Instant) {
        let due = match self.last {
            None => true,
            Some((at, last_op)) => {
                last_op != op || now.saturating_duration_since(at) >= PROGRESS_EVERY
            }
        };
        if due {
            self.last = Some((now, op));
            self.line(&Line::Progress {
                op,
                counts: *counts,
            });
        }
    }

    fn line(&mut self, line: &Line) {
        send(&mut self.out, line);
    }
}

/// One JSON line, flushed. A launcher that stopped reading is gone; the stdin
/// watcher ends this process then, so write errors are ignored here.
fn send(out: &mut dyn Write, line: &Line) {
    if let Ok(mut text) = serde_json::to_vec(line) {
        text.push(b'\n');
        let _ = out.write_all(&text);
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests;
