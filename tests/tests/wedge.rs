//! Nothing wedges, through the real proxy: a clone that hangs delays no other
//! workspace, the API, the idle reaper or shutdown; a failed start is answered at
//! once from memory; a trickling upload is cut at its deadline; a workspace that
//! stalls its answer is cut too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcs_e2e::api::{call, wait_running};
use dcs_e2e::{client, wait_until, Fixture, ProxyBuilder};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A git server that accepts connections and never answers; counts them.
async fn hanging_git_server() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    Ok((base, accepted))
}

/// Bounds a call that must not wait for anything else.
async fn promptly<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_clone_blocks_nothing_else_and_sigterm_ends_everything() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (git_base, accepted) = hanging_git_server().await?;
    let mut proxy = ProxyBuilder::new(&tmp.path().join("data"), &git_base)
        .arg("--start-timeout")
        .arg("2s")
        .arg("--idle-timeout")
        .arg("3s")
        .arg("--stop-grace")
        .arg("2s")
        // The repository check would hang on this server too; the clone is the point.
        .arg("--repo-check-timeout")
        .arg("0s")
        .start()?;
    let http = client();

    // A browser opens a repository whose clone hangs: the page says it is still
    // starting, the clone goes on.
    let hanging = http.get(proxy.url("/github/acme/hang/")).send().await?;
    assert_eq!(hanging.status(), 504);
    assert!(
        wait_until(
            Duration::from_secs(30),
            Duration::from_millis(20),
            || accepted.load(Ordering::SeqCst) >= 1
        )
        .await
    );

    // Meanwhile another workspace starts, is listed, idles and is stopped.
    let (code, created) = promptly(
        "create",
        call(
            http.post(proxy.url("/api/instances"))
                .header("content-type", "application/json")
                .body(json!({}).to_string()),
        ),
    )
    .await?;
    assert_eq!(code, 201, "{created}");
    let id = created["instance_id"].as_str().expect("id").to_owned();
    let status_url = proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(|| http.get(&status_url), Duration::from_secs(60)).await?;
    let (code, list) = promptly("list", call(http.get(proxy.url("/api/instances")))).await?;
    assert_eq!(code, 200, "{list}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, status) = promptly("status", call(http.get(&status_url))).await?;
        if status["phase"] == "stopped" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the idle instance was never stopped: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SIGTERM while the clone still hangs: the proxy exits in drain + grace, and no
    // launcher is left, the starting one included.
    assert!(
        !proxy.launcher_pids().is_empty(),
        "the hanging start is running"
    );
    let began = Instant::now();
    assert!(
        proxy.terminate(),
        "the proxy exits cleanly; log:\n{}",
        proxy.log()
    );
    assert!(began.elapsed() < Duration::from_secs(29));
    assert!(
        proxy.launcher_pids().is_empty(),
        "launchers left: {:?}",
        proxy.launcher_pids()
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_start_is_answered_from_memory_without_another_clone() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let clones = || {
        fx.git
            .requests()
            .iter()
            .filter(|r| r.path_and_query.contains("acme/missing"))
            .count()
    };
    let first = http
        .get(fx.proxy.url("/github/acme/missing/"))
        .send()
        .await?;
    assert_eq!(first.status(), 404);
    let asked = clones();
    assert!(asked >= 1);
    for _ in 0..5 {
        let again = http
            .get(fx.proxy.url("/github/acme/missing/"))
            .send()
            .await?;
        assert_eq!(again.status(), 404);
        assert!(again.text().await?.contains("next attempt starts in"));
    }
    assert_eq!(
        clones(),
        asked,
        "no new clone while the failure is remembered"
    );
    Ok(())
}

/// Opens `PUT <path>` announcing `len` body bytes, sends one byte a second, and
/// returns everything the proxy answered before it closed the connection.
async fn trickling_upload(addr: SocketAddr, path: String, len: usize) -> anyhow::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/plain\r\ncontent-length: {len}\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await?;
    let writer = tokio::spawn(async move {
        for _ in 0..len {
            if write.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let limit = Duration::from_secs(90);
    let deadline = tokio::time::Instant::now() + limit;
    let answer = loop {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break Ok(String::from_utf8_lossy(&all).into_owned()),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => {
                break Err(anyhow::anyhow!(
                    "still open after {limit:?}; got {:?}",
                    String::from_utf8_lossy(&all)
                ))
            }
        }
    };
    writer.abort();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_uploads_are_cut_at_their_deadline_and_publish_nothing() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--body-timeout")
            .arg("2s")
            .arg("--body-min-rate")
            .arg("500")
    })?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let addr = fx.proxy.addr;
    let uploads: Vec<_> = (0..50)
        .map(|n| {
            let path = format!("/github/acme/hello/_dcs/files/trickle-{n}.txt");
            tokio::spawn(trickling_upload(addr, path, 1000))
        })
        .collect();
    for upload in uploads {
        let answer = upload.await??;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(fx.checkout())?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("trickle"))
        .collect();
    assert!(
        left.is_empty(),
        "nothing published or left behind: {left:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_truncated_upload_is_a_400_and_publishes_nothing() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let mut s = TcpStream::connect(fx.proxy.addr).await?;
    let head = format!(
        "PUT /github/acme/hello/_dcs/files/cut.txt HTTP/1.1\r\nhost: {}\r\ncontent-length: 1000\r\n\r\n",
        fx.proxy.addr
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(&[b'x'; 10]).await?;
    s.shutdown().await?;
    let mut answer = Vec::new();
    promptly("the answer", s.read_to_end(&mut answer)).await?;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(!fx.checkout().join("cut.txt").exists(), "nothing published");
    Ok(())
}

/// A preview app on loopback: the first connection gets a response head and then
/// nothing; the second gets nothing at all.
async fn stalling_app() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            if held.is_empty() {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
                    )
                    .await;
            }
            held.push(stream);
        }
    });
    Ok(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_that_stalls_its_answer_is_cut() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--upstream-timeout").arg("2s"))?;
    let http = client();
    let resp = http.get(fx.proxy.url("/github/acme/hello/")).send().await?;
    assert_eq!(resp.status(), 200);
    let port = stalling_app().await?;
    let url = fx.proxy.url(&format!("/github/acme/hello/ports/{port}/"));

    // Head, then a stall mid-body: the body ends in an error, in time.
    let resp = http.get(&url).send().await?;
    assert_eq!(resp.status(), 200);
    let body = promptly("the stalled body", resp.bytes()).await;
    assert!(body.is_err(), "the stalled body was cut: {body:?}");

    // No head at all: 504, in time.
    let resp = promptly("the stalled head", http.get(&url).send()).await?;
    assert_eq!(resp.status(), 504);
    assert!(resp.text().await?.contains("did not answer within"));
    Ok(())
}
