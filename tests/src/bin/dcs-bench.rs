//! `dcs-bench`: the figures in docs/benchmarks.md, measured on real processes.
//!
//! - wake from zero: request → first byte (response head) for a workspace whose
//!   repo is already cloned and whose launcher was stopped for idleness;
//! - idle RSS of the proxy and of one launcher (`none` IDE).
//!
//! Run with `make bench` (release binaries). Prints a Markdown table.

use std::time::{Duration, Instant};

use dcs_e2e::{client, Fixture, ProxyBuilder};

const WAKES: usize = 20;

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// The commit measured, `+dirty` when the tree has uncommitted changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

/// Today's date (UTC), from `date`.
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let http = client();
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("1s"))?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");

    let t = Instant::now();
    http.get(&url).send().await?.error_for_status()?;
    let first_open = t.elapsed();

    let mut wakes = Vec::with_capacity(WAKES);
    for _ in 0..WAKES {
        anyhow::ensure!(
            fx.wait_for_no_launcher(Duration::from_secs(30)).await,
            "launcher did not stop"
        );
        let t = Instant::now();
        let resp = http.get(&url).send().await?; // resolves at the response head
        wakes.push(t.elapsed());
        resp.error_for_status()?.bytes().await?;
    }
    wakes.sort();

    // Idle RSS: a proxy that keeps its workspace, measured after a request and a pause.
    let tmp = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(tmp.path(), &fx.git.base_url()).start()?;
    http.get(proxy.url("/github/acme/hello/"))
        .send()
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let proxy_pid = proxy.pid().ok_or_else(|| anyhow::anyhow!("no proxy pid"))?;
    let launcher_pid = *proxy
        .launcher_pids()
        .first()
        .ok_or_else(|| anyhow::anyhow!("no launcher"))?;

    println!(
        "Measured {} at commit {} (`make bench`, release build).\n",
        today(),
        commit()
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| first open (clone + start), 1 run | {:.1} ms |",
        first_open.as_secs_f64() * 1e3
    );
    println!(
        "| wake from zero, request → first byte, median of {WAKES} | {:.1} ms |",
        percentile(&wakes, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "| wake from zero, p90 | {:.1} ms |",
        percentile(&wakes, 0.9).as_secs_f64() * 1e3
    );
    println!(
        "| wake from zero, min / max | {:.1} / {:.1} ms |",
        wakes[0].as_secs_f64() * 1e3,
        wakes[WAKES - 1].as_secs_f64() * 1e3
    );
    println!("| proxy idle RSS | {} KiB |", rss_kib(proxy_pid)?);
    println!(
        "| launcher (`none` IDE) idle RSS | {} KiB |",
        rss_kib(launcher_pid)?
    );
    Ok(())
}
