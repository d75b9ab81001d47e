//! `--knative-*` flags ([`KnativeArgs`], flattened into `dcs-proxy serve`) and their
//! validation into a [`KnativeConfig`], listing every problem at once.
//!
//! Settings shared with local mode (git base, IDE, git token file, stop grace,
//! launcher log) are not repeated here: the caller puts them into
//! [`KnativeConfig::launcher`] from the common configuration.

use std::time::Duration;

use clap::{Args, ValueEnum};
use dcs_model::K8sName;

mod extra_ca;
mod launcher;

pub use extra_ca::{CaSource, ExtraCa, DEFAULT_EXTRA_CA_KEY};
pub use launcher::LauncherSettings;

/// How a user's workspace volume may be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VolumeAccess {
    /// One node at a time; a pod affinity keeps a user's workspaces on one node.
    ReadWriteOnce,
    /// Any number of nodes (needs a storage class that offers it, e.g. NFS, CephFS).
    ReadWriteMany,
}

impl VolumeAccess {
    /// The Kubernetes access mode.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeAccess::ReadWriteOnce => "ReadWriteOnce",
            VolumeAccess::ReadWriteMany => "ReadWriteMany",
        }
    }
}

/// `dcs-proxy serve --runtime knative` flags.
#[derive(Debug, Clone, Args)]
pub struct KnativeArgs {
    /// Namespace of the workspaces' Knative Services, volumes and Secrets.
    #[arg(
        long,
        env = "DCS_PROXY_KNATIVE_NAMESPACE",
        default_value = "dcs-workspaces"
    )]
    pub knative_namespace: String,
    /// Image whose `/usr/local/bin/dcs-launcher` (static) an init container copies
    /// into each workspace.
    #[arg(long, env = "DCS_PROXY_KNATIVE_LAUNCHER_IMAGE", default_value = DEFAULT_LAUNCHER_IMAGE)]
    pub knative_launcher_image: String,
    /// The workspace container's image (any Linux image; it runs `dcs-launcher run`).
    #[arg(long, env = "DCS_PROXY_KNATIVE_BASE_IMAGE", default_value = DEFAULT_BASE_IMAGE)]
    pub knative_base_image: String,
    /// Size of each user's workspace volume (mounted at /workspaces).
    #[arg(long, env = "DCS_PROXY_KNATIVE_VOLUME_SIZE", default_value = "10Gi")]
    pub knative_volume_size: String,
    /// Storage class of the volumes [default: the cluster's default class].
    #[arg(long, env = "DCS_PROXY_KNATIVE_STORAGE_CLASS")]
    pub knative_storage_class: Option<String>,
    /// Access mode of each user's workspace volume.
    #[arg(
        long,
        env = "DCS_PROXY_KNATIVE_VOLUME_ACCESS",
        value_enum,
        default_value = "read-write-once"
    )]
    pub knative_volume_access: VolumeAccess,
    /// Size of each workspace's own volume for IDE settings and extensions ($HOME).
    #[arg(long, env = "DCS_PROXY_KNATIVE_HOME_SIZE", default_value = "2Gi")]
    pub knative_home_size: String,
    /// Longest request or WebSocket to a workspace (Knative `timeoutSeconds`); at most
    /// the cluster's `max-revision-timeout-seconds`.
    #[arg(long, env = "DCS_PROXY_KNATIVE_REQUEST_TIMEOUT", default_value = "1h", value_parser = humantime::parse_duration)]
    pub knative_request_timeout: Duration,
    /// How long a workspace may take to become ready (first clone included).
    #[arg(long, env = "DCS_PROXY_KNATIVE_PROGRESS_DEADLINE", default_value = "30m", value_parser = humantime::parse_duration)]
    pub knative_progress_deadline: Duration,
    /// CPU request of a workspace.
    #[arg(long, env = "DCS_PROXY_KNATIVE_CPU_REQUEST", default_value = "500m")]
    pub knative_cpu_request: String,
    /// CPU limit of a workspace [default: none].
    #[arg(long, env = "DCS_PROXY_KNATIVE_CPU_LIMIT")]
    pub knative_cpu_limit: Option<String>,
    /// Memory request of a workspace.
    #[arg(long, env = "DCS_PROXY_KNATIVE_MEMORY_REQUEST", default_value = "1Gi")]
    pub knative_memory_request: String,
    /// Memory limit of a workspace.
    #[arg(long, env = "DCS_PROXY_KNATIVE_MEMORY_LIMIT", default_value = "4Gi")]
    pub knative_memory_limit: String,
    /// User and group id the workspace runs as (also the volumes' fsGroup).
    #[arg(long, env = "DCS_PROXY_KNATIVE_RUN_AS", default_value_t = 1000)]
    pub knative_run_as: i64,
    /// Image pull Secret for the base and launcher images, in the workspace namespace.
    #[arg(long, env = "DCS_PROXY_KNATIVE_IMAGE_PULL_SECRET")]
    pub knative_image_pull_secret: Option<String>,
    /// The cluster's DNS domain (workspaces are `<name>.<ns>.svc.<domain>`).
    #[arg(
        long,
        env = "DCS_PROXY_KNATIVE_CLUSTER_DOMAIN",
        default_value = "cluster.local"
    )]
    pub knative_cluster_domain: String,
    /// A Secret (in the workspace namespace) holding CA certificates workspaces trust
    /// besides Mozilla's and the image's: a private git server's or IDE mirror's CA.
    /// Mounted read-only; the launcher's `DCS_EXTRA_CA_FILE` names it.
    #[arg(long, env = "DCS_PROXY_KNATIVE_EXTRA_CA_SECRET")]
    pub knative_extra_ca_secret: Option<String>,
    /// Like `--knative-extra-ca-secret`, from a ConfigMap (e.g. one trust-manager fills).
    #[arg(long, env = "DCS_PROXY_KNATIVE_EXTRA_CA_CONFIGMAP")]
    pub knative_extra_ca_configmap: Option<String>,
    /// The key of the PEM bundle in that Secret or ConfigMap.
    #[arg(
        long,
        env = "DCS_PROXY_KNATIVE_EXTRA_CA_KEY",
        default_value = DEFAULT_EXTRA_CA_KEY
    )]
    pub knative_extra_ca_key: String,
    /// How workspace pods reach the proxy (its Service, plain HTTP inside the
    /// cluster): each launcher pushes its start-up progress to
    /// `<url>/_dcs/hop/progress/<name>` (`DCS_PROGRESS_URL`) while its pod is not
    /// routable.
    #[arg(
        long,
        env = "DCS_PROXY_KNATIVE_PROXY_URL",
        default_value = DEFAULT_PROXY_URL
    )]
    pub knative_proxy_url: String,
    /// Reach every workspace's route through this `host:port` (the cluster's
    /// internal Knative ingress, e.g. `kourier-internal.kourier-system.svc:80`) with
    /// the route's name as `Host`, instead of resolving each workspace's name
    /// [default: each route's cluster-local name].
    #[arg(long, env = "DCS_PROXY_KNATIVE_INGRESS")]
    pub knative_ingress: Option<String>,
}

/// The proxy's Service as workspace pods reach it (see the manifests).
pub const DEFAULT_PROXY_URL: &str = "http://dcs-proxy.dcs.svc.cluster.local";

/// The launcher image matching this build.
pub const DEFAULT_LAUNCHER_IMAGE: &str = concat!("dcs-launcher:", env!("CARGO_PKG_VERSION"));
/// The proxy image matching this build.
pub const DEFAULT_PROXY_IMAGE: &str = concat!("dcs-proxy:", env!("CARGO_PKG_VERSION"));
/// A base image with git, a shell and CA certificates, user 1000.
pub const DEFAULT_BASE_IMAGE: &str = "mcr.microsoft.com/devcontainers/base:bookworm";

/// Workspace resources (Kubernetes quantities, validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU request.
    pub cpu_request: String,
    /// CPU limit, if any.
    pub cpu_limit: Option<String>,
    /// Memory request.
    pub memory_request: String,
    /// Memory limit.
    pub memory_limit: String,
}

/// A validated Knative runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnativeConfig {
    /// Workspace namespace.
    pub namespace: String,
    /// Launcher image (init container).
    pub launcher_image: String,
    /// Workspace container image.
    pub base_image: String,
    /// User volume size.
    pub volume_size: String,
    /// Storage class for both volumes.
    pub storage_class: Option<String>,
    /// User volume access mode.
    pub volume_access: VolumeAccess,
    /// Per-workspace home volume size.
    pub home_size: String,
    /// `timeoutSeconds` = `responseStartTimeoutSeconds`.
    pub request_timeout_secs: i64,
    /// `serving.knative.dev/progress-deadline`, seconds.
    pub progress_deadline_secs: i64,
    /// Container resources.
    pub resources: Resources,
    /// uid = gid = fsGroup.
    pub run_as: i64,
    /// Image pull Secret name.
    pub image_pull_secret: Option<String>,
    /// Cluster DNS domain.
    pub cluster_domain: String,
    /// Extra CA certificates mounted into workspaces, if any.
    pub extra_ca: Option<ExtraCa>,
    /// The proxy's URL as workspace pods reach it (no trailing slash).
    pub proxy_url: String,
    /// Where routes are reached instead of their names (`--knative-ingress`).
    pub ingress: Option<String>,
    /// Shared launcher settings.
    pub launcher: LauncherSettings,
    /// The proxy's hop secret (`--hop-secret-file`): each workspace's credential is
    /// derived from it and put into the workspace's hop Secret.
    pub hop: Option<crate::hop::HopKey>,
}

impl KnativeArgs {
    /// Checks every flag; returns all problems found.
    pub fn validate(&self) -> Result<KnativeConfig, Vec<String>> {
        let mut problems = Vec::new();
        if !K8sName::is_dns1035(&self.knative_namespace) {
            problems.push(format!(
                "--knative-namespace {:?} is not a valid namespace name (lowercase letters, digits, '-')",
                self.knative_namespace
            ));
        }
        for (flag, image) in [
            ("--knative-launcher-image", &self.knative_launcher_image),
            ("--knative-base-image", &self.knative_base_image),
        ] {
            if image.is_empty() || image.chars().any(|c| c.is_whitespace()) {
                problems.push(format!("{flag} {image:?} is not an image reference"));
            }
        }
        let quantities = [
            ("--knative-volume-size", Some(&self.knative_volume_size)),
            ("--knative-home-size", Some(&self.knative_home_size)),
            ("--knative-cpu-request", Some(&self.knative_cpu_request)),
            ("--knative-cpu-limit", self.knative_cpu_limit.as_ref()),
            (
                "--knative-memory-request",
                Some(&self.knative_memory_request),
            ),
            ("--knative-memory-limit", Some(&self.knative_memory_limit)),
        ];
        for (flag, q) in quantities {
            if let Some(q) = q.filter(|q| !is_quantity(q)) {
                problems.push(format!(
                    "{flag} {q:?} is not a Kubernetes quantity (e.g. 500m, 2, 1Gi)"
                ));
            }
        }
        let secs = |flag: &str, d: Duration, min: u64, max: u64, problems: &mut Vec<String>| {
            let s = d.as_secs();
            if !(min..=max).contains(&s) {
                problems.push(format!("{flag} must be between {min}s and {max}s"));
            }
            i64::try_from(s).unwrap_or(i64::MAX)
        };
        let request_timeout_secs = secs(
            "--knative-request-timeout",
            self.knative_request_timeout,
            60,
            86_400,
            &mut problems,
        );
        let progress_deadline_secs = secs(
            "--knative-progress-deadline",
            self.knative_progress_deadline,
            60,
            86_400,
            &mut problems,
        );
        if !(1..=2_147_483_647).contains(&self.knative_run_as) {
            problems.push("--knative-run-as must be a non-root uid (1 or more)".into());
        }
        let names = [
            ("--knative-storage-class", &self.knative_storage_class),
            (
                "--knative-image-pull-secret",
                &self.knative_image_pull_secret,
            ),
        ];
        for (flag, name) in names {
            if let Some(n) = name.as_ref().filter(|n| !is_dns1123_subdomain(n)) {
                problems.push(format!("{flag} {n:?} is not a valid object name"));
            }
        }
        if !is_dns1123_subdomain(&self.knative_cluster_domain) {
            problems.push(format!(
                "--knative-cluster-domain {:?} is not a DNS domain",
                self.knative_cluster_domain
            ));
        }
        let extra_ca = extra_ca::from_args(self, &mut problems);
        let proxy_url = self.knative_proxy_url.trim_end_matches('/');
        if !proxy_url.starts_with("http://") && !proxy_url.starts_with("https://") {
            problems.push(format!(
                "--knative-proxy-url {:?} must start with http:// or https://",
                self.knative_proxy_url
            ));
        }
        let ingress = self.knative_ingress.as_ref();
        if let Some(i) = ingress.filter(|i| !is_host_port(i)) {
            problems.push(format!("--knative-ingress {i:?} is not host:port"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(KnativeConfig {
            namespace: self.knative_namespace.clone(),
            launcher_image: self.knative_launcher_image.clone(),
            base_image: self.knative_base_image.clone(),
            volume_size: self.knative_volume_size.clone(),
            storage_class: self.knative_storage_class.clone(),
            volume_access: self.knative_volume_access,
            home_size: self.knative_home_size.clone(),
            request_timeout_secs,
            progress_deadline_secs,
            resources: Resources {
                cpu_request: self.knative_cpu_request.clone(),
                cpu_limit: self.knative_cpu_limit.clone(),
                memory_request: self.knative_memory_request.clone(),
                memory_limit: self.knative_memory_limit.clone(),
            },
            run_as: self.knative_run_as,
            image_pull_secret: self.knative_image_pull_secret.clone(),
            cluster_domain: self.knative_cluster_domain.clone(),
            extra_ca,
            proxy_url: proxy_url.to_owned(),
            ingress: ingress.cloned(),
            launcher: LauncherSettings::default(),
            hop: None,
        })
    }
}

/// The registry Knative resolves `image`'s tag against (go-containerregistry's
/// rule, which Knative's digest resolver uses): the first path component when it
/// looks like a host (has a `.` or a `:`, or is `localhost`), else Docker Hub,
/// `index.docker.io` (also for an explicit `docker.io`). That is the name
/// `config-deployment`'s `registries-skipping-tag-resolving` must list to skip it.
pub fn image_registry(image: &str) -> String {
    let hub = || "index.docker.io".to_owned();
    match image.split_once('/') {
        Some(("docker.io", _)) => hub(),
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_owned(),
        _ => hub(),
    }
}

/// Whether `s` is a `host:port` authority (no user info, a port given).
fn is_host_port(s: &str) -> bool {
    s.parse::<http::uri::Authority>()
        .is_ok_and(|a| a.port_u16().is_some() && !a.host().is_empty() && !s.contains('@'))
}

/// Whether `s` is a Kubernetes quantity: a decimal number with an optional
/// binary (`Ki`…`Ei`) or decimal (`m`, `k`, `M`…`E`) suffix.
pub fn is_quantity(s: &str) -> bool {
    dcs_model::Quantity::parse(s).is_ok()
}

/// Whether `s` is a DNS-1123 subdomain (the rule for most object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

#[cfg(test)]
mod tests;
