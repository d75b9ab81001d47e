//! `DELETE /api/instances/{id}` is final: a tab still open on the deleted
//! workspace (its IDE reconnecting, its beacons, parts and polls) does not bring it
//! back, only a person does (a navigation: the overlay's Open again); and a delete
//! whose client gave up half way (a closed tab, Ctrl-C) is carried out all the same.

use tokio::io::AsyncWriteExt;

use super::*;

/// Opens `acme/hello` (non-browser, it waits until ready).
async fn open(fx: &Fixture) -> anyhow::Result<()> {
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    Ok(())
}

#[tokio::test]
async fn a_tab_left_open_on_a_deleted_workspace_does_not_bring_it_back() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    open(&fx).await?;
    std::fs::write(fx.checkout().join("scratch.txt"), "unsaved work\n")?;
    let (id, _) = the_only_one(&fx).await?;
    let resp = http
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 204, "{}", fx.proxy.log());
    assert!(fx.wait_for_no_launcher(START).await, "{}", fx.proxy.log());

    // What the open tab sends, as a browser sends it.
    let origin = format!("http://{}", fx.proxy.addr);
    let page = |req: RequestBuilder, mode: &str, dest: &str| {
        req.header("origin", &origin)
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", mode)
            .header("sec-fetch-dest", dest)
    };
    let url = |rest: &str| fx.proxy.url(&format!("/github/acme/hello/{rest}"));
    // Chromium's WebSocket handshake: an Origin, no fetch metadata.
    let reconnect = http
        .get(url("stable-1?reconnectionToken=x"))
        .header("origin", &origin)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let tab = [
        ("the IDE's reconnect", reconnect),
        (
            "a script of the page",
            page(http.get(url("out/app.js")), "no-cors", "script"),
        ),
        (
            "a fetch of the page",
            page(http.get(url("api/files")), "cors", "empty"),
        ),
        (
            "a beacon of input",
            page(http.post(url("_dcs/activity")), "no-cors", "empty").body("key"),
        ),
        (
            "the notices' poll",
            page(http.get(url("_dcs/idle")), "cors", "empty").header("x-dcs-background", "1"),
        ),
    ];
    for (what, req) in tab {
        let resp = req.send().await?;
        let code = resp.status().as_u16();
        let told: Value = serde_json::from_str(&resp.text().await?).unwrap_or(Value::Null);
        assert_eq!(
            (code, told["reason"].as_str()),
            (503, Some("deleted")),
            "{what}: {told}\n{}",
            fx.proxy.log()
        );
    }
    // Each was answered without starting anything.
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(list["instances"], json!([]), "nothing came back: {list}");
    assert!(fx.proxy.launcher_pids().is_empty(), "no launcher started");

    // Open again: the reload is a navigation, and starts it afresh on the same files.
    let resp = page(http.get(url("")), "navigate", "document")
        .header("accept", "text/html")
        .send()
        .await?;
    assert_ne!(resp.status(), 503, "{}", fx.proxy.log());
    let (id, _) = the_only_one(&fx).await?;
    wait_running(
        || http.get(fx.proxy.url(&format!("/api/status?instance_id={id}"))),
        START,
    )
    .await?;
    let resp = http.get(url("_dcs/files/scratch.txt")).send().await?;
    assert_eq!(resp.text().await?, "unsaved work\n");
    Ok(())
}

#[tokio::test]
async fn a_delete_its_client_gave_up_on_is_carried_out() -> anyhow::Result<()> {
    // The stop takes a while: the pre-stop command says it began, then holds it.
    let fx = Fixture::new(|b| b.arg("--pre-stop").arg("touch stopping; sleep 2"))?;
    open(&fx).await?;
    let (id, _) = the_only_one(&fx).await?;

    // The client sends the delete and goes away while the workspace stops.
    let mut conn = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let request = format!(
        "DELETE /api/instances/{id} HTTP/1.1\r\nHost: {}\r\n\r\n",
        fx.proxy.addr
    );
    conn.write_all(request.as_bytes()).await?;
    let stopping = fx.checkout().join("stopping");
    let began = dcs_e2e::wait_until(START, Duration::from_millis(20), || stopping.exists());
    assert!(began.await, "the stop began: {}", fx.proxy.log());
    drop(conn);
    std::fs::remove_file(&stopping)?;

    // Deleted all the same: gone from the list, and the next open starts it afresh
    // (a delete cut off half way left it neither there nor openable).
    let http = client();
    let deadline = std::time::Instant::now() + START;
    loop {
        let resp = http
            .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
            .send()
            .await?;
        let code = resp.status();
        let text = resp.text().await?;
        if code == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never openable again: {code} {text}\n{}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = call(http.get(fx.proxy.url(&format!("/api/instances/{id}")))).await?;
    assert_eq!(code, 200, "opened afresh under the same id");
    Ok(())
}
