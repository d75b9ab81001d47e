//! The lifecycle log, `<config>/devcontainer/<workspace key>/lifecycle.log`, one per
//! workspace (an API instance's is named by its id, so a `/github/…` workspace and an
//! instance on the same checkout never write one log): what the commands
//! print (stdout and stderr together), between a header line per command and a
//! footer with how it ended ([`Log::mark`]). A new log each launcher start (the first
//! write replaces the last start's); bounded: output past [`LIMIT`] is not kept (a
//! line says so), and header and footer lines stop a little later, so the file never
//! grows past [`LIMIT`] + 64 KiB. Opened without following a link.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tracing::warn;

/// The file's name in the checkout's folder.
pub const FILE: &str = "lifecycle.log";

/// Output kept per start, in bytes.
pub const LIMIT: u64 = 1 << 20;

/// Room for header and footer lines past [`LIMIT`].
const MARK_ROOM: u64 = 64 * 1024;

/// The line written once output reaches [`LIMIT`].
pub const CAPPED: &str = "the log reached its limit of 1 MiB; further output is not kept";

/// One start's log.
pub struct Log {
    config: PathBuf,
    rel: PathBuf,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Opened (or tried to) in this start.
    opened: bool,
    file: Option<tokio::fs::File>,
    written: u64,
    capped: bool,
    /// The last byte written ended a line (or nothing was written).
    mid_line: bool,
}

impl Log {
    /// The log at `<config>/<rel>`.
    pub fn new(config: PathBuf, rel: PathBuf) -> Self {
        Self {
            config,
            rel,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// Where it is.
    pub fn path(&self) -> PathBuf {
        self.config.join(&self.rel)
    }

    /// Writes `== text ==` on a line of its own.
    pub async fn mark(&self, text: &str) {
        let mut state = self.state.lock().await;
        if state.written >= LIMIT + MARK_ROOM {
            return;
        }
        let mut line = String::with_capacity(text.len() + 8);
        if state.mid_line {
            line.push('\n');
        }
        line.push_str("== ");
        line.push_str(text);
        line.push_str(" ==\n");
        self.write(&mut state, line.as_bytes()).await;
    }

    /// Appends a command's output, up to [`LIMIT`] in all.
    pub async fn output(&self, bytes: &[u8]) {
        let mut state = self.state.lock().await;
        if state.capped || bytes.is_empty() {
            return;
        }
        let room = usize::try_from(LIMIT.saturating_sub(state.written)).unwrap_or(usize::MAX);
        let kept = &bytes[..bytes.len().min(room)];
        if !kept.is_empty() {
            self.write(&mut state, kept).await;
        }
        if kept.len() < bytes.len() {
            state.capped = true;
            let line = format!("{}== {CAPPED} ==\n", if state.mid_line { "\n" } else { "" });
            self.write(&mut state, line.as_bytes()).await;
        }
    }

    /// This start's log so far (the last start's before anything ran in this one);
    /// empty when there is none.
    pub async fn read(&self) -> io::Result<Vec<u8>> {
        let (config, rel) = (self.config.clone(), self.rel.clone());
        let cap = usize::try_from(LIMIT + 2 * MARK_ROOM).unwrap_or(usize::MAX);
        let read =
            tokio::task::spawn_blocking(move || dcs_os::confined::read_file(&config, &rel, cap))
                .await
                .map_err(io::Error::other)?;
        match read {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            other => other,
        }
    }

    async fn write(&self, state: &mut State, bytes: &[u8]) {
        if !state.opened {
            state.opened = true;
            match self.open().await {
                Ok(file) => state.file = Some(file),
                Err(error) => warn!(%error, path = %self.path().display(), "no lifecycle log"),
            }
        }
        state.written += bytes.len() as u64;
        state.mid_line = bytes.last().is_some_and(|b| *b != b'\n');
        let Some(file) = state.file.as_mut() else {
            return;
        };
        let written = async {
            file.write_all(bytes).await?;
            file.flush().await
        };
        if let Err(error) = written.await {
            warn!(%error, "writing the lifecycle log failed; it stops here");
            state.file = None;
        }
    }

    /// Replaces the last start's log with an empty one (folders made as needed).
    async fn open(&self) -> io::Result<tokio::fs::File> {
        tokio::fs::create_dir_all(&self.config).await?;
        let (config, rel) = (self.config.clone(), self.rel.clone());
        tokio::task::spawn_blocking(move || {
            let folder = rel.parent().unwrap_or(Path::new(""));
            if folder.as_os_str().is_empty() {
                return Ok(());
            }
            dcs_os::confined::make_folders(&config, folder)
        })
        .await
        .map_err(io::Error::other)??;
        let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC;
        tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(flags.bits())
            .open(self.path())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_stand_on_their_own_line_and_output_stops_at_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("old")).expect("mkdir");
        std::fs::write(dir.path().join("old/x.log"), "last start\n").expect("write");
        let log = Log::new(dir.path().to_path_buf(), "old/x.log".into());
        assert_eq!(log.read().await.expect("read"), b"last start\n");
        log.mark("postStartCommand: echo hi").await;
        log.output(b"hi").await;
        log.mark("exit status 0").await;
        let text = String::from_utf8(log.read().await.expect("read")).expect("utf-8");
        assert_eq!(
            text,
            "== postStartCommand: echo hi ==\nhi\n== exit status 0 ==\n"
        );

        let chunk = vec![b'x'; 300 * 1024];
        for _ in 0..5 {
            log.output(&chunk).await;
        }
        log.mark("exit status 0").await;
        let bytes = log.read().await.expect("read");
        assert!(bytes.len() as u64 <= LIMIT + MARK_ROOM, "{}", bytes.len());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.ends_with(&format!("x\n== {CAPPED} ==\n== exit status 0 ==\n")));
        assert_eq!(text.matches(CAPPED).count(), 1);
    }

    #[tokio::test]
    async fn a_link_in_place_of_the_log_is_not_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("elsewhere.txt");
        std::fs::write(&target, "keep").expect("write");
        std::fs::create_dir_all(dir.path().join("k")).expect("mkdir");
        std::os::unix::fs::symlink(&target, dir.path().join("k/lifecycle.log")).expect("link");
        let log = Log::new(dir.path().to_path_buf(), "k/lifecycle.log".into());
        log.mark("x").await;
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
        let err = log.read().await.expect_err("a link is refused");
        assert!(dcs_os::confined::is_refusal(&err), "{err}");
    }
}
