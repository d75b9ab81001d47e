//! What a file can cost and hide before anyone allows it: a file whose variables
//! amplify (200 MB if expanded) is refused while it expands, so the workspace opens
//! with the config warning, nothing to allow, and a launcher that stays small; the
//! consent question names every variable and all of a command however it pads it,
//! and "Show the file" serves the file exactly as read, as inert plain text.

use super::*;

/// A 100-byte `A`, `B` naming it 1000 times (100 000 bytes), and a `postStartCommand`
/// naming `B` 2000 times.
fn amplifying() -> String {
    format!(
        r#"{{"containerEnv": {{"A": "{}"}},
  "remoteEnv": {{"B": "{}"}},
  "postStartCommand": "{}"}}
"#,
        "a".repeat(100),
        "${containerEnv:A}".repeat(1000),
        "${containerEnv:B}".repeat(2000),
    )
}

/// A command padded with 150 spaces, and `LD_PRELOAD` as the seventh variable.
fn hiding() -> String {
    format!(
        r#"{{"postStartCommand": "touch started.txt{}&& touch hidden.txt",
  "remoteEnv": {{"A1": "1", "A2": "2", "A3": "3", "A4": "4", "A5": "5", "A6": "6",
                "LD_PRELOAD": "/tmp/x.so"}}}}
"#,
        " ".repeat(150)
    )
}

/// `GET _dcs/devcontainer/file`: status, headers, body.
async fn file(fx: &Fixture) -> anyhow::Result<(u16, reqwest::header::HeaderMap, String)> {
    let resp = client()
        .get(url(fx, "_dcs/devcontainer/file"))
        .send()
        .await?;
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((code, headers, resp.text().await?))
}

/// The resident memory of `pid`, in KiB (from `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_file_whose_variables_amplify_opens_the_workspace_refused_and_small() -> anyhow::Result<()>
{
    let fx = scene(None, &[(FILE, &amplifying())])?;
    open(&fx).await?;
    let list = wait_notices(&fx, "told about the file", |l| {
        notice(l, "devcontainer-config").is_some()
    })
    .await?;
    let told = notice(&list, "devcontainer-config").context("checked")?;
    assert_eq!(told["level"], "warning", "{told}");
    let text = told["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("its variables expand to more than 128 KiB")
            && text.ends_with("nothing of it applies."),
        "{told}"
    );
    assert!(
        notice(&list, "devcontainer").is_none(),
        "nothing to allow: {list:?}"
    );
    let s = status(&fx).await?;
    assert_eq!(s["file"], FILE, "{s}");
    assert!(
        s["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("postStartCommand: its variables expand")),
        "{s}"
    );
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("expand")),
        "{body}"
    );

    // The launcher did not expand it: it stays far below the 200 MB it would take.
    let pids = fx.proxy.launcher_pids();
    anyhow::ensure!(!pids.is_empty(), "no launcher:\n{}", recent_log(&fx));
    for pid in pids {
        let rss = rss_kib(pid).context("VmRSS")?;
        assert!(rss < 120 * 1024, "launcher {pid} holds {rss} KiB");
    }
    // The file as read is still shown.
    let (code, _, body) = file(&fx).await?;
    assert_eq!(code, 200);
    assert_eq!(body, amplifying());
    Ok(())
}

#[tokio::test]
async fn the_question_names_all_and_show_the_file_serves_it_as_read_inert() -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, &hiding())])?;
    open(&fx).await?;
    let list = wait_notices(&fx, "asked", |l| notice(l, "devcontainer").is_some()).await?;
    let asked = notice(&list, "devcontainer").context("checked")?;
    let text = asked["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("(touch started.txt && touch hidden.txt)") && text.contains("LD_PRELOAD"),
        "{asked}"
    );
    let show = asked["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["label"] == "Show the file"))
        .context("Show the file")?;
    assert_eq!(show["href"], "_dcs/devcontainer/file", "{show}");
    assert_eq!(show["open"], true, "{show}");

    // Served as read at the start, even once the checkout's file changed.
    std::fs::write(fx.checkout().join(FILE), "{}")?;
    let (code, headers, body) = file(&fx).await?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, hiding());
    for (name, value) in [
        ("content-type", "text/plain; charset=utf-8"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "sandbox"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name}: {headers:?}"
        );
    }
    let (code, body) = post(&fx, "_dcs/devcontainer/file", &[("origin", &origin(&fx))]).await?;
    assert_eq!(code, 405, "{body}");
    assert_eq!(read(&fx, "started.txt"), None, "nothing ran");
    Ok(())
}

#[tokio::test]
async fn without_a_file_there_is_none_to_show() -> anyhow::Result<()> {
    let fx = scene(None, &[])?;
    open(&fx).await?;
    let (code, _, body) = file(&fx).await?;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no devcontainer.json"), "{body}");
    Ok(())
}
