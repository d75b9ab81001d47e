//! `--wait`: poll `GET /api/status` until the instance is ready, failed or the
//! timeout passes, with progress on stderr (a redrawn spinner line on a terminal,
//! one plain line per phase change otherwise): the start's phases (cloning with its
//! percentage, starting the IDE, …) as the proxy reports them, escaped
//! ([`crate::safe`]).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use dcs_model::api::{InstanceStatus, Phase, StartPhase};

use crate::client::Client;
use crate::exit::{CliError, Exit};
use crate::output::{phase, progress_line};
use crate::safe::escape;

/// Time between two polls.
const POLL_EVERY: Duration = Duration::from_millis(500);
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Polls until `id` is ready (its last status), failed (exit 5) or `timeout`
/// passed (exit 6). Network and server errors after a first answer are retried
/// until the timeout; before it, they end the wait (exit 5).
pub async fn until_ready(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<InstanceStatus, CliError> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut progress = Progress::new(id, std::io::stderr().is_terminal());
    let mut last: Option<Phase> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let query = [("instance_id", id)];
        let poll = client.get::<InstanceStatus>(&["status"], &query);
        match tokio::time::timeout(left, poll).await {
            Ok(Ok(status)) => {
                last = Some(status.phase);
                if status.ready {
                    progress.done(&format!("{id} is ready ({}s)", secs(start)));
                    return Ok(status);
                }
                let failed = status.phase == Phase::Failed
                    || status
                        .progress
                        .as_ref()
                        .is_some_and(|p| p.phase == StartPhase::Failed);
                if failed {
                    progress.done(&format!("{id} failed ({}s)", secs(start)));
                    let reason = status
                        .progress
                        .as_ref()
                        .and_then(|p| p.reason.as_deref())
                        .or(status.reason.as_deref())
                        .unwrap_or("no reason given");
                    let hint = status.progress.as_ref().and_then(|p| p.hint.as_deref());
                    let reason = match hint {
                        Some(hint) => format!("{}\n{}", escape(reason), escape(hint)),
                        None => escape(reason).into_owned(),
                    };
                    return Err(CliError::new(
                        Exit::Server,
                        format!("{id} failed: {reason}"),
                    ));
                }
                progress.update(&progress_line(&status), secs(start));
            }
            // Once the server has answered, its hiccups (a restart, a 502) are retried.
            Ok(Err(e)) if e.exit == Exit::Server && last.is_some() => {
                progress.update(&format!("retrying ({})", e.message), secs(start));
            }
            Ok(Err(e)) => {
                progress.done("");
                return Err(e);
            }
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            progress.done("");
            let phase = last.map(phase).unwrap_or("unknown");
            return Err(CliError::new(
                Exit::Timeout,
                format!(
                    "timed out after {}s waiting for {id} to be ready (last phase: {phase})",
                    timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(POLL_EVERY.min(deadline.saturating_duration_since(now))).await;
    }
}

fn secs(start: Instant) -> u64 {
    start.elapsed().as_secs()
}

/// Progress lines on stderr.
struct Progress {
    id: String,
    tty: bool,
    shown: Option<String>,
    tick: usize,
}

impl Progress {
    fn new(id: &str, tty: bool) -> Self {
        Self {
            id: id.to_owned(),
            tty,
            shown: None,
            tick: 0,
        }
    }

    fn update(&mut self, state: &str, secs: u64) {
        let state = &*escape(state);
        let mut err = std::io::stderr().lock();
        if self.tty {
            self.tick += 1;
            let spin = SPINNER[self.tick % SPINNER.len()];
            let _ = write!(err, "\r\x1b[2K{spin} {}: {state} ({secs}s)", self.id);
            let _ = err.flush();
        } else if self.shown.as_deref() != Some(state) {
            let _ = writeln!(err, "{}: {state} ({secs}s)", self.id);
        }
        self.shown = Some(state.to_owned());
    }

    fn done(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty && self.shown.is_some() {
            let _ = write!(err, "\r\x1b[2K");
        }
        if !line.is_empty() {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}
