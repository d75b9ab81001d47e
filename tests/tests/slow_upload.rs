//! An upload over a slow link, through the real proxy in local mode: a request body
//! still being received is watched work, so an upload that takes longer than the
//! idle timeout completes, and the workspace is not stopped under it.

use std::time::Duration;

use dcs_e2e::{client, Fixture};

/// The idle timeout of the test's proxy: short, so the upload outlasts it thrice.
const IDLE: Duration = Duration::from_secs(4);

/// The upload: this many pieces, one every [`GAP`] (about 12 s in all).
const PIECES: u8 = 12;
const PIECE: usize = 4096;
const GAP: Duration = Duration::from_secs(1);

#[tokio::test]
async fn an_upload_longer_than_the_idle_timeout_completes_and_the_workspace_stays(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg(format!("{}s", IDLE.as_secs())))?;
    fx.readme_is_served().await?;
    let launcher = fx.proxy.launcher_pids();
    assert_eq!(launcher.len(), 1, "{}", fx.proxy.log());

    // A body sent in pieces, as a slow link delivers it (the gaps pace the sender;
    // nothing is concluded from them).
    let pieces = futures_util::stream::unfold(0u8, |i| async move {
        if i == PIECES {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(GAP).await;
        }
        Some((Ok::<_, std::io::Error>(vec![b'a' + i; PIECE]), i + 1))
    });
    let resp = client()
        .put(fx.proxy.url("/github/acme/hello/_dcs/files/upload.bin"))
        .header("content-length", (usize::from(PIECES) * PIECE).to_string())
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    assert_eq!(status, 201, "{text}\n{}", fx.proxy.log());

    let stored = std::fs::read(fx.checkout().join("upload.bin"))?;
    assert_eq!(stored.len(), usize::from(PIECES) * PIECE);
    assert!(stored.ends_with(&[b'a' + PIECES - 1; PIECE]));
    assert_eq!(
        fx.proxy.launcher_pids(),
        launcher,
        "the same launcher served it throughout: {}",
        fx.proxy.log()
    );
    let metrics = fx.proxy.metrics().await?;
    assert_eq!(
        dcs_e2e::metric(&metrics, "dcs_workspace_idle_stops_total"),
        0,
        "{metrics}"
    );
    Ok(())
}
