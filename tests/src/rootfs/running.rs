//! [`Running`]: a started workspace container of a [`Scene`](super::scene::Scene), and
//! the requests the test makes to its launcher: each carries the workspace's hop
//! credential, as the proxy's requests do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

use super::sandbox::Container;

/// The hop credential the scene's workspace expects (its hop Secret's content);
/// every request the test makes carries it, as the proxy's do.
pub const HOP_CREDENTIAL: &str = "scene-hop-credential-0123456789abcdef";

/// A started workspace container.
#[derive(Debug)]
pub struct Running {
    /// The container (PID 1: the launcher).
    pub container: Container,
    /// Where the launcher listens.
    pub addr: SocketAddr,
    /// The host file bound at the container's `terminationMessagePath`.
    termination: PathBuf,
    http: reqwest::Client,
}

impl Running {
    /// `container`, its address not known yet (`127.0.0.1:0`), its termination
    /// message written to the host file `termination`.
    pub fn new(container: Container, termination: PathBuf) -> Self {
        Self {
            container,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            termination,
            http: crate::client(),
        }
    }

    /// What the container left as its termination message (the kubelet reports it
    /// once the container ended; Knative shows it as the revision's failure).
    pub fn termination_message(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(&self.termination)?)
    }

    /// `GET path` on the launcher: status and body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let res = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .header(dcs_proxy::hop::HEADER, HOP_CREDENTIAL)
            .send()
            .await?;
        Ok((res.status().as_u16(), res.text().await?))
    }

    /// Polls `/_dcs/ready` until its report's phase is `phase` (or `within` passes,
    /// or the workspace fails while waiting for another phase); returns the report.
    pub async fn phase(&self, phase: &str, within: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        loop {
            if let Ok((_, body)) = self.get("/_dcs/ready").await {
                last = serde_json::from_str(&body).unwrap_or(Value::String(body));
                if last["phase"] == phase {
                    return Ok(last);
                }
                if last["phase"] == "failed" {
                    bail!("the workspace failed: {last}\n{}", self.container.log());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "no phase {phase} within {} s (last report {last}):\n{}",
                    within.as_secs(),
                    self.container.log()
                );
            }
            // Fine-grained: the benchmark times readiness with it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `/_dcs/ready` answers 200 (within `within`); returns the report.
    pub async fn ready(&self, within: Duration) -> anyhow::Result<Value> {
        let report = self.phase("ready", within).await?;
        let (status, _) = self.get("/_dcs/ready").await?;
        anyhow::ensure!(status == 200, "ready, but /_dcs/ready answered {status}");
        Ok(report)
    }

    /// Stops it as the kubelet does (SIGTERM to PID 1); its exit code.
    pub async fn stop(mut self) -> anyhow::Result<Option<i32>> {
        self.container.terminate(Duration::from_secs(60)).await
    }
}
