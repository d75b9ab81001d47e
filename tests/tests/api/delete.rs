//! `DELETE /api/instances/{id}` is final: a delete whose client gave up half way
//! (a closed tab, Ctrl-C) is carried out all the same.

use tokio::io::AsyncWriteExt;

use super::*;

/// The id of the one workspace in the list.
async fn only_id(fx: &Fixture) -> anyhow::Result<String> {
    let (_, list) = call(client().get(fx.proxy.url("/api/instances"))).await?;
    Ok(list["instances"][0]["instance_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no workspace in {list}"))
        .to_owned())
}

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
async fn a_delete_its_client_gave_up_on_is_carried_out() -> anyhow::Result<()> {
    // The stop takes a while: the pre-stop command says it began, then holds it.
    let fx = Fixture::new(|b| b.arg("--pre-stop").arg("touch stopping; sleep 2"))?;
    open(&fx).await?;
    let id = only_id(&fx).await?;

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
