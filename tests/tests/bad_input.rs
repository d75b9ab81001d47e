//! Bad input through the real proxy answers a clear 4xx, never a 5xx or silence:
//! an oversized request head (431), an over-long request target (414), a chunk
//! size that overflows (400), duplicate JSON keys (422 naming the field), and in
//! the file manager a name longer than the filesystem allows or a symbolic link
//! that loops (400/404). Each request is written byte for byte on a raw socket.

use std::net::SocketAddr;

use dcs_e2e::{client, raw_request, Fixture, RawResponse};

/// A request `method path` with `headers` and `body`, `Connection: close`.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends a request and returns the answer; a closed connection without one fails.
async fn send(
    fx: &Fixture,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<RawResponse> {
    let bytes = request(fx.proxy.addr, method, path, headers, body);
    raw_request(fx.proxy.addr, &bytes).await
}

/// Asserts `resp` has `status` and a readable body (not empty, never a 5xx).
fn assert_clear(resp: &RawResponse, status: u16, what: &str, fx: &Fixture) {
    assert_eq!(
        resp.status,
        status,
        "{what}: {}\n{}",
        resp.text(),
        fx.proxy.log()
    );
    assert!(!resp.body.is_empty(), "{what}: the answer says why");
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_431_and_one_under_it_is_served() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let big = "a".repeat(70 * 1024);
    let resp = send(&fx, "GET", "/api/me", &[("x-filler", &big)], b"").await?;
    assert_clear(&resp, 431, "a 70 KiB header", &fx);
    // Spread over many headers, the head is as large.
    let piece = "b".repeat(7 * 1024);
    let many: Vec<(String, &str)> = (0..10)
        .map(|i| (format!("x-f{i}"), piece.as_str()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let resp = send(&fx, "GET", "/api/me", &many, b"").await?;
    assert_clear(&resp, 431, "ten 7 KiB headers", &fx);
    let fine = "c".repeat(50 * 1024);
    let resp = send(&fx, "GET", "/api/me", &[("x-filler", &fine)], b"").await?;
    assert_eq!(resp.status, 200, "a 50 KiB head is fine: {}", resp.text());
    Ok(())
}

#[tokio::test]
async fn an_over_long_request_target_is_414() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    for len in [16 * 1024, 70 * 1024] {
        let path = format!("/api/me?q={}", "x".repeat(len));
        let resp = send(&fx, "GET", &path, &[], b"").await?;
        assert!(
            resp.status == 414 || (len > 64 * 1024 && resp.status == 431),
            "a {len}-byte target: {} {}",
            resp.status,
            resp.text()
        );
        // Over 64 KiB hyper answers itself (the `http` crate holds no longer URI),
        // with a bare status; below it the proxy says why.
        assert!(
            len > 64 * 1024 || resp.text().contains("at most 8192"),
            "{}",
            resp.text()
        );
        let path = format!("/github/acme/hello/{}", "y".repeat(len));
        let resp = send(&fx, "GET", &path, &[], b"").await?;
        assert!(
            resp.status == 414 || (len > 64 * 1024 && resp.status == 431),
            "a {len}-byte workspace path: {} {}",
            resp.status,
            resp.text()
        );
    }
    assert!(
        fx.proxy.volumes().is_empty(),
        "no workspace was started for an over-long path"
    );
    Ok(())
}

#[tokio::test]
async fn an_overflowing_chunk_size_is_400_to_a_workspace_and_to_the_api() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    // Start the workspace first, so the broken body reaches the forwarding step.
    let ok = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(ok.status(), 200);
    let chunked = [("transfer-encoding", "chunked")];
    let overflow = b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n";
    let resp = send(
        &fx,
        "PUT",
        "/github/acme/hello/_dcs/files/overflow.txt",
        &chunked,
        overflow,
    )
    .await?;
    assert_clear(&resp, 400, "an overflowing chunk to a workspace", &fx);
    assert!(!fx.checkout().join("overflow.txt").exists());
    let resp = send(
        &fx,
        "POST",
        "/api/instances",
        &[chunked[0], ("content-type", "application/json")],
        overflow,
    )
    .await?;
    assert_clear(&resp, 400, "an overflowing chunk to the API", &fx);
    Ok(())
}

#[tokio::test]
async fn duplicate_json_keys_are_422_naming_the_field() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    for (body, field) in [
        (r#"{"repo":"acme/hello","repo":"acme/other"}"#, "repo"),
        (r#"{"env":{"A":"1","A":"2"}}"#, "env.A"),
    ] {
        let len = body.len().to_string();
        let resp = send(
            &fx,
            "POST",
            "/api/instances",
            &[
                ("content-type", "application/json"),
                ("content-length", &len),
            ],
            body.as_bytes(),
        )
        .await?;
        assert_clear(&resp, 422, body, &fx);
        let json: serde_json::Value = serde_json::from_slice(&resp.body)?;
        assert_eq!(json["fields"][0]["field"], field, "{json}");
        assert!(
            json["fields"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("more than once")),
            "{json}"
        );
    }
    let (code, list) = dcs_e2e::api::call(client().get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200);
    assert_eq!(
        list["instances"],
        serde_json::json!([]),
        "nothing was created"
    );
    Ok(())
}

#[tokio::test]
async fn a_256_character_file_name_and_a_symlink_loop_are_4xx_in_the_file_manager(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let ok = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(ok.status(), 200);
    let long = "n".repeat(256);
    let files = "/github/acme/hello/_dcs/files";
    for method in ["PUT", "GET"] {
        let path = format!("{files}/{long}");
        let resp = send(&fx, method, &path, &[("content-length", "2")], b"hi").await?;
        assert_clear(
            &resp,
            400,
            &format!("{method} of a 256-character name"),
            &fx,
        );
        assert!(resp.text().contains("255"), "{}", resp.text());
    }
    let resp = send(&fx, "POST", &format!("{files}/{long}?mkdir"), &[], b"").await?;
    assert_clear(&resp, 400, "mkdir of a 256-character name", &fx);

    std::os::unix::fs::symlink("loop", fx.checkout().join("loop"))?;
    std::os::unix::fs::symlink("ping", fx.checkout().join("pong"))?;
    std::os::unix::fs::symlink("pong", fx.checkout().join("ping"))?;
    for (method, path, what) in [
        ("GET", "loop", "reading a self-loop"),
        ("GET", "ping", "reading a two-link loop"),
        ("GET", "loop/", "listing through a loop"),
        ("PUT", "loop/new.txt", "uploading into a loop"),
        ("POST", "loop/sub?mkdir", "a folder inside a loop"),
    ] {
        let resp = send(
            &fx,
            method,
            &format!("{files}/{path}"),
            &[("content-length", "0")],
            b"",
        )
        .await?;
        assert!(
            matches!(resp.status, 400 | 404 | 409),
            "{what}: {} {}\n{}",
            resp.status,
            resp.text(),
            fx.proxy.log()
        );
        assert!(
            resp.text().contains("symbolic link"),
            "{what}: {}",
            resp.text()
        );
    }
    let resp = send(
        &fx,
        "PUT",
        &format!("{files}/loop"),
        &[("content-length", "1")],
        b"x",
    )
    .await?;
    assert_clear(&resp, 409, "uploading over a looping link", &fx);
    let listing = send(&fx, "GET", &format!("{files}/?format=json"), &[], b"").await?;
    assert_eq!(
        listing.status, 200,
        "the folder holding the loops still lists"
    );
    Ok(())
}
