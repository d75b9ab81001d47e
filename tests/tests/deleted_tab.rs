//! A workspace deleted under an open VS Code tab, in headless Chromium through the
//! real proxy: the tab's reconnect attempts and polls do not bring it back (delete
//! is final), the tab says so over VS Code, and its Open again (a person's
//! navigation) starts it afresh on the files that were kept.

use std::time::Duration;

use dcs_e2e::api::call;
use dcs_e2e::browser::{self, Script};
use dcs_e2e::{client, ide_support, Fixture};

/// Generous: the machine is shared and a CPU hog may run beside.
const STEP: Duration = Duration::from_secs(300);

#[tokio::test]
async fn a_tab_open_on_a_deleted_workspace_does_not_bring_it_back_until_asked() -> anyhow::Result<()>
{
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::screenshot_dir("deleted_tab")?;
    let fx = Fixture::new(|b| b.code_server(&code_server))?;
    let mut script = Script::start(
        &tools,
        "deleted_vscode.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "file": "README.md",
        }),
    )?;
    script.expect("loaded", STEP).await?;
    std::fs::write(fx.checkout().join("notes.txt"), "kept\n")?;
    let http = client();
    dcs_e2e::api::delete_the_only_workspace(&fx).await?;
    assert!(fx.wait_for_no_launcher(STEP).await, "{}", fx.proxy.log());
    script.send("deleted").await?;

    // The tab tried to reconnect and says it was deleted; nothing came back.
    let overlay = script.expect("overlay", STEP).await?;
    let words = overlay["text"].as_str().unwrap_or_default();
    assert!(
        words.contains("This workspace was deleted") && words.contains("Your files are kept"),
        "{overlay}"
    );
    assert_eq!(overlay["button"], "Open again", "{overlay}");
    assert_eq!(overlay["on_top"], true, "{overlay}");
    assert!(overlay["reconnects"].as_u64() >= Some(1), "{overlay}");
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(
        list["instances"],
        serde_json::json!([]),
        "{list}\n{}",
        fx.proxy.log()
    );
    assert!(fx.proxy.launcher_pids().is_empty(), "{}", fx.proxy.log());

    // Open again: the same files, in a workspace started afresh.
    script.send("open").await?;
    script.expect("reopened", STEP).await?;
    assert_eq!(fx.proxy.launcher_pids().len(), 1, "{}", fx.proxy.log());
    assert_eq!(
        std::fs::read_to_string(fx.checkout().join("notes.txt"))?,
        "kept\n"
    );
    script.finish(STEP).await?;
    Ok(())
}
