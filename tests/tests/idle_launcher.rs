//! Idle is decided by the workspace's launcher and only human use counts, through
//! the real proxy with the `none` IDE and short idle timeouts:
//! - a WebSocket sending VS Code-style KeepAlive messages every 200 ms does not keep
//!   the workspace alive: it stops while they still flow;
//! - the page script's input beacons (`POST /_dcs/activity`) keep it alive;
//! - a terminal job printing every 200 ms keeps it alive while the busy limit allows
//!   (and it stops once the job is done), and is stopped with the policy off
//!   (`--busy-max 0`);
//! - `POST /api/instances/{id}/keepalive` holds it, bounded by `--busy-max` (422);
//! - `GET /api/status` explains: last input, work, open connections, stop time.
//!
//! "Stops" is waited for with generous deadlines; "stays" is checked over several
//! idle timeouts with the launcher's own explanation, never by sampling once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use dcs_e2e::api::call;
use dcs_e2e::{client, Fixture};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const WORKSPACE: &str = "/github/acme/hello/";
const PATIENCE: Duration = Duration::from_secs(90);

/// A VS Code remote-protocol KeepAlive: type 9, id 0, ack 7, no data.
const KEEPALIVE: [u8; 13] = [9, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0];

/// Opens the workspace the way a non-browser client does: the request waits until
/// the workspace runs (a browser would get the progress page meanwhile).
async fn open(fx: &Fixture) -> anyhow::Result<()> {
    let code = client().get(fx.proxy.url(WORKSPACE)).send().await?.status();
    anyhow::ensure!(code == 200, "{code}: {}", fx.proxy.log());
    Ok(())
}

/// The id of the repository workspace, from `GET /api/instances`.
async fn workspace_id(fx: &Fixture) -> anyhow::Result<String> {
    let (code, list) = call(client().get(fx.proxy.url("/api/instances"))).await?;
    anyhow::ensure!(code == 200, "{list}");
    list["instances"]
        .as_array()
        .and_then(|l| l.iter().find(|i| i["repo"] == "acme/hello"))
        .and_then(|i| i["instance_id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no acme/hello in {list}"))
}

async fn status(fx: &Fixture, id: &str) -> anyhow::Result<Value> {
    let (code, status) =
        call(client().get(fx.proxy.url(&format!("/api/status?instance_id={id}")))).await?;
    anyhow::ensure!(code == 200, "{status}");
    Ok(status)
}

/// `POST /api/instances/{id}/keepalive` for `for_s` seconds.
async fn keepalive(fx: &Fixture, id: &str, for_s: u64) -> anyhow::Result<(u16, Value)> {
    let url = fx.proxy.url(&format!("/api/instances/{id}/keepalive"));
    let body = json!({ "for_s": for_s }).to_string();
    call(
        client()
            .post(url)
            .header("content-type", "application/json")
            .body(body),
    )
    .await
}

/// Polls the status until `want` holds, within `PATIENCE`.
async fn status_until(
    fx: &Fixture,
    id: &str,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = status(fx, id).await?;
        if want(&s) {
            return Ok(s);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what}: never; last status {s}\n{}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends VS Code KeepAlive messages on a WebSocket through the proxy every 200 ms
/// until aborted or the socket closes, noting when the last one echoed was sent.
async fn keepalive_sender(
    fx: &Fixture,
) -> anyhow::Result<(JoinHandle<()>, Arc<Mutex<Option<Instant>>>)> {
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}{WORKSPACE}_dcs/ws-echo", fx.proxy.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    let (last, mut sent) = (Arc::<Mutex<Option<Instant>>>::default(), VecDeque::new());
    let echoed = last.clone();
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = every.tick() => {
                    sent.push_back(Instant::now());
                    if ws.send(Message::binary(KEEPALIVE.to_vec())).await.is_err() { break }
                }
                // Echoes come back in order: each is of the oldest one not yet echoed.
                got = ws.next() => match got {
                    Some(Ok(m)) if m.is_binary() => *echoed.lock().expect("e") = sent.pop_front(),
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
    });
    Ok((task, last))
}

/// Opens the `none` IDE's terminal and starts `job` in its foreground; output is
/// read (and dropped) until the socket closes.
async fn terminal_job(fx: &Fixture, job: &str) -> anyhow::Result<JoinHandle<()>> {
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}{WORKSPACE}_dcs/terminal", fx.proxy.addr);
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    let (mut tx, mut rx) = ws.split();
    tx.send(Message::text(format!("{job}\n"))).await?;
    Ok(tokio::spawn(async move {
        while let Some(Ok(_)) = rx.next().await {}
        drop(tx);
    }))
}

#[tokio::test]
async fn vscode_keepalives_do_not_keep_a_workspace_alive() -> anyhow::Result<()> {
    const TIMEOUT: Duration = Duration::from_secs(6);
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("6s"))?;
    open(&fx).await?;
    let pid = fx.proxy.launcher_pids()[0];
    let (sender, last_echoed) = keepalive_sender(&fx).await?;
    let stopped = fx.wait_for_no_launcher(PATIENCE).await;
    let seen_stopped = Instant::now();
    sender.abort();
    assert!(
        stopped,
        "a tab sending only keepalives kept the workspace alive: {}",
        fx.proxy.log()
    );
    assert!(!dcs_e2e::is_alive(pid));
    // They flowed until the stop: the workspace got one sent less than an idle
    // timeout (less a second: its clock counts whole seconds) before the stop was
    // seen (it echoed it), so had it counted as use, it would not have stopped yet.
    let last = *last_echoed.lock().expect("echoed");
    let before_stop = last.map(|sent| seen_stopped - sent);
    assert!(
        before_stop.is_some_and(|d| d < TIMEOUT - Duration::from_secs(1)),
        "the keepalives were flowing when it stopped: the last one echoed was sent \
         {before_stop:?} before the stop was seen"
    );
    // Counted once the stop returned (which may be a moment after the process ended).
    let deadline = Instant::now() + PATIENCE;
    let counted = "dcs_idle_stops_total{reason=\"idle\"} 1";
    while !fx.proxy.metrics().await?.contains(counted) {
        let late = Instant::now() > deadline;
        anyhow::ensure!(!late, "not counted as idle: {}", fx.proxy.metrics().await?);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test]
async fn input_beacons_keep_it_alive_and_status_explains() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("10s"))?;
    open(&fx).await?;
    let id = workspace_id(&fx).await?;
    let launcher = fx.proxy.launcher_pids();
    // A person working for two and a half idle timeouts, as the page script reports
    // it (input beacons every 300 ms, from a task of their own: no slow status below
    // delays them, and the timeout is 30 times that); the tab's keepalives run
    // alongside and change nothing.
    let (sender, _) = keepalive_sender(&fx).await?;
    let until = Instant::now() + Duration::from_secs(25);
    let url = fx.proxy.url(&format!("{WORKSPACE}_dcs/activity"));
    let beacons = tokio::spawn(async move {
        let (http, mut refused) = (client(), Vec::new());
        while Instant::now() < until {
            let beacon = http.post(&url).header("content-type", "application/json");
            match beacon.body(r#"{"kind":"key"}"#).send().await {
                Ok(resp) if resp.status() == 204 => {}
                other => refused.push(format!("{other:?}")),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        refused
    });
    let mut explained = None;
    while Instant::now() < until {
        let s = status(&fx, &id).await?;
        assert_eq!(s["phase"], "running", "stopped while used: {s}");
        if s["idle"]["last_input"]["kind"] == "key" {
            explained = Some(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(fx.proxy.launcher_pids(), launcher, "never stopped");
    let refused = beacons.await?;
    assert!(refused.is_empty(), "every beacon was taken: {refused:?}");
    let s = explained.context("the status never showed the key input")?;
    let idle = &s["idle"];
    assert_eq!(idle["idle_timeout_s"], 10, "{s}");
    assert!(idle["stop_at"].is_u64(), "{s}");
    assert!(idle["open_connections"].is_u64(), "{s}");
    assert!(idle["reason_not_stopping"].is_string(), "{s}");

    // Unknown kinds are refused, and the clock's poll is not use.
    let resp = client()
        .post(fx.proxy.url(&format!("{WORKSPACE}_dcs/activity")))
        .header("content-type", "application/json")
        .body(json!({"kind": "telepathy"}).to_string())
        .send()
        .await?;
    assert_eq!(resp.status(), 422);

    // Once the person stops, the workspace stops (keepalives still flowing).
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "not stopped after the input ended: {}",
        fx.proxy.log()
    );
    sender.abort();
    Ok(())
}

#[tokio::test]
async fn a_watched_terminal_job_keeps_it_alive_and_status_names_it() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("5s"))?;
    open(&fx).await?;
    let id = workspace_id(&fx).await?;
    let marker = fx.tmp.path().join("job-done");
    // Prints every 200 ms for about 15 s (three idle timeouts), then leaves a mark.
    let job = format!(
        "for i in $(seq 1 75); do echo tick $i; sleep 0.2; done; touch {}",
        marker.display()
    );
    let term = terminal_job(&fx, &job).await?;
    let s = status_until(&fx, &id, "the job shows as work", |s| {
        s["idle"]["active_work"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["what"] == "terminal"))
    })
    .await?;
    let launcher = fx.proxy.launcher_pids();
    let idle = &s["idle"];
    assert!(idle["stop_at"].is_null(), "work holds it: {s}");
    assert!(idle["open_connections"].as_u64() >= Some(1), "{s}");
    assert_eq!(idle["last_input"]["kind"], "terminal", "{s}");
    assert!(
        idle["reason_not_stopping"]
            .as_str()
            .is_some_and(|r| r.contains("terminal")),
        "{s}"
    );
    // Held until the job is done, however long the machine takes for it.
    let deadline = Instant::now() + Duration::from_secs(240);
    while !marker.exists() {
        assert_eq!(
            fx.proxy.launcher_pids(),
            launcher,
            "stopped while the job ran: {}",
            fx.proxy.log()
        );
        assert!(Instant::now() < deadline, "the job never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then it idles out, the terminal still open.
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "not stopped after the job: {}",
        fx.proxy.log()
    );
    term.abort();
    Ok(())
}

#[tokio::test]
async fn with_the_busy_policy_off_a_printing_job_is_stopped() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("3s").arg("--busy-max").arg("0"))?;
    open(&fx).await?;
    let marker = fx.tmp.path().join("job-done");
    let job = format!(
        "for i in $(seq 1 3000); do echo tick $i; sleep 0.2; done; touch {}",
        marker.display()
    );
    let term = terminal_job(&fx, &job).await?;
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "a printing job kept it alive with --busy-max 0: {}",
        fx.proxy.log()
    );
    assert!(!marker.exists(), "stopped before the job ended");
    term.abort();
    Ok(())
}

#[tokio::test]
async fn the_keepalive_api_holds_a_workspace_within_the_busy_limit() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--idle-timeout")
            .arg("10s")
            .arg("--busy-max")
            .arg("1m")
    })?;
    open(&fx).await?;
    let id = workspace_id(&fx).await?;
    let keepalive = |for_s| keepalive(&fx, &id, for_s);

    let (code, refused) = keepalive(61).await?;
    assert_eq!(code, 422, "beyond --busy-max: {refused}");
    assert!(refused["message"].is_string(), "{refused}");

    let (code, report) = keepalive(20).await?;
    assert_eq!(code, 200, "{report}\n{}", fx.proxy.log());
    let until = report["keepalive_until"]
        .as_u64()
        .context("keepalive_until")?;
    assert!(report["stop_at"].as_u64() >= Some(until), "{report}");
    let s = status(&fx, &id).await?;
    assert_eq!(s["idle"]["keepalive_until"], until, "{s}");
    assert!(
        s["idle"]["reason_not_stopping"]
            .as_str()
            .is_some_and(|r| r.contains("keep-alive")),
        "{s}"
    );
    // It ends, and then the workspace stops.
    let (code, report) = keepalive(0).await?;
    assert_eq!(code, 200, "{report}");
    assert!(report["keepalive_until"].is_null(), "{report}");
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "not stopped after the keep-alive ended: {}",
        fx.proxy.log()
    );
    let (code, body) = keepalive(10).await?;
    assert_eq!(code, 409, "a stopped instance is not kept alive: {body}");
    Ok(())
}

/// A proxy restarted after a crash adopts the running workspace without routing to
/// it; its reaper still asks the launcher (as a replica that never served it
/// would), so declared work holds the workspace, and it stops once that ends.
#[tokio::test]
async fn a_restarted_proxy_asks_the_workspace_it_adopted_before_stopping_it() -> anyhow::Result<()>
{
    let mut fx = Fixture::new(|b| b.arg("--idle-timeout").arg("4s"))?;
    open(&fx).await?;
    let (code, report) = keepalive(&fx, &workspace_id(&fx).await?, 60).await?;
    assert_eq!(code, 200, "{report}");
    let until = report["keepalive_until"]
        .as_u64()
        .context("keepalive_until")?;
    let launcher = fx.proxy.launcher_pids();
    assert_eq!(launcher.len(), 1);

    fx.proxy.sigkill();
    fx.proxy = dcs_e2e::ProxyBuilder::new(&fx.proxy.data_dir.clone(), &fx.git.base_url())
        .arg("--idle-timeout")
        .arg("4s")
        .start()?;
    // No request reaches the new proxy. Its own record would call the workspace
    // unused after 4 s; the launcher's clock says it is kept until `until`: held
    // until shortly before then (whole seconds), however long the restart took.
    let restarted = Instant::now();
    let held_until = UNIX_EPOCH + Duration::from_secs(until) - Duration::from_secs(3);
    while SystemTime::now() < held_until {
        assert_eq!(
            fx.proxy.launcher_pids(),
            launcher,
            "stopped while its keep-alive held it: {}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Long enough for the new proxy's reaper to have judged it a few times.
    let held = restarted.elapsed();
    let enough = held >= Duration::from_secs(12);
    assert!(enough, "checked for only {held:?} after the restart");
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "not stopped after the keep-alive ended: {}",
        fx.proxy.log()
    );
    Ok(())
}
