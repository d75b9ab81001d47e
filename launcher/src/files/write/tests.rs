//! Uploads that do not finish: a body cut short (fewer bytes than its
//! `Content-Length`, or a chunked body without its last chunk) over a raw socket
//! publishes nothing and answers 400; a launcher killed mid-upload leaves a
//! temporary that the next start removes.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures::{env, Running, Upstream};

/// Sends `head` and `body` on a raw connection, closes the sending side, and
/// returns everything the launcher answered.
async fn send_then_close(l: &Running, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(l.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(body).await.expect("body");
    stream.shutdown().await.expect("half-close");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer));
    let _ = read
        .await
        .expect("the launcher answers and closes within 30 s");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Every file below `dir` whose name marks an upload temporary.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains("dcs-upload") {
            found.push(path.display().to_string());
        }
        if path.is_dir() && !path.is_symlink() && name != ".git" {
            found.extend(temporaries(&path));
        }
    }
    found
}

#[tokio::test]
async fn a_truncated_upload_publishes_nothing_and_answers_400() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let head = |name: &str, framing: &str| {
        format!(
            "PUT /_dcs/files/{name} HTTP/1.1\r\nhost: {}\r\n{framing}\r\n\r\n",
            l.addr
        )
    };

    let short = send_then_close(&l, &head("short.bin", "content-length: 100"), &[b'x'; 10]).await;
    assert!(short.starts_with("HTTP/1.1 400"), "{short}");
    assert!(short.contains("short.bin"), "{short}");

    let chunked = send_then_close(
        &l,
        &head("chunked.bin", "transfer-encoding: chunked"),
        b"5\r\nhello\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 400"), "{chunked}");

    for name in ["short.bin", "chunked.bin"] {
        assert!(!l.checkout.join(name).exists(), "{name} was published");
    }
    assert_eq!(temporaries(ws.path()), Vec::<String>::new());
    // A complete upload of the same name still works.
    let whole = l
        .send(http::Method::PUT, "/_dcs/files/short.bin", &[], b"abc")
        .await;
    assert_eq!(whole.status, http::StatusCode::CREATED, "{}", whole.text());
    assert_eq!(
        std::fs::read(l.checkout.join("short.bin")).expect("published"),
        b"abc"
    );
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_upload_whose_temporary_is_on_another_filesystem_is_copied_then_published() {
    use std::os::unix::fs::MetadataExt;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    // The temporary folder on tmpfs, the checkout on the test's filesystem.
    let other = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let dev = |p: &Path| std::fs::metadata(p).expect("metadata").dev();
    assert_ne!(
        dev(other.path()),
        dev(ws.path()),
        "/dev/shm is another filesystem"
    );
    std::os::unix::fs::symlink(other.path(), ws.path().join(crate::files::temp::DIR))
        .expect("symlink");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let reply = l
        .send(
            http::Method::PUT,
            "/_dcs/files/src/far.bin",
            &[],
            b"far away",
        )
        .await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        std::fs::read(l.checkout.join("src/far.bin")).expect("published"),
        b"far away"
    );
    assert_eq!(temporaries(ws.path()), Vec::<String>::new());
    assert_eq!(temporaries(other.path()), Vec::<String>::new());
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn the_temporary_of_a_launcher_that_died_mid_upload_is_removed_at_the_next_start() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    // What a launcher killed mid-upload leaves: its folder, its lock (free now).
    let dead = ws.path().join(crate::files::temp::DIR).join("4242-dead-0");
    std::fs::create_dir_all(&dead).expect("mkdir");
    std::fs::write(dead.join(".big.iso.dcs-upload-4242-0-0"), vec![7u8; 4096]).expect("write");
    std::fs::write(dead.with_extension("lock"), "").expect("lock file");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    assert!(!dead.exists(), "the abandoned temporary folder is gone");
    assert_eq!(temporaries(ws.path()), Vec::<String>::new());
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_long_name_of_wide_characters_uploads() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    // 60 four-byte characters and `.txt`: 244 bytes, within NAME_MAX.
    let name = format!("{}.txt", "\u{1F600}".repeat(60));
    let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let reply = l
        .send(
            http::Method::PUT,
            &format!("/_dcs/files/{encoded}"),
            &[],
            b"smile",
        )
        .await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        std::fs::read(l.checkout.join(&name)).expect("uploaded"),
        b"smile"
    );
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn without_hard_links_an_upload_is_copied_into_a_new_file_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = dir.path().join(".a.txt.dcs-upload-1");
    std::fs::write(&tmp, "uploaded").expect("write");
    // What an SMB or FUSE volume without hard links answers.
    let refused = || Err(std::io::Error::from_raw_os_error(super::EPERM));
    let target = dir.path().join("a.txt");
    super::published(refused(), &tmp, &target, "/a.txt")
        .await
        .expect("copied");
    assert_eq!(std::fs::read(&target).expect("published"), b"uploaded");
    std::fs::write(&tmp, "again").expect("write");
    let err = super::published(refused(), &tmp, &target, "/a.txt")
        .await
        .expect_err("exists");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&target).expect("kept"), b"uploaded");
    // Any other failure is the link's own.
    let denied = Err(std::io::Error::from_raw_os_error(13)); // EACCES
    let err = super::published(denied, &tmp, &dir.path().join("b.txt"), "/b.txt")
        .await
        .expect_err("denied");
    assert_eq!(err.raw_os_error(), Some(13));
    assert!(!dir.path().join("b.txt").exists());
}
