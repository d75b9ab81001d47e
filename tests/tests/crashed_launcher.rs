//! A launcher that died under an open tab (killed, out of memory), through the real
//! proxy in local mode: the tab's background polls get the stopped answer and start
//! nothing, however long they go on, while a person's navigation starts it again;
//! and a request on its way when the workspace was deleted does not make it again.

use std::time::{Duration, Instant};

use dcs_e2e::api::call;
use dcs_e2e::{client, is_alive, wait_until, Fixture};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Generous: the machine is shared.
const PATIENCE: Duration = Duration::from_secs(60);

/// How often an open page polls its workspace in the background (`/_dcs/idle`).
const POLL_PERIOD: Duration = Duration::from_secs(15);

/// Kills the one launcher of `fx` with SIGKILL (as the out-of-memory killer would)
/// and waits until it is gone.
async fn kill_the_launcher(fx: &Fixture) -> anyhow::Result<u32> {
    let pids = fx.proxy.launcher_pids();
    anyhow::ensure!(pids.len() == 1, "one launcher runs: {pids:?}");
    let pid = pids[0];
    kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGKILL)?;
    let gone = wait_until(PATIENCE, Duration::from_millis(20), || !is_alive(pid)).await;
    anyhow::ensure!(gone, "the killed launcher {pid} is gone");
    Ok(pid)
}

#[tokio::test]
async fn background_polls_do_not_restart_a_killed_launcher_but_a_navigation_does(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let killed = kill_the_launcher(&fx).await?;

    // The open tab polls on, for longer than its poll period: each poll is told the
    // workspace stopped, and no launcher starts meanwhile.
    let http = client();
    let began = Instant::now();
    let mut polls = 0;
    while began.elapsed() <= POLL_PERIOD + Duration::from_secs(1) {
        let resp = http
            .get(fx.proxy.url("/github/acme/hello/_dcs/idle"))
            .header("x-dcs-background", "1")
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        assert_eq!(status, 503, "poll {polls}: {text}\n{}", fx.proxy.log());
        let body: serde_json::Value = serde_json::from_str(&text)?;
        assert_eq!(body["stopped"], true, "{body}");
        assert_eq!(body["reason"], "stopped", "{body}");
        assert!(
            fx.proxy.launcher_pids().is_empty(),
            "poll {polls} started a launcher: {}",
            fx.proxy.log()
        );
        polls += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A person opens the page: the workspace starts again.
    let open = dcs_e2e::navigation(http.get(fx.proxy.url("/github/acme/hello/")));
    let resp = open.send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let started = wait_until(PATIENCE, Duration::from_millis(50), || {
        fx.proxy.launcher_pids().iter().any(|&pid| pid != killed)
    });
    assert!(
        started.await,
        "the navigation started it: {}",
        fx.proxy.log()
    );
    fx.readme_is_served().await?;
    Ok(())
}

/// A preview app that holds its first request unanswered (a request on its way
/// while the workspace is deleted) and answers every later one `200 again`.
async fn holding_app() -> anyhow::Result<(u16, tokio::sync::oneshot::Receiver<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (arrived, arrival) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut arrived = Some(arrived);
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            if let Some(arrived) = arrived.take() {
                held.push(stream);
                let _ = arrived.send(());
                continue;
            }
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let resp = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nagain";
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok((port, arrival))
}

#[tokio::test]
async fn a_request_on_its_way_when_the_workspace_is_deleted_does_not_make_it_again(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let (port, arrival) = holding_app().await?;
    let http = client();
    let on_its_way = tokio::spawn({
        let url = fx.proxy.url(&format!("/github/acme/hello/ports/{port}/"));
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await?;
            anyhow::Ok((resp.status(), resp.text().await?))
        }
    });
    tokio::time::timeout(PATIENCE, arrival).await??;

    dcs_e2e::api::delete_the_only_workspace(&fx).await?;

    // The request's launcher went away under it: it is answered that the workspace
    // was deleted, and nothing was made again.
    let (status, text) = tokio::time::timeout(PATIENCE, on_its_way).await???;
    assert_eq!(status, 404, "{text}\n{}", fx.proxy.log());
    assert!(text.contains("deleted"), "{text}");
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "{}",
        fx.proxy.log()
    );
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(list["instances"], serde_json::json!([]), "{list}");
    Ok(())
}
