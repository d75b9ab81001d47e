//! Tests of the Knative runtime. Fixtures here; suites beside:
//! - [`golden`]: every builder's output, whole ([`golden_history`]: the `history`
//!   container's).
//! - [`schema`]: objects against the upstream Knative CRD schema and feature flags.
//! - [`manifests`]: `knative/` parses strictly, matches the generator, RBAC is exact.
//! - [`trees`]: every kustomize tree of `knative/` builds and is installable.
//! - [`walls`]: the NetworkPolicies: workspaces' egress, the proxy's metrics port
//!   ([`hop_port`]: its hop port).
//! - [`proxy_secrets`]: the proxy can read every Secret it mounts.
//! - [`verifier`]: the exact requests each runtime call makes (scripted API server).
//! - [`contract`]: the shared runtime contract against the stateful fake API server.
//! - [`readiness`]: `ensure` waits for Ready and the route, fails fast with Knative's
//!   reason, keeps the fast path (a clock in the fake API server, the ingress stand-in).
//! - [`replicas`]: two runtimes on one fake API server agree through their caches;
//!   delete is final; no periodic LIST.
//! - [`launcher`]: the first open answered by a real `dcs-launcher` behind the
//!   ingress stand-in.
//! - [`launcher_env`]: proxy settings that reach the launcher through the pod's env.
//! - [`progress`]: the phases of a start from the watch cache, to ready or a reason.
//! - [`progress_push`]: launchers' pushed progress, recorded by one replica, seen by another.
//! - [`serving`]: a serving workspace is left alone by an open from a replica with
//!   other settings; a start outlives an API server that fails once.
//! - [`scheduling`]: a pod waiting for a node is a start still going, for a grace.
//! - [`teardown`]: a delete that fails part-way is finished by the next; a
//!   workspace's own objects go with its Service.
//! - [`reopen`]: opened again while the old objects go (or are stuck going).
//! - [`real_cluster`]: `#[ignore]`d tests against `KUBECONFIG` (`make e2e-k8s`).

mod contract;
mod golden;
mod golden_history;
mod golden_secrets;
mod hop_port;
mod launcher;
mod launcher_env;
mod manifests;
mod pods;
mod progress;
mod progress_push;
mod proxy_secrets;
mod readiness;
mod real_cluster;
mod reopen;
mod replicas;
mod scheduling;
mod schema;
mod serving;
mod teardown;
mod trees;
mod verifier;
mod walls;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use dcs_model::{RepoRef, UserId, WorkspaceKey};

use super::config::{KnativeArgs, KnativeConfig, LauncherSettings};
use crate::runtime::WorkspaceSpec;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: KnativeArgs,
}

/// The default configuration, plus `flags`, with a hop secret (required in this
/// mode, see `config::hop`).
pub fn config_with(flags: &[&str]) -> KnativeConfig {
    let mut argv = vec!["dcs-proxy"];
    argv.extend_from_slice(flags);
    let mut cfg = Cli::try_parse_from(argv)
        .expect("flags parse")
        .args
        .validate()
        .expect("valid");
    cfg.hop = Some(crate::hop::HopKey::from_bytes(&[b'k'; 32]).expect("hop key"));
    cfg
}

/// The default configuration with a git token file configured.
pub fn config() -> KnativeConfig {
    let mut cfg = config_with(&[]);
    cfg.launcher = LauncherSettings {
        git_token_file: Some(PathBuf::from("/etc/dcs/git-token")),
        ..LauncherSettings::default()
    };
    cfg
}

/// Alice's workspace of acme/hello.
pub fn key() -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new("alice@example.com").expect("user"),
        RepoRef::parse("acme/hello").expect("repo"),
    )
}

/// `user`'s workspace of acme/hello.
pub fn contract_key(user: &str) -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new(user).expect("user"),
        RepoRef::parse("acme/hello").expect("repo"),
    )
}

/// Its spec.
pub fn spec() -> WorkspaceSpec {
    WorkspaceSpec::for_repo(key())
}

/// Alice's instance `inst-0123456789abcdef` without a repository, asking for
/// everything a spec can: image, IDE, resources, env (some of it not allowed).
pub fn instance_spec() -> WorkspaceSpec {
    let q = |s: &str| Some(dcs_model::Quantity::parse(s).expect("quantity"));
    WorkspaceSpec::new(
        WorkspaceKey::instance(
            UserId::new("alice@example.com").expect("user"),
            dcs_model::InstanceId::parse("inst-0123456789abcdef").expect("id"),
        ),
        dcs_model::InstanceSpec {
            repo: None,
            base_image: Some(dcs_model::ImageRef::parse("ubuntu:24.04").expect("image")),
            ide: Some("code-server".into()),
            ide_version: Some("4.104.0".into()),
            resources: dcs_model::api::Resources {
                storage: q("20Gi"),
                cpu_request: q("250m"),
                cpu_limit: q("2"),
                memory_request: q("512Mi"),
                memory_limit: q("2Gi"),
            },
            env: [
                ("FOO", "bar"),
                ("HOME", "/root"),
                ("PORT", "1"),
                ("DCS_REPO", "evil/repo"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            token_sha256: Some("ab".repeat(32)),
            created_unix: 1_700_000_000,
            shared_with: dcs_model::Sharing::default(),
        },
    )
}

/// A file of the shared upstream reference data (`../shared/reference/`).
pub fn reference(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference")
        .join(path)
}

/// The checked-in `knative/` tree.
pub fn knative_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../knative")
}

/// Polls `check` every 20 ms until it returns a value; fails the test after 30 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
