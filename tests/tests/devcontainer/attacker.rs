//! Someone else's repository, opened from a link: a page of another origin cannot
//! allow its `devcontainer.json` (nor put the question away), a plain `GET` allows
//! nothing, the file cannot set the platform's own variables (`DCS_*`, `PORT`,
//! `K_*`), and what its commands print or its text says stays inert (a plain-text,
//! sandboxed log; an escaped banner).

use super::*;

/// Sets the platform's variables and one of its own, prints markup.
const HOSTILE: &str = r#"{
  "name": "<img src=x onerror=alert(1)>",
  "containerEnv": {
    "PORT": "1",
    "DCS_HOP_SECRET_FILE": "/etc/passwd",
    "K_SERVICE": "svc",
    "SAFE": "ok"
  },
  "remoteEnv": { "DCS_IDE": "code-server" },
  "postCreateCommand": "printf '%s:%s:%s:%s:%s\\n' \"$PORT\" \"$DCS_HOP_SECRET_FILE\" \"$K_SERVICE\" \"$DCS_IDE\" \"$SAFE\" > leak.txt; echo '<img src=x onerror=alert(2)>'"
}
"#;

#[tokio::test]
async fn a_foreign_page_cannot_allow_and_the_file_cannot_set_the_platforms_variables(
) -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, HOSTILE)])?;
    open(&fx).await?;
    wait_notices(&fx, "asked", |l| notice(l, "devcontainer").is_some()).await?;

    // Pages of other origins (and opaque ones) are refused at the edge.
    let foreign: [&[(&str, &str)]; 4] = [
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
        &[("origin", "http://127.0.0.1:1")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for headers in foreign {
        for rel in ["_dcs/devcontainer/allow", "_dcs/devcontainer/dismiss"] {
            let (code, body) = post(&fx, rel, headers).await?;
            assert_eq!(code, 403, "{rel} with {headers:?}: {body}");
        }
    }
    // A `GET` (an <img>, a link) allows nothing.
    let resp = client()
        .get(url(&fx, "_dcs/devcontainer/allow"))
        .send()
        .await?;
    assert!(
        !resp.status().is_success(),
        "GET allow answered {}",
        resp.status()
    );
    let s = status(&fx).await?;
    assert_eq!(s["allowed"], false, "{s}");
    assert_eq!(state(&s, "postCreateCommand"), "waiting_for_consent", "{s}");
    let list = notices(&fx).await?;
    assert!(notice(&list, "devcontainer").is_some(), "not dismissed");
    assert_eq!(read(&fx, "leak.txt"), None, "ran without consent");

    // The file's text in the IDE's page is escaped.
    let page = client()
        .get(fx.proxy.url(ROOT))
        .header("accept", "text/html")
        .send()
        .await?
        .text()
        .await?;
    assert!(!page.contains("<img src=x"), "{page}");

    // Allowed by the user: the platform's variables are refused, the others set.
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}\n{}", recent_log(&fx));
    let s = wait_all_done(&fx).await?;
    assert_eq!(read(&fx, "leak.txt").as_deref(), Some("::::ok\n"), "{s}");
    let refused = names(&s, "refused_env");
    for name in ["PORT", "DCS_HOP_SECRET_FILE", "K_SERVICE", "DCS_IDE"] {
        assert!(refused.iter().any(|r| r == name), "{name} refused: {s}");
    }
    for entry in s["refused_env"].as_array().into_iter().flatten() {
        let why = entry["why"].as_str().unwrap_or_default();
        assert!(!why.is_empty(), "says why: {s}");
    }
    let applied = names(&s, "env");
    assert_eq!(applied, ["SAFE"], "{s}");

    // The log is text, never a page of the workspace's origin.
    let (headers, text) = log(&fx).await?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with("text/plain"),
        "{headers:?}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{headers:?}");
    assert!(
        header("content-security-policy")
            .split([';', ' '])
            .any(|d| d == "sandbox")
            && !header("content-security-policy").contains("allow-same-origin"),
        "{headers:?}"
    );
    assert!(text.contains("<img src=x onerror=alert(2)>"), "{text}");
    Ok(())
}
