//! The shipped manifests keep workspace pods off the proxy's public listener: the
//! proxy's NetworkPolicies (base and every overlay) admit the workspaces'
//! namespace to one port, the one `--hop-listen` binds, and the launchers'
//! `--knative-proxy-url` reaches that port through the Service; the ingress never
//! gets it.

use serde_json::Value;

use crate::runtime::knative::manifests::{files, COMMON_ENV, FIXED_ENV, WORKSPACES_NAMESPACE};

/// Every YAML document the generator ships, with its file's path.
pub(super) fn docs() -> Vec<(String, Value)> {
    files()
        .into_iter()
        .filter(|f| f.path.ends_with(".yaml"))
        .flat_map(|f| {
            let docs: Vec<Value> = serde_saphyr::from_multiple(&f.content)
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
            docs.into_iter().map(move |d| (f.path.to_owned(), d))
        })
        .collect()
}

/// A setting of the Deployment, fixed or in `proxy.env`.
pub(super) fn fixed(name: &str) -> &'static str {
    FIXED_ENV
        .iter()
        .chain(COMMON_ENV)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("the Deployment sets no {name}"))
}

pub(super) fn port_of(addr: &str) -> u16 {
    let (_, port) = addr.rsplit_once(':').expect("host:port");
    port.trim_end_matches('/').parse().expect("a port")
}

/// Whether a NetworkPolicy peer selects the workspaces' namespace.
fn admits_workspaces(peer: &Value) -> bool {
    peer["namespaceSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["key"] == "kubernetes.io/metadata.name"
                && e["operator"] == "In"
                && e["values"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|n| n == WORKSPACES_NAMESPACE))
        })
}

#[test]
fn workspaces_reach_only_the_proxys_hop_port() {
    let docs = docs();
    let hop_port = port_of(fixed("DCS_PROXY_HOP_LISTEN"));
    let main_port = port_of(fixed("DCS_PROXY_LISTEN"));
    assert_ne!(hop_port, main_port);

    let deployment = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["name"] == "dcs-proxy")
        .map(|(_, d)| d)
        .expect("the proxy's Deployment");
    let ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        .as_array()
        .expect("container ports");
    let name_of = |number: u16| {
        ports
            .iter()
            .find(|p| p["containerPort"] == number)
            .and_then(|p| p["name"].as_str())
            .unwrap_or_else(|| panic!("no named container port {number}"))
    };
    let hop_name = name_of(hop_port);
    let main_name = name_of(main_port);

    // The launchers' URL reaches the hop port through the Service.
    let url = fixed("DCS_PROXY_KNATIVE_PROXY_URL");
    let service_port = port_of(url);
    let service = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Service" && d["metadata"]["name"] == "dcs-proxy")
        .map(|(_, d)| d)
        .expect("the proxy's Service");
    assert!(url.starts_with("http://dcs-proxy."), "{url}");
    let target = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"] == service_port)
        .map(|p| p["targetPort"].clone())
        .unwrap_or_else(|| panic!("the Service has no port {service_port}"));
    assert_eq!(target, hop_name, "{url} reaches the hop listener");

    let policies: Vec<&(String, Value)> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "NetworkPolicy" && d["metadata"]["name"] == "dcs-proxy")
        .collect();
    assert!(
        policies.len() >= 2,
        "the base and the ingress-nginx overlay"
    );
    for (path, policy) in policies {
        let rules = policy["spec"]["ingress"].as_array().expect("ingress rules");
        let mut pushes = 0;
        for rule in rules {
            let ports: Vec<&Value> = rule["ports"].as_array().into_iter().flatten().collect();
            let from_workspaces = rule["from"]
                .as_array()
                .into_iter()
                .flatten()
                .any(admits_workspaces);
            let hop = ports
                .iter()
                .any(|p| p["port"] == hop_name || p["port"] == hop_port);
            if from_workspaces {
                pushes += 1;
                assert!(
                    ports.len() == 1 && hop,
                    "{path}: the workspaces reach only the hop port: {rule:#}"
                );
            } else {
                assert!(!hop, "{path}: only workspaces reach the hop port: {rule:#}");
            }
            assert!(
                !(from_workspaces
                    && ports
                        .iter()
                        .any(|p| p["port"] == main_name || p["port"] == main_port)),
                "{path}: workspaces reach the public listener: {rule:#}"
            );
        }
        assert_eq!(pushes, 1, "{path}: one rule admits the workspaces");
    }
}
