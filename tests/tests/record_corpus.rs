//! Records the idle clock's corpus from a real browser: code-server in headless
//! Chromium through the real proxy, once left alone and once typed into. Ignored
//! by default (it takes minutes and its output is committed); run by
//! `make record-corpus`, which rewrites `launcher/src/activity/corpus/recorded-*.txt`.
//! The launcher's corpus tests replay those files (`activity::corpus`).

use std::path::PathBuf;
use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{ide_support, Fixture};

const STEP: Duration = Duration::from_secs(600);

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../launcher/src/activity/corpus")
}

/// One session of `mode` for `secs`, written to `recorded-<name>.txt`.
async fn record(name: &str, mode: &str, secs: u64) -> anyhow::Result<()> {
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let version = std::process::Command::new(&code_server)
        .arg("--version")
        .output()?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or("?")
        .to_owned();
    let fx = Fixture::new(|b| b.code_server(&code_server).arg("--idle-timeout").arg("1h"))?;
    let shots = ide_support::screenshot_dir(&format!("record-{name}"))?;
    let raw = fx.tmp.path().join("recorded.txt");
    let mut script = Script::start(
        &tools,
        "record_corpus.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "file": "README.md",
            "mode": mode,
            "text": "recorded ",
            "idle_ms": secs * 1000,
            "out": raw.display().to_string(),
        }),
    )?;
    script.expect("loaded", STEP).await?;
    script.expect("recorded", STEP).await?;
    script.finish(STEP).await?;
    let body = std::fs::read_to_string(&raw)?;
    let head = format!(
        "# Recorded by `make record-corpus` (tests/tests/record_corpus.rs): code-server\n\
         # {version} in Chromium through dcs-proxy, mode {mode}, {secs} s after the\n\
         # workbench showed README.md; each VS Code message's data cut to 32 bytes.\n\
         # Replayed by launcher/src/activity/corpus.rs.\n"
    );
    std::fs::write(
        corpus_dir().join(format!("recorded-{name}.txt")),
        head + &body,
    )?;
    Ok(())
}

#[tokio::test]
#[ignore = "records the corpus from a real browser (minutes); run by make record-corpus"]
async fn record_an_untouched_vscode_tab() -> anyhow::Result<()> {
    record("vscode-idle", "idle", 150).await
}

#[tokio::test]
#[ignore = "records the corpus from a real browser (minutes); run by make record-corpus"]
async fn record_typing_in_vscode() -> anyhow::Result<()> {
    record("vscode-typing", "typing", 30).await
}
