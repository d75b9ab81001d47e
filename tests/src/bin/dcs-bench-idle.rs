//! `dcs-bench-idle`: how long an abandoned VS Code tab keeps its workspace, measured
//! with the real IDE in a browser (docs/benchmarks.md).
//!
//! Starts a git server and `dcs-proxy` in local mode with code-server (`make
//! ide-deps`) and `--idle-timeout <T>`, opens the workspace in headless Chromium
//! (`tests/browser/idle_abandon.mjs`), presses one key in the editor, and never
//! touches the page again. Measures, from the launcher's record of that last input:
//! when the warning showed in the page, when the launcher process was gone (the
//! stop), and when the page showed its Resume overlay. Prints Markdown with the date,
//! the commit and the command.
//!
//! ```sh
//! cargo build --release --bins
//! target/release/dcs-bench-idle [--timeout 60] [--warning 30] [--runs 3]
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use dcs_e2e::browser::{self, Script};
use dcs_e2e::{client, ide_support, Fixture};

/// Unix seconds now, with a fraction.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The value of `--name <value>` on the command line, or `default`.
fn flag(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| format!("{name} takes whole seconds")),
        None => Ok(default),
    }
}

/// One run's figures, seconds after the last input.
struct Run {
    warning: f64,
    stop: f64,
    overlay: f64,
}

async fn one(timeout: u64, warning: u64) -> anyhow::Result<Run> {
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::screenshot_dir("bench_idle")?;
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .arg("--idle-timeout")
            .arg(format!("{timeout}s"))
            .arg("--idle-warning")
            .arg(format!("{warning}s"))
    })?;
    let long = Duration::from_secs(600 + 3 * timeout);
    let mut script = Script::start(
        &tools,
        "idle_abandon.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "file": "README.md",
        }),
    )?;
    script.expect("touched", long).await?;
    // The launcher's record of the last input, followed (as background traffic,
    // which never counts) until the stop: every input it recorded is listed.
    let url = fx.proxy.url("/github/acme/hello/_dcs/idle");
    let mut inputs: Vec<(u64, String)> = Vec::new();
    let deadline = std::time::Instant::now() + long;
    while !fx.proxy.launcher_pids().is_empty() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the abandoned tab's workspace never stopped"
        );
        let answer = client()
            .get(&url)
            .header("X-DCS-Background", "1")
            .send()
            .await;
        if let Ok(resp) = answer {
            let body = resp.bytes().await.unwrap_or_default();
            let report: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if let (Some(at), Some(kind)) = (
                report["last_input"]["at"].as_u64(),
                report["last_input"]["kind"].as_str(),
            ) {
                if inputs.last().is_none_or(|(a, _)| *a != at) {
                    inputs.push((at, kind.to_owned()));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stopped = now();
    let (last, _) = inputs.last().cloned().context("no input recorded")?;
    let last = last as f64;
    let first = inputs.first().map_or(0, |(at, _)| *at);
    eprintln!(
        "inputs recorded (s after the first): {:?}",
        inputs
            .iter()
            .map(|(at, kind)| format!("{}:{kind}", at - first))
            .collect::<Vec<_>>()
    );
    let warned = script.expect("warning", long).await?;
    let overlay = script.expect("overlay", long).await?;
    script.finish(long).await?;
    let ms = |v: &serde_json::Value| v["at"].as_f64().unwrap_or_default() / 1000.0;
    Ok(Run {
        warning: ms(&warned) - last,
        stop: stopped - last,
        overlay: ms(&overlay) - last,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let timeout = flag("--timeout", 60)?;
    let warning = flag("--warning", 30)?;
    let runs = flag("--runs", 3)?.max(1);
    let mut all = Vec::new();
    for i in 0..runs {
        eprintln!("run {}/{runs}", i + 1);
        all.push(one(timeout, warning).await?);
    }
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "Measured {date}, commit `{}`:\n",
        dcs_e2e::git_cli::measured_commit()
    );
    println!("```\ndcs-bench-idle {}\n```\n", args.join(" "));
    println!("| run | warning shown | workspace stopped | Resume shown |\n|---|---|---|---|");
    for (i, r) in all.iter().enumerate() {
        println!(
            "| {} | {:.1} s | {:.1} s | {:.1} s |",
            i + 1,
            r.warning,
            r.stop,
            r.overlay
        );
    }
    let reaper = (timeout as f64 / 10.0).clamp(0.1, 15.0);
    println!(
        "\nSeconds after the last input (the launcher's record, whole seconds); idle \
         timeout {timeout} s, warning {warning} s, reaper period {reaper:.1} s."
    );
    Ok(())
}
