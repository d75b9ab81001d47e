//! `dcs-proxy`: the stateless edge of devcontainer-serverless.
//!
//! A request for `/github/<owner>/<repo>/…` is authenticated, routed to the
//! caller's workspace of that repository, woken if it sleeps, and forwarded (HTTP
//! and WebSocket, streamed). Idle workspaces are scaled to zero. `/api/…` is the
//! management API (JSON, OpenAPI at `/api/openapi.json`); instances it creates
//! are opened at `/instances/<id>/` with their access token.
//!
//! # Layout
//! - [`config`]: flags and `validate()` listing every problem.
//! - [`api`]: the management API (route table, handlers, JSON bodies, tokens).
//! - [`instances`]: the `/instances/<id>/` token gate and the instance cache.
//! - [`route`]: path → [`route::Route`] (the one place the prefix is stripped).
//! - [`auth`]: [`auth::Identity`] and the auth modes.
//! - [`policy`]: who may open which repositories (YAML rules over groups).
//! - [`activator`]: single-flight wake, start timeout, idle reaper.
//! - [`activity`]: per-workspace client activity and in-flight counts.
//! - [`forward`]: the forwarding phases, header rewriting, upgrade tunnel.
//! - [`runtime`]: the [`runtime::Runtime`] seam and its implementations.
//! - [`server`]: accept loop, dispatch, access log, graceful shutdown.
//! - [`pages`], [`error`], [`body`], [`metrics`], [`state`], [`telemetry`].

pub mod activator;
pub mod activity;
pub mod api;
pub mod auth;
pub mod body;
pub mod config;
pub mod error;
pub mod forward;
pub mod instances;
pub mod metrics;
pub mod pages;
pub mod policy;
pub mod route;
pub mod runtime;
pub mod server;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::{Config, ServeArgs};
pub use error::{Error, Result};
pub use state::AppState;

use crate::activator::Activator;
use crate::config::RuntimeKind;
use crate::metrics::Metrics;
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::local::{LocalConfig, LocalRuntime};
use crate::runtime::Runtime;

/// Builds the shared state for `cfg`: opens the runtime (adopting surviving local
/// workspaces, or connecting to the Kubernetes API) and the auth mode.
pub async fn build(cfg: &Config) -> std::io::Result<Arc<AppState>> {
    let runtime: Arc<dyn Runtime> = match cfg.runtime {
        RuntimeKind::Local => Arc::new(LocalRuntime::open(LocalConfig {
            data_dir: cfg.data_dir.clone(),
            launcher_bin: cfg.launcher_bin.clone(),
            git_base: cfg.git_base.clone(),
            git_token_file: cfg.git_token_file.clone(),
            ide: cfg.ide.clone(),
            ide_bin: cfg.ide_bin.clone(),
            stop_grace: cfg.stop_grace,
            start_limit: cfg
                .start_timeout
                .max(std::time::Duration::from_secs(30 * 60)),
            launcher_log: cfg.launcher_log.clone(),
            git: cfg.limits.git,
        })?),
        RuntimeKind::Knative => {
            let knative = cfg
                .knative
                .clone()
                .ok_or_else(|| std::io::Error::other("--runtime knative without its settings"))?;
            Arc::new(
                KnativeRuntime::connect(knative)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            )
        }
    };
    let metrics = Arc::new(Metrics::default());
    let activator = Arc::new(Activator::new(
        runtime,
        cfg.start_timeout,
        cfg.idle_timeout,
        metrics.clone(),
    ));
    Ok(Arc::new(AppState {
        auth: auth::build(&cfg.auth),
        activator,
        metrics,
        policy: cfg.policy.clone(),
        api: cfg.api.clone(),
        instances: instances::Registry::new(instances::CACHE_TTL),
        limits: cfg.limits,
        edge: cfg.edge.clone(),
        previews: cfg.previews.clone(),
        draining: AtomicBool::new(false),
    }))
}

/// Serves `listener` with `state` until `shutdown` resolves; runs the idle reaper
/// meanwhile. On return every workspace this proxy runs has been stopped.
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) {
    let reaper = tokio::spawn(state.activator.clone().run_reaper());
    server::run(listener, state, shutdown).await;
    reaper.abort();
}
