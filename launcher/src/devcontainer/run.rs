//! One lifecycle command: a shell line (`/bin/sh -c`) or an argv (no shell; the
//! program looked up on the `PATH` of the command's environment), run in the
//! checkout with stdin `/dev/null`, the user's environment ([`crate::user_env`])
//! with the file's variables over it, as the leader of its own process group (in
//! the launcher's kill domain: [`crate::reap`]). Its output goes to the log between
//! a header and a footer. It ends when its leader exits: what it started in the
//! background (a `postStartCommand` starting a server) keeps running, its output
//! still logged. When the workspace stops, a command still running gets SIGTERM
//! (the stop's sweep ends what is left). While it runs, its output and the CPU of
//! its process group are watched work for the idle clock ([`super::work`]).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use dcs_model::devcontainer::Command;
use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::{info, warn};

use super::log::Log;
use super::work::{Output, Watched};
use super::EnvChange;
use crate::activity::Activity;
use crate::app::{draining, Drain};
use crate::reap;

/// How long the output of a command that exited is waited for before its footer
/// (a background process holding the pipe open goes on being logged after it).
const OUTPUT_WAIT: Duration = Duration::from_secs(1);

/// How long a command stopped with the workspace gets before it is left to the
/// stop's sweep.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Exit(i32),
    /// A signal ended it.
    Signal(i32),
    /// It could not be started.
    NotStarted(String),
    /// The workspace is stopping: it was ended (and does not count as run).
    Stopped,
    /// It ran past its job's limit and was killed (its process group).
    OverTime(Duration),
}

impl Ended {
    /// Whether it succeeded.
    pub fn ok(&self) -> bool {
        *self == Self::Exit(0)
    }

    /// The exit status, if it exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Exit(code) => Some(*code),
            _ => None,
        }
    }

    /// How it ended, for a person: `exit status 1`, `killed by signal 9`, ….
    pub fn describe(&self) -> String {
        match self {
            Self::Exit(code) => format!("exit status {code}"),
            Self::Signal(signal) => format!("killed by signal {signal}"),
            Self::NotStarted(why) => format!("could not start: {why}"),
            Self::Stopped => "stopped: the workspace is stopping".to_owned(),
            Self::OverTime(limit) => {
                let (secs, ms) = (limit.as_secs(), limit.as_millis());
                let after = match secs {
                    0 => format!("{ms} ms"),
                    1..=119 => format!("{secs} s"),
                    _ => format!("{} min", secs / 60),
                };
                format!("killed: still running after {after}")
            }
        }
    }

    fn of(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Exit(code),
            (None, Some(signal)) => Self::Signal(signal),
            (None, None) => Self::Exit(-1),
        }
    }
}

/// Where and how commands run.
pub struct Job<'a> {
    /// The checkout.
    pub cwd: &'a Path,
    /// The file's variables.
    pub env: &'a EnvChange,
    /// The log.
    pub log: Arc<Log>,
    /// The workspace's drain signal.
    pub drain: Drain,
    /// The idle clock: a running command is work while it prints or uses CPU.
    pub activity: Arc<Activity>,
    /// How long the command may run (`None`: as long as it takes), then its process
    /// group is killed.
    pub limit: Option<Duration>,
}

/// Runs `command` (a `Shell` or an `Exec`; a `Parallel` is the caller's) under the
/// header `== header ==`, with the footer `== <footer_prefix><how it ended> ==`.
pub async fn run(header: &str, footer_prefix: &str, command: &Command, job: &Job<'_>) -> Ended {
    job.log.mark(header).await;
    let ended = spawn_and_wait(header, command, job).await;
    job.log
        .mark(&format!("{footer_prefix}{}", ended.describe()))
        .await;
    match &ended {
        Ended::Exit(0) => info!(command = header, "lifecycle command done"),
        other => warn!(command = header, ended = %other.describe(), "lifecycle command failed"),
    }
    ended
}

async fn spawn_and_wait(header: &str, command: &Command, job: &Job<'_>) -> Ended {
    let mut drain = job.drain.watch();
    if *drain.borrow() {
        return Ended::Stopped;
    }
    let mut cmd = match command {
        Command::Shell(line) => {
            let mut cmd = tokio::process::Command::new("/bin/sh");
            cmd.arg("-c").arg(line);
            cmd
        }
        Command::Exec(argv) => match argv.split_first() {
            Some((program, args)) => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(args);
                cmd
            }
            None => return Ended::NotStarted("the command is empty".to_owned()),
        },
        Command::Parallel(_) => {
            return Ended::NotStarted("named commands cannot be nested".to_owned())
        }
    };
    crate::user_env::prepare(&mut cmd, job.cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    job.env.apply(&mut cmd);
    let mut child = match reap::spawn(&mut cmd) {
        Ok(child) => child,
        Err(e) => return Ended::NotStarted(e.to_string()),
    };
    let pid = child.id();
    // Its own process group (the leader's pid): watched while the command runs.
    let watched = pid.map(|pgid| Watched::start(&job.activity, pgid, header));
    let seen = || watched.as_ref().map(Watched::output);
    // Tasks of their own: what the command leaves running may go on printing (and
    // must not die of a closed pipe) after the command itself has ended.
    let mut readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(copy(s, job.log.clone(), seen()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(copy(s, job.log.clone(), seen()))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let over_time = async {
        match job.limit {
            Some(limit) => {
                tokio::time::sleep(limit).await;
                limit
            }
            None => std::future::pending().await,
        }
    };
    let waited = tokio::select! {
        status = child.wait() => Waited::Exited(status),
        () = draining(&mut drain) => Waited::Stopping,
        limit = over_time => Waited::OverTime(limit),
    };
    let ended = match waited {
        Waited::Exited(Ok(status)) => {
            // Its output, unless something it left running keeps the pipe open.
            let output = futures_util::future::join_all(readers.iter_mut());
            let _ = tokio::time::timeout(OUTPUT_WAIT, output).await;
            Ended::of(status)
        }
        Waited::Exited(Err(e)) => Ended::NotStarted(format!("waiting for it failed: {e}")),
        Waited::Stopping => {
            if let Some(pgid) = pid {
                let _ = dcs_os::group::signal(pgid, Signal::SIGTERM);
            }
            let _ = tokio::time::timeout(STOP_WAIT, child.wait()).await;
            Ended::Stopped
        }
        Waited::OverTime(limit) => {
            if let Some(pgid) = pid {
                let _ = dcs_os::group::signal(pgid, Signal::SIGKILL);
            }
            let _ = tokio::time::timeout(STOP_WAIT, child.wait()).await;
            Ended::OverTime(limit)
        }
    };
    drop(watched);
    if let Some(pid) = pid {
        reap::forget(pid);
    }
    ended
}

/// How waiting for a command ended.
enum Waited {
    /// Its leader exited (or waiting failed).
    Exited(std::io::Result<ExitStatus>),
    /// The workspace is stopping.
    Stopping,
    /// It ran past the job's limit.
    OverTime(Duration),
}

/// Copies `stream` into `log` until it ends, telling `seen` of each piece.
async fn copy(mut stream: impl AsyncRead + Unpin, log: Arc<Log>, seen: Option<Output>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Some(seen) = &seen {
                    seen.seen();
                }
                log.output(&buf[..n]).await;
            }
        }
    }
}
