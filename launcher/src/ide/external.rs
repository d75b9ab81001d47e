//! [`ExternalIde`]: the running form of every IDE that is its own HTTP server
//! (code-server, openvscode-server, VS Code's `serve-web`). It is supervised
//! ([`crate::supervise`]), probed for health, and sent every request through
//! [`crate::forward`] with the browser's `Host` unchanged. While it restarts, requests
//! wait until the new run answers ([`answering`]), within a bound.

mod answering;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::header::{HeaderValue, LOCATION};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing::{info, warn};

use super::dirs::ConfigDirs;
use super::{IdeContext, RunningIde};
use crate::app::Drain;
use crate::body::{self, Body};
use crate::error::{Error, Result};
use crate::supervise::{Ending, Launch, MakeLaunch, Policy, State, Supervisor};
use crate::{forward, pages};
use answering::Answering;

/// How long one health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Exits before the first answer after which start-up fails (a broken install or a
/// bad flag will not fix itself; later crashes are retried by the supervisor).
const START_CRASHES: u32 = 3;

/// How often a starting IDE is asked whether it answers: its answer is what the
/// person opening the workspace waits for, and a refused connection costs nothing.
const HEALTH_POLL: Duration = answering::POLL;

/// How long a request waits for a restarting IDE before it is answered with a page
/// that reloads itself (well below the proxy's upstream timeout).
const RESTART_HOLD: Duration = Duration::from_secs(30);

/// How to run one external IDE.
pub struct Spec {
    /// The `DCS_IDE` kind.
    pub kind: &'static str,
    /// Builds the command line for a given loopback address.
    pub make: MakeLaunch,
    /// A path that answers below 500 once the IDE serves (relative to `prefix`).
    pub health_path: &'static str,
    /// Prepended to every forwarded path: the base path of servers started with
    /// `--server-base-path`; empty for code-server (relative URLs, no base path).
    pub prefix: String,
    /// Where a bare `GET /` is redirected (e.g. `./?folder=…`), if anywhere.
    pub landing: Option<String>,
    /// Restart policy.
    pub policy: Policy,
    /// How long the first start may take before it counts as failed.
    pub start_timeout: Duration,
}

/// How an installed IDE kind is reached: everything of a [`Spec`] but its command.
pub struct Shape {
    /// See [`Spec::health_path`].
    pub health_path: &'static str,
    /// See [`Spec::prefix`].
    pub prefix: String,
    /// See [`Spec::landing`].
    pub landing: Option<String>,
    /// See [`Spec::start_timeout`].
    pub start_timeout: Duration,
}

/// Starts an IDE kind that runs as its own server: finds (or installs) its binary,
/// makes its config directories, then supervises `command(program, dirs, addr)` with
/// the launcher's trust bundle in its environment ([`tls_env`]), over the checkout's
/// `devcontainer.json` variables when they apply ([`IdeContext::devcontainer_env`]).
pub async fn start_installed(
    kind: &'static str,
    ctx: &IdeContext,
    shape: Shape,
    command: impl Fn(&Path, &ConfigDirs, SocketAddr) -> Launch + Send + Sync + 'static,
) -> Result<Box<dyn RunningIde>> {
    let program = super::bin::for_context(kind, ctx).await?;
    let dirs = ConfigDirs::create(&ctx.config_dir, kind)?;
    super::hot_exit::ensure(kind, &dirs);
    let tls = tls_env(kind, ctx).await?;
    ctx.on_program.call(super::program::IdeProgram {
        kind,
        program: program.clone(),
        dirs: dirs.clone(),
        env: tls.clone(),
    });
    let devcontainer = ctx.devcontainer_env.clone();
    let spec = Spec {
        kind,
        make: Arc::new(move |addr: SocketAddr| {
            let mut launch = command(&program, &dirs, addr);
            launch.env.extend(tls.iter().cloned());
            if let Some(env) = &devcontainer {
                env.apply_under(&mut launch);
            }
            launch
        }),
        health_path: shape.health_path,
        prefix: shape.prefix,
        landing: shape.landing,
        policy: Policy::default(),
        start_timeout: shape.start_timeout,
    };
    Ok(Box::new(ExternalIde::start(spec, ctx.drain.clone()).await?))
}

/// The IDE's own TLS (extensions, VS Code's server download) and what it starts
/// trust what the launcher trusts: the bundle ([`crate::trust`]) written into the
/// config volume, named by `SSL_CERT_FILE` (OpenSSL, rustls-native-certs, curl,
/// Python's `ssl`) and `NODE_EXTRA_CA_CERTS` (Node.js, beside its own roots).
pub async fn tls_env(kind: &'static str, ctx: &IdeContext) -> Result<Vec<(OsString, OsString)>> {
    let (config, extra) = (ctx.config_dir.clone(), ctx.extra_ca_file.clone());
    let file = tokio::task::spawn_blocking(move || {
        crate::trust::written(&config, extra.as_deref()).map(|w| w.file.clone())
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
    .map_err(|e| Error::IdeStart {
        kind,
        message: e.to_string(),
    })?;
    Ok(vec![
        (
            crate::trust::SSL_CERT_FILE.into(),
            file.clone().into_os_string(),
        ),
        ("NODE_EXTRA_CA_CERTS".into(), file.into_os_string()),
    ])
}

/// A supervised IDE process and the way to reach it.
pub struct ExternalIde {
    kind: &'static str,
    supervisor: Supervisor,
    health_path: String,
    prefix: String,
    landing: Option<String>,
    drain: Drain,
    answering: Answering,
    /// When this launcher began supervising the IDE (unix ms): with the start count,
    /// tells its runs apart from those of another launcher of the workspace.
    began_ms: u64,
}

impl ExternalIde {
    /// Starts the IDE and waits until it answers (or fails, or times out).
    pub async fn start(spec: Spec, drain: Drain) -> Result<Self> {
        let supervisor = Supervisor::spawn(spec.kind, spec.make, spec.policy);
        let ide = Self {
            kind: spec.kind,
            supervisor,
            health_path: format!("{}{}", spec.prefix, spec.health_path),
            prefix: spec.prefix,
            landing: spec.landing,
            drain,
            answering: Answering::default(),
            began_ms: crate::activity::now_ms(),
        };
        let deadline = Instant::now() + spec.start_timeout;
        loop {
            let gave_up = match ide.supervisor.state() {
                State::Failed(why) => Some(why),
                State::Restarting { crashes, last_exit } if crashes >= START_CRASHES => Some(
                    format!("it exited {crashes} times before answering (last: {last_exit})"),
                ),
                _ => None,
            };
            if let Some(why) = gave_up {
                ide.supervisor.stop(Duration::ZERO).await;
                return Err(Error::IdeStart {
                    kind: ide.kind,
                    message: why,
                });
            }
            if ide.healthy().await {
                info!(kind = ide.kind, "IDE answers");
                return Ok(ide);
            }
            if Instant::now() >= deadline {
                warn!(kind = ide.kind, "IDE did not answer in time; stopping it");
                ide.supervisor.stop(Duration::from_secs(2)).await;
                return Err(Error::IdeStart {
                    kind: ide.kind,
                    message: format!(
                        "it did not answer within {} s",
                        spec.start_timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    /// The IDE process's pid while it runs (tests use it to crash the IDE).
    pub fn pid(&self) -> Option<u32> {
        match self.supervisor.state() {
            State::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    fn upstream_path(&self, req: &Request<Incoming>) -> Option<PathAndQuery> {
        let pq = req.uri().path_and_query().map_or("/", PathAndQuery::as_str);
        format!("{}{pq}", self.prefix).parse().ok()
    }
}

#[async_trait]
impl RunningIde for ExternalIde {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let as_json = pages::wants_json(req.headers());
        if let (Some(landing), true) = (&self.landing, req.uri() == "/") {
            if req.method() == Method::GET {
                return redirect(landing);
            }
        }
        let probe = |addr| forward::probe(addr, &self.health_path, PROBE_TIMEOUT);
        let answering = self
            .answering
            .address(&self.supervisor, RESTART_HOLD, probe);
        let Some(addr) = answering.await else {
            if let State::Failed(why) = self.supervisor.state() {
                return pages::message(StatusCode::SERVICE_UNAVAILABLE, "error", &why, as_json);
            }
            let text = format!(
                "the {} IDE is restarting; this page reloads by itself",
                self.kind
            );
            let heading = format!("Restarting {}", self.kind);
            return pages::reloads_itself("Restarting…", &heading, &text, as_json);
        };
        let path = self.upstream_path(&req);
        match forward::forward(req, addr, path, self.drain.watch()).await {
            Ok(res) => res,
            Err(err) => pages::rescue(&err, as_json),
        }
    }

    async fn healthy(&self) -> bool {
        match self.supervisor.state() {
            State::Running { pid, addr } => {
                let answers = forward::probe(addr, &self.health_path, PROBE_TIMEOUT).await;
                if answers {
                    self.answering.answered(pid);
                }
                answers
            }
            _ => false,
        }
    }

    fn failure(&self) -> Option<String> {
        match self.supervisor.state() {
            State::Failed(why) => Some(why),
            _ => None,
        }
    }

    async fn gave_up(&self) -> String {
        self.supervisor.gave_up().await
    }

    async fn stop(&self, grace: Duration) -> Ending {
        self.supervisor.stop(grace).await
    }

    fn run(&self) -> Option<String> {
        Some(format!("{}-{}", self.began_ms, self.supervisor.starts()))
    }

    fn pid(&self) -> Option<u32> {
        ExternalIde::pid(self)
    }
}

fn redirect(location: &str) -> Response<Body> {
    let mut res = Response::new(body::empty());
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests;
