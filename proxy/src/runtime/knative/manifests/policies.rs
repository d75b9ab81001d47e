//! The NetworkPolicies of the base (`base/network-policies.yaml`): who may reach
//! the proxy, who may reach a workspace, and what a workspace may reach.
//!
//! - `dcs/dcs-proxy` (ingress): the public listener from namespaces labelled
//!   `dcs.dev/ingress=true` (the gateway or ingress), the scrape port from
//!   namespaces labelled `dcs.dev/metrics=true` (the monitoring), the hop port
//!   (`--hop-listen`) from the workspaces' namespace (launchers pushing progress).
//! - `dcs-workspaces/dcs-workspaces` (ingress): only Knative's data plane.
//! - `dcs-workspaces/dcs-workspaces-egress` (egress): the workspace runs its user's
//!   code, so it reaches cluster DNS, the proxy's hop port, and public addresses
//!   only: never cloud metadata, the Kubernetes API, the node network, another
//!   workspace or any in-cluster service (Authentik, Kourier, the activator).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::base::{meta, strings};
use super::proxy::{HOP_PORT, HOP_PORT_NAME, METRICS_PORT_NAME};
use super::{PROXY_NAME, PROXY_NAMESPACE, WORKSPACES_NAMESPACE};

/// The namespaces a workspace's traffic comes from: Knative's activator, Kourier.
const DATA_PLANE_NAMESPACES: &[&str] = &["knative-serving", "kourier-system"];

/// The namespace label that admits a gateway or ingress to the proxy's public port.
pub const INGRESS_LABEL: &str = "dcs.dev/ingress";
/// The namespace label that admits a scraper to the proxy's metrics port.
pub const METRICS_LABEL: &str = "dcs.dev/metrics";

/// Cluster DNS: namespace and pod label of CoreDNS / kube-dns.
const DNS_NAMESPACE: &str = "kube-system";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// What "the internet" leaves out, IPv4: private (RFC 1918: the pod, Service and
/// node networks of usual clusters, the API server behind its Service), shared
/// (RFC 6598: carrier-grade NAT, some clusters' pods), link-local (cloud metadata
/// at 169.254.169.254) and loopback.
pub const NOT_PUBLIC_V4: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
];
/// IPv6: unique local (clusters' pods, AWS metadata at fd00:ec2::254), link-local,
/// loopback.
pub const NOT_PUBLIC_V6: &[&str] = &["fc00::/7", "fe80::/10", "::1/128"];

pub(super) fn from_namespaces(names: &[&str]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".into(),
                operator: "In".into(),
                values: Some(strings(names)),
            }]),
            match_labels: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn labelled(key: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        match_expressions: None,
    }
}

/// Pods labelled `key=value` in namespace `namespace`.
fn pods_in(namespace: &str, key: &str, value: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(labelled(key, value)),
        ..from_namespaces(&[namespace])
    }
}

fn tcp(port: IntOrString) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(port),
        protocol: Some("TCP".into()),
        end_port: None,
    }
}

fn named(port: &str) -> NetworkPolicyPort {
    tcp(IntOrString::String(port.into()))
}

fn public(cidr: &str, except: &[&str]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.into(),
            except: Some(strings(except)),
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The proxy: its public listener only from namespaces labelled
/// [`INGRESS_LABEL`]`=true`, its scrape port only from [`METRICS_LABEL`]`=true`,
/// its hop port (`--hop-listen`) only from the workspaces' namespace: a workspace's
/// code never reaches the public listener from inside the cluster, and a scraper
/// never the public listener either.
pub fn proxy_policy() -> NetworkPolicy {
    let from_labelled = |label: &str, port: &str| NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(labelled(label, "true")),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![named(port)]),
    };
    NetworkPolicy {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(labelled("app.kubernetes.io/name", PROXY_NAME)),
            policy_types: Some(strings(&["Ingress"])),
            ingress: Some(vec![
                from_labelled(INGRESS_LABEL, "http"),
                NetworkPolicyIngressRule {
                    // Launchers push their start's progress to the proxy while their
                    // pod is not routable (`DCS_PROGRESS_URL`, hop credential).
                    from: Some(vec![from_namespaces(&[WORKSPACES_NAMESPACE])]),
                    ports: Some(vec![named(HOP_PORT_NAME)]),
                },
                from_labelled(METRICS_LABEL, METRICS_PORT_NAME),
            ]),
            egress: None,
        }),
    }
}

/// Workspaces accept traffic only from the Knative data plane.
fn workspace_ingress() -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(
            "dcs-workspaces",
            Some(WORKSPACES_NAMESPACE),
            "dcs-workspace",
        ),
        spec: Some(NetworkPolicySpec {
            // Every pod of the namespace: nothing else may reach a workspace.
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(strings(&["Ingress"])),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![from_namespaces(DATA_PLANE_NAMESPACES)]),
                ports: None,
            }]),
            egress: None,
        }),
    }
}

/// Workspaces reach cluster DNS, the proxy's hop port (progress pushes to
/// `--knative-proxy-url`; by number: egress is matched after the Service's
/// translation, on the pod's port) and public addresses (the git base and IDE
/// downloads by default; the `checkout` and `history` containers fetch from the git
/// base too). Knative's queue-proxy sidecar only serves. Sites with an in-cluster
/// git server, mirror or HTTP proxy add an egress policy of their own for it (see
/// docs/operations.md).
fn workspace_egress() -> NetworkPolicy {
    let dns = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.into()),
        end_port: None,
    };
    NetworkPolicy {
        metadata: meta(
            "dcs-workspaces-egress",
            Some(WORKSPACES_NAMESPACE),
            "dcs-workspace",
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(strings(&["Egress"])),
            ingress: None,
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![pods_in(DNS_NAMESPACE, DNS_LABEL.0, DNS_LABEL.1)]),
                    ports: Some(vec![dns("UDP"), dns("TCP")]),
                },
                NetworkPolicyEgressRule {
                    to: Some(vec![pods_in(
                        PROXY_NAMESPACE,
                        "app.kubernetes.io/name",
                        PROXY_NAME,
                    )]),
                    ports: Some(vec![tcp(IntOrString::Int(HOP_PORT))]),
                },
                NetworkPolicyEgressRule {
                    to: Some(vec![
                        public("0.0.0.0/0", NOT_PUBLIC_V4),
                        public("::/0", NOT_PUBLIC_V6),
                    ]),
                    ports: None,
                },
            ]),
        }),
    }
}

/// Every policy of `base/network-policies.yaml`, the proxy's first.
pub fn network_policies() -> Vec<NetworkPolicy> {
    vec![proxy_policy(), workspace_ingress(), workspace_egress()]
}
