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
//! - [`preview`]: port previews kept off the proxy's origin (sandbox, subdomains).
//! - [`progress`]: the live progress page of a start, and its phases.
//! - [`home`]: the home page at `/`: one's workspaces, and a box to open a repository.
//! - [`asked`]: what a request's headers ask (an HTML page, a navigation,
//!   background traffic, an upgrade), read once.
//! - [`edge`]: the first phase: own hosts (DNS rebinding, 421) and own origins
//!   (cross-site writes and upgrades, 403), one pure decision.
//! - [`egress`]: sandboxed workspaces' way out: a forward proxy per workspace that
//!   resolves names itself and admits public addresses (and what the operator allows).
//! - [`activator`]: single-flight wake, start limits, start timeout, idle reaper.
//! - [`quota`]: instances per user, starts at once per user and in total (429).
//! - [`repo_probe`]: whether a repository exists at the git base, before anything
//!   is made for it.
//! - [`key_map`]: the fast-hashed map by workspace of the per-request look-ups.
//! - [`log_pace`]: warnings about one workspace at most once in a while.
//! - [`kept`]: a thread's last value made from a key (peer, user, prefix), made again
//!   only when the key changes.
//! - [`activity`]: this proxy's record of requests per workspace (the reaper's
//!   fallback; launchers decide idleness) and in-flight counts.
//! - [`resume`]: the way back after an idle stop: what does not wake it (a stale
//!   tab's polls, reconnects and beacons) and what does (a navigation).
//! - [`forward`]: the forwarding phases, header rewriting, upgrade tunnel.
//! - [`hop`]: the per-workspace hop credential every request to a launcher carries.
//! - [`runtime`]: the [`runtime::Runtime`] seam and its implementations.
//! - [`server`]: accept loop, dispatch, access log, graceful shutdown.
//! - [`accept`]: the accept side: `TCP_NODELAY`, descriptor limits, the tunnel cap.
//! - [`alloc`]: the memory allocator (jemalloc, returning freed memory).
//! - [`pages`], [`error`], [`body`], [`metrics`], [`state`], [`telemetry`].
//! - [`metrics_listen`]: `/metrics` on an address of its own (`--metrics-listen`).
//! - [`hop_listen`]: launchers' progress pushes on an address of their own
//!   (`--hop-listen`); [`side_listener`]: the serve loop both share.
#![cfg_attr(test, recursion_limit = "256")]

pub mod accept;
pub mod activator;
pub mod activity;
pub mod alloc;
pub mod api;
pub mod asked;
pub mod auth;
pub mod body;
pub mod config;
pub mod edge;
pub mod egress;
pub mod error;
pub mod forward;
pub mod home;
pub mod hop;
pub mod hop_listen;
pub mod instances;
pub mod kept;
pub mod key_map;
pub mod log_pace;
pub mod metrics;
pub mod metrics_listen;
pub mod pages;
pub mod policy;
pub mod preview;
pub mod progress;
pub mod quota;
pub mod repo_probe;
pub mod resume;
pub mod route;
pub mod runtime;
pub mod server;
pub mod side_listener;
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
/// workspaces, or connecting to the Kubernetes API) and the auth mode; starts the
/// timer of the requests' timeouts ([`dcs_net::coarse_timer`]).
pub async fn build(cfg: &Config) -> std::io::Result<Arc<AppState>> {
    dcs_net::coarse_timer::start()?;
    if !matches!(cfg.auth, config::AuthConfig::None { .. }) && cfg.previews.domain.is_none() {
        // Sandboxed previews get no SameSite cookies from browsers: behind a
        // cookie sign-in only their documents load, not their scripts or sockets.
        tracing::warn!(
            "previews are sandboxed under the workspace's path; behind cookie sign-in \
             their sub-requests fail: set --preview-domain (see docs/operations.md)"
        );
    }
    if let (Some(_), Some(via)) = (&cfg.hop.sandbox, egress::machine_proxy()) {
        // The way out connects directly: behind a proxy only, sandboxes reach nothing.
        tracing::warn!(
            proxy = %via,
            "sandboxed workspaces' way out connects directly, not through this machine's \
             proxy: where the internet is reached only through it, they reach nothing \
             outside (see docs/security.md)"
        );
    }
    let metrics = Arc::new(Metrics::default());
    let runtime: Arc<dyn Runtime> = match cfg.runtime {
        RuntimeKind::Local => Arc::new(LocalRuntime::open_with(
            LocalConfig {
                data_dir: cfg.data_dir.clone(),
                launcher_bin: cfg.launcher_bin.clone(),
                git_base: cfg.git_base.clone(),
                git_token_file: cfg.git_token_file.clone(),
                ide: cfg.ide.clone(),
                ide_bin: cfg.ide_bin.clone(),
                stop_grace: cfg.stop_grace,
                start_limit: cfg.limits.git.start_limit(cfg.start_timeout),
                launcher_log: cfg.launcher_log.clone(),
                git: cfg.limits.git,
                extra_ca_file: cfg.extra_ca_file.clone(),
                idle: cfg.idle_policy,
                pre_stop: cfg.pre_stop.clone(),
                devcontainer: cfg.devcontainer,
                extensions_gallery: cfg.extensions_gallery.clone(),
            },
            runtime::local::spawn::Isolation {
                hop: cfg.hop.key.clone(),
                sandbox: cfg.hop.sandbox.clone(),
                egress: cfg.hop.sandbox.as_ref().map(|_| {
                    Arc::new(
                        egress::Egress::new(cfg.egress.clone())
                            .with_gate(accept::tunnel_gate())
                            .with_counts(metrics.egress.clone()),
                    )
                }),
            },
        )?),
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
    let credentials: Arc<dyn api::credentials::CredentialStore> = match &cfg.knative {
        Some(knative) if cfg.runtime == RuntimeKind::Knative => {
            let client = kube::Client::try_default()
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Arc::new(api::credentials::store::KnativeStore::new(
                client,
                knative.clone(),
            ))
        }
        _ => Arc::new(api::credentials::store::LocalStore::new(
            cfg.data_dir.clone(),
        )),
    };
    let edge = cfg.edge.clone().bind(
        &cfg.auth,
        cfg.public_url.as_ref(),
        &cfg.api.cookie.trusted_proxies,
    );
    let repos = repo_probe::RepoProbe::trusting(
        &cfg.git_base,
        cfg.git_token_file.clone(),
        edge.repo_check,
        cfg.extra_ca_file.as_deref(),
    );
    let activator = Arc::new(
        Activator::new(
            runtime,
            cfg.start_timeout,
            cfg.idle_timeout,
            metrics.clone(),
        )
        .with_quotas(edge.quotas)
        .with_repo_probe(Arc::new(repos))
        .with_idle_policy(cfg.idle_policy),
    );
    Ok(Arc::new(AppState {
        auth: auth::build(&cfg.auth, metrics.clone()),
        activator,
        metrics,
        metrics_elsewhere: cfg.metrics_listen.is_some(),
        pushes_elsewhere: cfg.hop.listen.is_some(),
        policy: cfg.policy.clone(),
        links: dcs_model::repo::LinkBase::of_git_base(&cfg.git_base),
        api: cfg.api.clone(),
        instances: instances::Registry::new(instances::CACHE_TTL),
        limits: cfg.limits,
        websocket_streams: cfg.hop.websocket_streams,
        edge,
        previews: cfg.previews.clone(),
        creates: crate::quota::Creates::default(),
        credentials,
        draining: AtomicBool::new(false),
        readiness_asked: AtomicBool::new(false),
    }))
}

/// Serves `listener` with `state` until `shutdown` resolves; runs the idle reaper
/// meanwhile, and waits for the starts an earlier proxy left under way
/// ([`Runtime::join_adopted_starts`]). On return every workspace this proxy runs
/// has been stopped.
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) {
    let reaper = tokio::spawn(state.activator.clone().run_reaper());
    let adopted = {
        let state = state.clone();
        tokio::spawn(async move { state.activator.runtime().join_adopted_starts().await })
    };
    server::run(listener, state, shutdown).await;
    reaper.abort();
    adopted.abort();
}
