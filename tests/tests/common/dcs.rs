//! The `dcs` binary run as a child process with a private HOME and config dir, and
//! loopback stub APIs for it (each request's method, path, bearer token and body
//! handed to the test's answer). Shared by the CLI suites that include it with
//! `#[path]`.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use dcs_e2e::bin_path;
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// The `dcs` binary with a private HOME and config dir, pointed at one server.
pub struct Dcs {
    bin: PathBuf,
    pub home: TempDir,
    server: String,
}

/// What one `dcs` run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.stdout).with_context(|| format!("stdout is not JSON: {self:?}"))
    }

    pub fn expect(self, code: i32) -> anyhow::Result<Self> {
        if self.code != Some(code) {
            bail!("expected exit {code}, got {self:#?}");
        }
        Ok(self)
    }
}

impl Dcs {
    pub fn new(server: &str) -> anyhow::Result<Self> {
        Ok(Self {
            bin: bin_path("dcs")?,
            home: tempfile::tempdir()?,
            server: server.to_owned(),
        })
    }

    pub fn config_home(&self) -> PathBuf {
        self.home.path().join("config")
    }

    pub fn token_store(&self) -> PathBuf {
        self.config_home().join("dcs/tokens.json")
    }

    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Run> {
        self.run_with(args, &[], None).await
    }

    /// Runs `dcs args` with the variables `env` set and `stdin` (else nothing) on
    /// its standard input.
    pub async fn run_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<Run> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .arg("--server")
            .arg(&self.server)
            .env_remove("DCS_SERVER")
            .env_remove("DCS_TOKEN")
            .env_remove("DCS_TOKEN_FILE")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_home())
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting dcs")?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes).await?;
        }
        let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
            .await
            .with_context(|| format!("dcs {args:?} did not finish"))??;
        Ok(Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `dcs args`, which must exit with `code`.
    pub async fn exits(&self, code: i32, args: &[&str]) -> anyhow::Result<Run> {
        self.run(args).await?.expect(code)
    }
}

/// A stub's answer.
pub type Reply = http::Response<http_body_util::Full<Bytes>>;

/// An answer with `status`, `headers` and `body`.
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let mut resp = http::Response::builder().status(status);
    for (name, value) in headers {
        resp = resp.header(*name, *value);
    }
    resp.body(http_body_util::Full::new(body.into()))
        .expect("a valid stub answer")
}

/// A request as a stub sees it.
#[derive(Debug, Clone)]
pub struct Asked {
    pub method: http::Method,
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    pub body: Bytes,
}

/// A stub API on 127.0.0.1:0 answering every request with `answer`; its base URL.
pub async fn serve<F, Fut>(answer: F) -> anyhow::Result<String>
where
    F: Fn(Asked) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            let service = hyper::service::service_fn(move |req: http::Request<_>| {
                let answer = answer.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body: hyper::body::Incoming = body;
                    let body = body.collect().await.map(|b| b.to_bytes());
                    let asked = Asked {
                        method: parts.method,
                        path: parts.uri.path().to_owned(),
                        authorization: parts
                            .headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        body: body.unwrap_or_default(),
                    };
                    Ok::<_, Infallible>(answer(asked).await)
                }
            });
            let io = hyper_util::rt::TokioIo::new(tcp);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        }
    });
    Ok(url)
}
