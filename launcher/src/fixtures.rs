//! Test-only builders: real git repositories made with the `git` CLI, a launcher
//! served on `127.0.0.1:0`, and a small HTTP/1.1 client.

pub mod fake_ide;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcs_model::{LauncherEnv, RepoRef};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Runs `git` in `dir` with no user or system configuration; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare upstream `acme/hello` under `<tmp>/git`, served as `file://<tmp>/git`, with
/// a work clone used to push commits.
pub struct Upstream {
    pub dir: TempDir,
}

impl Upstream {
    /// An upstream with one commit: `README.md` and `src/main.rs`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = dir.path().join("git/acme/hello.git");
        std::fs::create_dir_all(&bare).expect("mkdir bare");
        git(&bare, &["init", "--bare", "--quiet"]);
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("src")).expect("mkdir work");
        git(&work, &["init", "--quiet"]);
        std::fs::write(work.join("README.md"), "hello\n").expect("write");
        std::fs::write(work.join("src/main.rs"), "fn main() {}\n").expect("write");
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "initial"]);
        git(
            &work,
            &[
                "remote",
                "add",
                "origin",
                bare.to_str().expect("utf-8 path"),
            ],
        );
        git(&work, &["push", "--quiet", "origin", "main"]);
        Self { dir }
    }

    /// `file://…/git`.
    pub fn base(&self) -> String {
        format!("file://{}", self.dir.path().join("git").display())
    }

    /// Commits `file` with `content` upstream; returns the new commit id.
    pub fn commit(&self, file: &str, content: &str) -> String {
        let work = self.dir.path().join("work");
        std::fs::write(work.join(file), content).expect("write");
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "update"]);
        git(&work, &["push", "--quiet", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"])
    }
}

/// How long a test waits for a condition (a phase, a stop) before failing: generous,
/// so a loaded machine is never mistaken for a bug.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A launcher environment for `acme/hello` under `git_base`, listening on port 0.
pub fn env(git_base: &str, workspaces: &Path) -> LauncherEnv {
    let mut env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
    env.git_base = git_base.to_owned();
    env.workspaces_dir = workspaces.to_path_buf();
    env.listen = "127.0.0.1:0".parse().expect("addr");
    env.stop_grace_secs = 2;
    env
}

/// A launcher serving on a real loopback socket.
pub struct Running {
    pub addr: SocketAddr,
    pub checkout: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<crate::Result<crate::Stopped>>>,
}

impl Running {
    /// Binds `127.0.0.1:0` and runs the launcher for `env`.
    pub async fn start(env: LauncherEnv) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let checkout = env.checkout_dir();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(crate::run(env, listener, shutdown));
        Self {
            addr,
            checkout,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts and waits until `/_dcs/ready` answers 200.
    pub async fn ready(env: LauncherEnv) -> Self {
        let running = Self::start(env).await;
        running.wait_for_phase("ready").await;
        running
    }

    /// Polls `/_dcs/ready` until its phase is `phase` (fails after [`PATIENCE`]).
    pub async fn wait_for_phase(&self, phase: &str) -> Reply {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let reply = self.get(dcs_model::plumbing::READY).await;
            if reply.json()["phase"] == phase {
                return reply;
            }
            assert!(
                Instant::now() < deadline,
                "never reached {phase}: {reply:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        send(self.addr, Method::GET, path, &[], Bytes::new()).await
    }

    /// Any request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        send(
            self.addr,
            method,
            path,
            headers,
            Bytes::copy_from_slice(body),
        )
        .await
    }

    /// Triggers shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> crate::Result<crate::Stopped> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("run returns (a hang guard, not a timing check)")
            .expect("run does not panic")
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).expect("request");
    let res = sender.send_request(req).await.expect("response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
