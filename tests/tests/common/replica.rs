//! A proxy replica in Knative mode on the fake API server (its `kubeconfig` and the
//! shared `hop.key` under `dir`), reaching workspaces through `ingress`, whose
//! reaper asks the workspaces' clocks every 2 s (`--idle-timeout 20s`).

use dcs_e2e::{Proxy, ProxyBuilder};
use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;

/// Replica `name`, its data dir under `dir`.
pub fn replica(dir: &std::path::Path, name: &str, ingress: &FakeIngress) -> anyhow::Result<Proxy> {
    ProxyBuilder::new(&dir.join(name), "http://127.0.0.1:1")
        .knative(&dir.join("kubeconfig"), &dir.join("hop.key"))
        .arg("--knative-ingress")
        .arg(ingress.addr().to_string())
        .arg("--idle-timeout")
        .arg("20s")
        .start()
}
