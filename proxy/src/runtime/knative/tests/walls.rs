//! The shipped NetworkPolicies, read as the cluster would: what a workspace pod
//! may reach (DNS, the proxy's hop port, public addresses; never cloud metadata,
//! the API server, the node network, another workspace or an in-cluster service),
//! and who reaches the proxy's metrics port (a `dcs.dev/metrics=true` namespace,
//! never through the ingress rule).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::hop_port::{docs, fixed, port_of};
use crate::runtime::knative::manifests::{PROXY_NAMESPACE, WORKSPACES_NAMESPACE};

type Labels = BTreeMap<String, String>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn namespace(name: &str) -> Labels {
    labels(&[("kubernetes.io/metadata.name", name)])
}

/// Whether a LabelSelector (absent: nothing to match; `{}`: everything) selects `l`.
fn selects(selector: &Value, l: &Labels) -> bool {
    let by_label = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| l.get(k).map(String::as_str) == v.as_str());
    let by_expression = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = l.get(e["key"].as_str().unwrap_or_default());
            let listed = |v: &String| {
                e["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x == v.as_str())
            };
            match e["operator"].as_str().unwrap_or_default() {
                "In" => value.is_some_and(listed),
                "NotIn" => !value.is_some_and(listed),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("operator {other}"),
            }
        });
    by_label && by_expression
}

/// Whether an egress peer of a policy in the workspaces' namespace selects the
/// pods labelled `pod` in namespace `ns` (labels of the namespace).
fn peer_selects(peer: &Value, ns: &Labels, pod: &Labels) -> bool {
    if peer["ipBlock"].is_object() {
        return false;
    }
    let ns_ok = match peer.get("namespaceSelector") {
        Some(sel) => selects(sel, ns),
        None => {
            ns.get("kubernetes.io/metadata.name").map(String::as_str) == Some(WORKSPACES_NAMESPACE)
        }
    };
    let pod_ok = peer.get("podSelector").is_none_or(|sel| selects(sel, pod));
    ns_ok && pod_ok
}

/// Whether an egress peer admits the address `ip`.
fn peer_admits_ip(peer: &Value, ip: IpAddr) -> bool {
    let block = &peer["ipBlock"];
    let contains = |cidr: &Value| {
        let net: ipnet::IpNet = cidr.as_str().unwrap_or_default().parse().expect("a CIDR");
        net.contains(&ip)
    };
    block.is_object()
        && contains(&block["cidr"])
        && !block["except"]
            .as_array()
            .into_iter()
            .flatten()
            .any(contains)
}

fn peers(rule: &Value, side: &str) -> Vec<Value> {
    rule[side].as_array().cloned().unwrap_or_default()
}

/// The egress rules of every Egress policy of the workspaces' namespace.
fn workspace_egress() -> Vec<(String, Value)> {
    let policies: Vec<(String, Value)> = docs()
        .into_iter()
        .filter(|(_, d)| {
            d["kind"] == "NetworkPolicy"
                && d["metadata"]["namespace"] == WORKSPACES_NAMESPACE
                && d["spec"]["policyTypes"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "Egress"))
        })
        .collect();
    assert!(
        policies
            .iter()
            .any(|(_, p)| p["spec"]["podSelector"] == serde_json::json!({})),
        "an Egress policy selects every workspace pod: {policies:#?}"
    );
    policies
        .into_iter()
        .flat_map(|(path, p)| {
            let rules = p["spec"]["egress"].as_array().cloned().unwrap_or_default();
            rules.into_iter().map(move |r| (path.clone(), r))
        })
        .collect()
}

/// `(port, protocol)` of a rule's ports (protocol defaults to TCP).
fn ports(rule: &Value) -> Option<Vec<(Value, String)>> {
    rule["ports"].as_array().map(|ps| {
        ps.iter()
            .map(|p| {
                let protocol = p["protocol"].as_str().unwrap_or("TCP").to_owned();
                (p["port"].clone(), protocol)
            })
            .collect()
    })
}

#[test]
fn workspaces_reach_dns_the_hop_port_and_public_addresses_only() {
    let rules = workspace_egress();
    let hop = i64::from(port_of(fixed("DCS_PROXY_HOP_LISTEN")));
    let proxy_pod = labels(&[("app.kubernetes.io/name", "dcs-proxy")]);
    let dns_pod = labels(&[("k8s-app", "kube-dns")]);
    let mut dns = (false, false);
    let mut pushes = false;
    for (path, rule) in &rules {
        let to = peers(rule, "to");
        assert!(
            !to.is_empty(),
            "{path}: a rule admitting everything: {rule:#}"
        );
        let ports = ports(rule);
        for peer in &to {
            // Knative's data plane relays to any workspace by Host; Authentik is
            // not a workspace's to call; another workspace is another user's.
            for ns in ["kourier-system", "knative-serving", "authentik", "default"] {
                assert!(
                    !peer_selects(peer, &namespace(ns), &Labels::new()),
                    "{path}: workspaces reach namespace {ns}: {rule:#}"
                );
            }
            assert!(
                !peer_selects(peer, &namespace(WORKSPACES_NAMESPACE), &Labels::new()),
                "{path}: workspaces reach each other: {rule:#}"
            );
            if peer_selects(peer, &namespace(PROXY_NAMESPACE), &Labels::new()) {
                panic!("{path}: every pod of {PROXY_NAMESPACE}: {rule:#}");
            }
            if peer_selects(peer, &namespace(PROXY_NAMESPACE), &proxy_pod) {
                assert_eq!(
                    ports,
                    Some(vec![(Value::from(hop), "TCP".to_owned())]),
                    "{path}: the proxy only on its hop port: {rule:#}"
                );
                pushes = true;
            }
            assert!(
                !peer_selects(peer, &namespace("kube-system"), &Labels::new()),
                "{path}: every pod of kube-system: {rule:#}"
            );
            if peer_selects(peer, &namespace("kube-system"), &dns_pod) {
                let ports = ports.clone().unwrap_or_default();
                assert!(
                    ports.iter().all(|(p, _)| *p == 53),
                    "{path}: DNS only: {rule:#}"
                );
                dns.0 |= ports.contains(&(Value::from(53), "UDP".to_owned()));
                dns.1 |= ports.contains(&(Value::from(53), "TCP".to_owned()));
            }
        }
    }
    assert_eq!(dns, (true, true), "cluster DNS on 53 UDP and TCP");
    assert!(pushes, "the launchers' progress pushes reach the proxy");

    let admitted = |ip: &str| {
        let ip: IpAddr = ip.parse().expect("an address");
        rules
            .iter()
            .any(|(_, r)| peers(r, "to").iter().any(|p| peer_admits_ip(p, ip)))
    };
    for ip in [
        // Cloud metadata (GCP, AWS, Azure; AWS over IPv6), NodeLocal DNS's address.
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.20.10",
        // The `kubernetes` Service of kubeadm/kind, GKE/AKS, k3s, EKS (two CIDRs),
        // and private control planes and nodes.
        "10.96.0.1",
        "10.0.0.1",
        "10.43.0.1",
        "10.100.0.1",
        "172.20.0.1",
        "172.16.0.2",
        "192.168.1.10",
        "100.64.0.1",
        // Pods over IPv6 (unique local), link-local, loopback.
        "fd12:3456::1",
        "fe80::1",
        "127.0.0.1",
        "::1",
    ] {
        assert!(!admitted(ip), "a workspace reaches {ip}");
    }
    for ip in ["140.82.112.3", "2606:4700::1111"] {
        assert!(
            admitted(ip),
            "a workspace cannot reach the internet at {ip}"
        );
    }
}

/// The proxy's policies, base and overlays.
fn proxy_policies() -> Vec<(String, Value)> {
    docs()
        .into_iter()
        .filter(|(_, d)| d["kind"] == "NetworkPolicy" && d["metadata"]["name"] == "dcs-proxy")
        .collect()
}

#[test]
fn the_metrics_port_is_reached_only_from_metrics_namespaces() {
    let metrics = labels(&[("dcs.dev/metrics", "true")]);
    let ingress = labels(&[("dcs.dev/ingress", "true")]);
    let is_metrics_port = |p: &Value| *p == "metrics" || *p == 9090;
    let policies = proxy_policies();
    assert!(
        policies.len() >= 2,
        "the base and the ingress-nginx overlay"
    );
    for (path, policy) in policies {
        let mut scraped = false;
        for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
            let from = peers(rule, "from");
            let ports = ports(rule);
            let selects = |l: &Labels| {
                from.iter()
                    .any(|p| p.get("namespaceSelector").is_some_and(|s| selects(s, l)))
            };
            let metrics_port = ports
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|(p, _)| is_metrics_port(p)));
            assert!(
                !(selects(&ingress) && metrics_port),
                "{path}: the ingress reaches the metrics port: {rule:#}"
            );
            if selects(&metrics) {
                assert!(
                    ports
                        .as_ref()
                        .is_some_and(|ps| ps.iter().all(|(p, _)| is_metrics_port(p))),
                    "{path}: a scraper reaches more than the metrics port: {rule:#}"
                );
                scraped |= metrics_port;
            }
        }
        assert!(
            scraped,
            "{path}: no rule admits dcs.dev/metrics=true to port metrics"
        );
    }
}
