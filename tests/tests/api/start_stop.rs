//! `POST /api/instances/{id}/stop`: the IDE warning's Stop now through the API. It
//! stops the workspace at once, keeps its files, tells its open tabs (Resume, not a
//! wake), is the same for a workspace already stopped, and the next open wakes it;
//! during a first clone it ends the start. `POST /api/instances/{id}/start` starts a
//! stopped one without waiting, its tabs then see it run, and a running one is left
//! as it is. A stop after a progress page stopped waiting for the start (the start
//! timeout) is not undone by that page's poll.

use super::*;

#[tokio::test]
async fn a_stop_through_the_api_is_at_once_keeps_the_files_and_the_next_open_wakes_it(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let stop = |id: &str| http.post(fx.proxy.url(&format!("/api/instances/{id}/stop")));

    // No such instance: 404, as for every instance route; a malformed id the same.
    for id in ["inst-0123456789abcdef", "not-an-id"] {
        let (code, err) = call(stop(id)).await?;
        assert_eq!(
            (code, err["error"].as_str()),
            (404, Some("not_found")),
            "{id}: {err}"
        );
    }

    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    std::fs::write(fx.checkout().join("scratch.txt"), "unsaved work\n")?;
    let (id, _) = the_only_one(&fx).await?;

    // Stopped when the answer comes (the local runtime waits for it).
    let (code, stopped) = call(stop(&id)).await?;
    assert_eq!(code, 200, "{stopped} {}", fx.proxy.log());
    assert_eq!(
        (stopped["instance_id"].as_str(), stopped["status"].as_str()),
        (Some(id.as_str()), Some("stopped")),
        "{stopped}"
    );
    assert_eq!(stopped["repo"], "acme/hello");
    assert!(
        fx.wait_for_no_launcher(START).await,
        "its launcher is gone: {}",
        fx.proxy.log()
    );
    // Its open tab's poll is told it was asked to stop (Resume), and wakes nothing.
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/idle"))
        .header("x-dcs-background", "1")
        .send()
        .await?;
    assert_eq!(resp.status(), 503);
    let told: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(told["reason"], "requested", "{told}");
    assert!(fx.proxy.launcher_pids().is_empty(), "the poll woke nothing");

    // Stopping a stopped workspace is the same answer.
    let (code, again) = call(stop(&id)).await?;
    assert_eq!(
        (code, again["status"].as_str()),
        (200, Some("stopped")),
        "{again}"
    );

    // Files kept; the next open wakes it with them.
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/scratch.txt"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(resp.text().await?, "unsaved work\n");
    let (_, status) =
        call(http.get(fx.proxy.url(&format!("/api/status?instance_id={id}")))).await?;
    assert_eq!(status["phase"], "running", "{status}");
    Ok(())
}

#[tokio::test]
async fn a_stop_during_the_first_clone_ends_the_wait_and_the_next_open_clones_afresh(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    // The clone begins and hangs: the workspace stays starting until stopped.
    fx.git.set_mode(dcs_e2e::git_server::Mode::HangPacks);
    let readme = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let waiting = tokio::spawn(http.get(&readme).send());
    let cloning = dcs_e2e::procs::wait_until(START, Duration::from_millis(20), || {
        fx.git
            .requests()
            .iter()
            .any(|r| r.path_and_query.ends_with("/git-upload-pack"))
    });
    anyhow::ensure!(cloning.await, "the clone began: {}", fx.proxy.log());
    let (id, status) = the_only_one(&fx).await?;
    assert_eq!(status, "starting");

    let (code, stopped) =
        call(http.post(fx.proxy.url(&format!("/api/instances/{id}/stop")))).await?;
    assert_eq!(
        (code, stopped["status"].as_str()),
        (200, Some("stopped")),
        "{stopped} {}",
        fx.proxy.log()
    );
    // The request that waited for the start is answered, not left hanging.
    let answered = tokio::time::timeout(START, waiting).await??;
    let answered = answered?;
    assert_eq!(answered.status(), 503, "{}", fx.proxy.log());
    assert!(
        fx.wait_for_no_launcher(START).await,
        "the half-started launcher is gone: {}",
        fx.proxy.log()
    );

    // The next open clones afresh and opens.
    fx.git.set_mode(dcs_e2e::git_server::Mode::Normal);
    let resp = http.get(&readme).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert!(fx.checkout().join("README.md").is_file());
    Ok(())
}

#[tokio::test]
async fn a_start_through_the_api_wakes_a_stopped_workspace_for_its_open_tabs() -> anyhow::Result<()>
{
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let act =
        |id: &str, what: &str| http.post(fx.proxy.url(&format!("/api/instances/{id}/{what}")));
    let poll = || {
        http.get(fx.proxy.url("/github/acme/hello/_dcs/idle"))
            .header("x-dcs-background", "1")
            .send()
    };
    let (code, err) = call(act("inst-0123456789abcdef", "start")).await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );

    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let (id, _) = the_only_one(&fx).await?;
    // Running: a start leaves it as it is (no second launcher).
    let (code, same) = call(act(&id, "start")).await?;
    assert_eq!(
        (code, same["status"].as_str()),
        (202, Some("running")),
        "{same}"
    );
    assert_eq!(fx.proxy.launcher_pids().len(), 1);

    let (code, _) = call(act(&id, "stop")).await?;
    assert_eq!(code, 200);
    assert_eq!(poll().await?.status(), 503, "its tab is told it stopped");
    let (code, started) = call(act(&id, "start")).await?;
    assert_eq!(code, 202, "{started} {}", fx.proxy.log());
    assert!(
        matches!(started["status"].as_str(), Some("starting" | "running")),
        "{started}"
    );
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(|| http.get(&status), START).await?;
    // The stop noted for its tabs is forgotten: their poll reaches the launcher.
    let resp = poll().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let report: Value = serde_json::from_str(&resp.text().await?)?;
    assert!(
        report["idle_timeout_s"].is_u64(),
        "the launcher's report: {report}"
    );
    assert_eq!(fx.proxy.launcher_pids().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_stop_after_the_progress_page_gave_up_waiting_is_not_undone_by_its_poll(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--start-timeout").arg("1s"))?;
    let http = client();
    // The clone hangs: the start outlives the page's wait for it.
    fx.git.set_mode(dcs_e2e::git_server::Mode::HangPacks);
    let page = dcs_e2e::navigation(http.get(fx.proxy.url("/github/acme/hello/")))
        .send()
        .await?;
    assert_eq!(page.status(), 200, "the progress page: {}", fx.proxy.log());
    let gave_up = dcs_e2e::procs::wait_until(START, Duration::from_millis(50), || {
        fx.proxy
            .log()
            .contains("followed start ended without the workspace")
    });
    anyhow::ensure!(gave_up.await, "the page's wait ended: {}", fx.proxy.log());
    let (id, status) = the_only_one(&fx).await?;
    assert_eq!(status, "starting", "still starting");

    // Someone stops it (the home page, the CLI); the page, still open, polls on.
    let (code, stopped) =
        call(http.post(fx.proxy.url(&format!("/api/instances/{id}/stop")))).await?;
    assert_eq!(code, 200, "{stopped} {}", fx.proxy.log());
    assert!(fx.wait_for_no_launcher(START).await, "{}", fx.proxy.log());
    let poll = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/progress"))
        .header("accept", "application/json")
        .send()
        .await?;
    let (code, progress) = dcs_e2e::api::status_json(poll).await?;
    assert_eq!(code, 200);
    assert_eq!(progress["phase"], "failed", "{progress}");
    let reason = progress["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("stopped"), "{progress}");
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(
        list["instances"][0]["status"], "stopped",
        "the poll started nothing: {list}"
    );
    assert!(fx.proxy.launcher_pids().is_empty(), "{}", fx.proxy.log());
    Ok(())
}
