//! The pod's second container, `history`: `dcs-launcher checkout --history --stay`
//! from the launcher image, beside the workspace container. The `checkout` init
//! container never waits for a history (a shallow checkout stays shallow at later
//! starts), so a start takes as long as a fetch whatever the repository's size; this
//! one fetches the rest of a shallow checkout's history while the workspace runs,
//! then stays idle until the pod stops (a container that exits is restarted, and a
//! restarting one makes the pod unready). It mounts the user's volume and the git
//! token exactly as `checkout` does, and the `checkout` folder (its trust bundle's
//! config, which the workspace container mounts read-only); no hop credential (it
//! pushes no progress) and no port (the workspace container has the only one).
//!
//! Small requests (nobody waits for it; its transfer runs at a lower priority); the
//! workspace's memory limit, as a fetch of the same repository needs what the
//! checkout's did, and an OOM kill would restart it again and again.

use k8s_openapi::api::core::v1::{Container, ResourceRequirements};

use super::{
    container_security, env_vars, mount, quantities, workspace_resources, CHECKOUT_DIR,
    EXTRA_CA_DIR, GIT_TOKEN_DIR, LAUNCHER_IN_IMAGE, WORKSPACES_DIR,
};
use crate::runtime::knative::config::KnativeConfig;
use crate::runtime::knative::objects::checkout_env;
use crate::runtime::WorkspaceSpec;

/// The container's name.
pub const NAME: &str = "history";

/// The `history` container of `spec`'s pod; `None` for a workspace without a
/// repository (it has no history).
pub(super) fn container(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Option<Container> {
    let mut env = checkout_env(cfg, spec);
    env.repo.as_ref()?;
    // Its progress is nobody's: no hop credential, nothing pushed.
    env.hop_secret_file = None;
    env.progress_url = None;
    let mut mounts = vec![
        mount("workspaces", WORKSPACES_DIR, false),
        mount("checkout", CHECKOUT_DIR, false),
    ];
    if cfg.launcher.git_token_file.is_some() {
        mounts.push(mount("git-token", GIT_TOKEN_DIR, true));
    }
    if cfg.extra_ca.is_some() {
        mounts.push(mount("extra-ca", EXTRA_CA_DIR, true));
    }
    let memory_limit = workspace_resources(cfg, spec)
        .limits
        .and_then(|l| l.get("memory").map(|q| q.0.clone()));
    Some(Container {
        name: NAME.to_owned(),
        image: Some(cfg.launcher_image.clone()),
        command: Some(
            [LAUNCHER_IN_IMAGE, "checkout", "--history", "--stay"]
                .map(str::to_owned)
                .to_vec(),
        ),
        working_dir: Some(WORKSPACES_DIR.to_owned()),
        env: Some(env_vars(&env)),
        resources: Some(ResourceRequirements {
            requests: quantities(&[
                ("cpu", Some(&"10m".to_owned())),
                ("memory", Some(&"64Mi".to_owned())),
            ]),
            limits: quantities(&[("memory", memory_limit.as_ref())]),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security(cfg)),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    })
}
