//! `/_dcs/terminal`: a shell on a real PTY over a WebSocket, opened in the checkout.
//!
//! Protocol: text and binary frames from the client are keyboard input, except a
//! text frame holding a JSON object `{"resize": {"cols": c, "rows": r}}`; output
//! comes back as binary frames. The socket closes when the shell exits; a closed
//! socket (or the launcher draining) ends the session and its whole process tree:
//! the shell runs as a child subreaper (`dcs-launcher exec-subreaper <shell>`), so
//! what its commands start in the background (`setsid nohup server &`, daemons that
//! double-fork) stays under it; the tree is taken, the session hung up (SIGHUP), and
//! whatever of the tree is left two seconds later is killed. The shell gets the
//! launcher's environment minus what [`crate::user_env`] withholds, plus what it
//! adds, and the checkout's `devcontainer.json` variables when the IDE got them
//! ([`crate::devcontainer::Devcontainer::ide_env`]).
//!
//! Idle clock ([`crate::activity`]): keyboard input is use; output, and CPU used by
//! the job in the terminal's foreground (sampled every [`CPU_SAMPLE`]), are watched
//! work ([`crate::activity::work`]); an open terminal is an open connection.
//!
//! # Layout
//! - [`panel`]: the terminal panel of the file manager page (plain JS).

pub mod panel;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper::body::Incoming;
use nix::sys::signal::Signal;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::activity::work::{self, Terminals};
use crate::activity::{now_ms, Activity};
use crate::app::App;
use crate::body::Body;
use crate::supervise::group;
use crate::{reap, ws_echo};

/// The endpoint.
pub const PATH: &str = "/_dcs/terminal";

/// How often the CPU of the terminal's foreground job is sampled.
pub const CPU_SAMPLE: Duration = Duration::from_secs(2);

/// A control message from the client.
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct Control {
    resize: Size,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
struct Size {
    cols: u16,
    rows: u16,
}

/// Accepts the WebSocket and runs a shell for it.
pub fn handle(app: &App, req: Request<Incoming>) -> Response<Body> {
    let drain = app.drain_watch();
    let cwd = app.checkout_dir().to_path_buf();
    let activity = app.activity().clone();
    let extra = app.devcontainer().ide_env();
    ws_echo::accept(
        req,
        "e.g. the terminal panel of the file manager",
        move |io| session(io, cwd, drain, activity, extra),
    )
}

/// The shell to run: `$SHELL` if it exists, else bash, else sh.
pub fn shell(env_shell: Option<&str>, exists: impl Fn(&Path) -> bool) -> PathBuf {
    env_shell
        .map(PathBuf::from)
        .into_iter()
        .chain(["/bin/bash", "/bin/sh"].map(PathBuf::from))
        .find(|p| p.is_absolute() && exists(p))
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

async fn session<S>(
    io: S,
    cwd: PathBuf,
    mut drain: watch::Receiver<bool>,
    activity: Arc<Activity>,
    extra: Option<Arc<crate::devcontainer::EnvChange>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = crate::ws_echo::server(io).await;
    let program = shell(std::env::var("SHELL").ok().as_deref(), Path::exists);
    let spawned = pty_process::open().and_then(|(pty, pts)| {
        pty.resize(pty_process::Size::new(24, 80))?;
        let (exe, args) = subreaper_wrapper(&program);
        let mut cmd = pty_process::Command::new(exe)
            .args(args)
            .current_dir(&cwd)
            .env("TERM", "xterm-256color")
            .kill_on_drop(true);
        for key in crate::user_env::withheld() {
            cmd = cmd.env_remove(key);
        }
        cmd = cmd.envs(crate::user_env::added());
        if let Some(extra) = &extra {
            cmd = extra.apply_pty(cmd);
        }
        Ok((pty, cmd.spawn(pts)?))
    });
    let (pty, mut child) = match spawned {
        Ok(s) => s,
        Err(error) => {
            warn!(%error, shell = %program.display(), "cannot start a terminal");
            let reason = format!("cannot start {}: {error}", program.display());
            let _ = ws.close(Some(close(CloseCode::Error, reason))).await;
            return;
        }
    };
    let pid = child.id().unwrap_or_default();
    reap::adopt(pid);
    info!(pid, shell = %program.display(), "terminal opened");
    let clock = Terminals::open(&activity, pid);
    let mut sample = tokio::time::interval(CPU_SAMPLE);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut out, mut input) = pty.into_split();
    let mut buf = vec![0u8; 16 * 1024];
    let reason = loop {
        tokio::select! {
            // Output of the shell (EIO once every process closed the terminal).
            n = out.read(&mut buf) => match n {
                Ok(n) if n > 0 => {
                    clock.output(now_ms());
                    if ws.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        break "the client went away".to_owned();
                    }
                }
                _ => break "the shell exited".to_owned(),
            },
            // Keyboard input or a resize from the client.
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Control>(&text) {
                    Ok(c) => {
                        let _ = input.resize(pty_process::Size::new(c.resize.rows, c.resize.cols));
                    }
                    Err(_) => {
                        clock.input(now_ms());
                        if input.write_all(text.as_bytes()).await.is_err() {
                            break "the shell exited".to_owned();
                        }
                    }
                },
                Some(Ok(Message::Binary(bytes))) => {
                    clock.input(now_ms());
                    if input.write_all(&bytes).await.is_err() {
                        break "the shell exited".to_owned();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break "the client went away".to_owned(),
                Some(Ok(_)) => {}
            },
            // Is the job in the foreground using CPU (watched work)?
            _ = sample.tick() => {
                let fg = tokio::task::spawn_blocking(move || work::foreground(pid))
                    .await
                    .ok()
                    .flatten();
                clock.cpu(fg, now_ms());
            }
            // The launcher is shutting down.
            () = crate::app::draining(&mut drain) => break "launcher stopping".to_owned(),
        }
    };
    debug!(pid, %reason, "terminal closing");
    drop(clock);
    hang_up(pid, &mut child).await;
    let code = if reason == "launcher stopping" {
        CloseCode::Away
    } else {
        CloseCode::Normal
    };
    let _ = ws.close(Some(close(code, reason))).await;
}

/// What to run for `shell`: this launcher's `terminal-session` in front of it. (Unit
/// tests run in a test harness, not the launcher: they run the shell directly.)
fn subreaper_wrapper(shell: &Path) -> (PathBuf, Vec<std::ffi::OsString>) {
    #[cfg(not(test))]
    if let Ok(exe) = std::env::current_exe() {
        return (
            exe,
            vec![
                crate::session::SUBCOMMAND.into(),
                "--".into(),
                shell.as_os_str().to_owned(),
            ],
        );
    }
    (shell.to_path_buf(), Vec::new())
}

/// Ends the session: takes the shell's process tree, SIGHUP to the shell's session
/// group (a terminal hang-up) and SIGTERM to the rest of the tree; after two seconds
/// SIGKILL to whatever of both is left (a pid counts only while its start time is
/// the one taken, so a reused pid is never hit).
async fn hang_up(pid: u32, child: &mut tokio::process::Child) {
    let tree = tokio::task::spawn_blocking(move || tree_of(pid))
        .await
        .unwrap_or_default();
    group::signal(pid, Signal::SIGHUP);
    group::signal(pid, Signal::SIGCONT);
    signal_tree(&tree, Signal::SIGTERM);
    let exited = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    if exited.is_err() {
        group::signal(pid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tree.iter().any(|(p, t)| same_process(*p, *t)) {
        if tokio::time::Instant::now() >= deadline {
            signal_tree(&tree, Signal::SIGKILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    reap::forget(pid);
}

/// The shell's descendants, each with its start time.
fn tree_of(pid: u32) -> Vec<(u32, u64)> {
    dcs_os::proc::descendants(pid)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Some((p, dcs_os::proc::stat(p)?.start_time)))
        .collect()
}

/// Whether `pid` is still the live process that started at `start_time`.
fn same_process(pid: u32, start_time: u64) -> bool {
    dcs_os::proc::liveness(pid, Some(start_time)) == dcs_os::Liveness::Alive
}

fn signal_tree(tree: &[(u32, u64)], signal: Signal) {
    for (pid, start_time) in tree {
        if same_process(*pid, *start_time) {
            if let Ok(raw) = i32::try_from(*pid) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal);
            }
        }
    }
}

fn close(code: CloseCode, reason: String) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
