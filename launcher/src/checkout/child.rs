//! The transfer child: `dcs-launcher git-transfer`, started by the launcher for each
//! clone or fetch ([`super::run`]). It reads its [`Request`] from stdin, runs the
//! blocking [`checkout`](super::checkout) core, and reports [`Line`]s on stdout:
//! progress at most every [`PROGRESS_EVERY`], then the outcome. It exits as soon as
//! its stdin closes, so a launcher that dies (even by SIGKILL) takes it along.

use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dcs_model::RepoRef;
use tracing::warn;

use super::progress::{Counts, Observer, Op};
use super::protocol::{Line, Request};
use super::{checkout, Job};
use crate::error::FailureKind;

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

/// Runs the child on this process's stdin and stdout; returns the exit status (0
/// when the checkout succeeded, 1 when it failed, 2 for a malformed request).
pub fn main() -> u8 {
    let mut first = String::new();
    let request = std::io::stdin()
        .lock()
        .read_line(&mut first)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str::<Request>(&first).map_err(|e| e.to_string()));
    let mut out = std::io::stdout();
    let request = match request {
        Ok(request) => request,
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
    if transfer(&request, Box::new(out)) {
        0
    } else {
        1
    }
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
    };
    let result = checkout(&job);
    REPORTING.store(true, Ordering::SeqCst);
    let ok = result.is_ok();
    let line = match result {
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
