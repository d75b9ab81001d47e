//! A management API request whose body stalls is answered `408 request_timeout`
//! (JSON, naming its request) once `--body-timeout` passes, and its connection
//! closed; nothing is created. A real `dcs-proxy` process, a raw socket.

use dcs_e2e::{raw_request, ProxyBuilder};

#[tokio::test]
async fn a_stalled_api_body_is_a_408_and_creates_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(dir.path(), "http://127.0.0.1:1")
        .arg("--body-timeout")
        .arg("1s")
        .start()?;
    let addr = proxy.addr;
    // Ten bytes announced, one sent: the rest never comes.
    let head = format!(
        "POST /api/instances HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 10\r\n\r\n{{"
    );
    let answer = raw_request(addr, head.as_bytes()).await?;
    assert_eq!(answer.status, 408, "{}\n{}", answer.text(), proxy.log());
    assert_eq!(answer.header("connection"), Some("close"));
    let body: serde_json::Value = serde_json::from_str(&answer.text())?;
    assert_eq!(body["error"], "request_timeout", "{body}");
    assert!(body["request_id"].is_string(), "{body}");

    let list = raw_request(
        addr,
        format!("GET /api/instances HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let list: serde_json::Value = serde_json::from_str(&list.text())?;
    assert_eq!(list["instances"], serde_json::json!([]), "{list}");
    Ok(())
}
