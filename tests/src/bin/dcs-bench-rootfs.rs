//! `dcs-bench-rootfs`: first start and wake of the workspace container inside the
//! bookworm root filesystem (minbase, no CA certificates), run as the proxy's
//! generated Knative container under bubblewrap (uid 1000, no capabilities; see
//! `dcs_e2e::rootfs`). Measured, never asserted:
//!
//! - **first start**: the container starts → `/_dcs/ready` answers 200, on fresh
//!   volumes: trust bundle, clone of `acme/hello` over HTTPS (private CA given as the
//!   extra CA Secret), then the IDE (`none`; code-server: download of a stand-in
//!   archive from a loopback HTTPS mirror, checksum, unpack, start);
//! - **wake**: the same after a clean stop, on the kept volumes: fetch, the IDE from
//!   the install cache.
//!
//! Image pull, volume attach and scheduling (a cluster's share of a cold start) are
//! not in these figures. Prerequisites: `make static-launcher rootfs ide-deps`. Run:
//! `cargo run --release -p dcs-e2e --bin dcs-bench-rootfs` (prints a Markdown table).

use std::time::{Duration, Instant};

use dcs_e2e::rootfs::scene::Scene;

const FIRST_STARTS: usize = 5;
const WAKES: usize = 10;
const PATIENCE: Duration = Duration::from_secs(240);

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Median, p90, min and max of `runs`.
fn summary(mut runs: Vec<Duration>) -> String {
    runs.sort();
    let at = |p: f64| runs[(((runs.len() - 1) as f64) * p).round() as usize];
    format!(
        "{} | {} | {} – {}",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(runs[0]),
        ms(runs[runs.len() - 1])
    )
}

/// One start of `ide` in `scene`, to ready, then a clean stop; the time to ready.
async fn start_once(scene: &Scene, ide: &str) -> anyhow::Result<Duration> {
    let git_base = scene.git().base_url();
    let t = Instant::now();
    let running = scene.start(ide, &git_base).await?;
    running.ready(PATIENCE).await?;
    let took = t.elapsed();
    let code = running.stop().await?;
    anyhow::ensure!(code == Some(0), "the container stopped with {code:?}");
    Ok(took)
}

/// `FIRST_STARTS` first starts (a fresh scene each) and `WAKES` wakes of `ide`.
async fn measure(ide: &str) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut firsts = Vec::new();
    let mut scene = None;
    for _ in 0..FIRST_STARTS {
        let mut fresh = Scene::new("bookworm")?;
        if ide == "code-server" {
            fresh.with_code_server()?;
        }
        firsts.push(start_once(&fresh, ide).await?);
        scene = Some(fresh);
    }
    let scene = scene.ok_or_else(|| anyhow::anyhow!("no scene"))?;
    let mut wakes = Vec::new();
    for _ in 0..WAKES {
        wakes.push(start_once(&scene, ide).await?);
    }
    Ok((firsts, wakes))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "Workspace container in the bookworm root (bubblewrap, uid 1000), commit {}, {cores} cores;\n\
         `cargo run --release -p dcs-e2e --bin dcs-bench-rootfs`.\n",
        dcs_e2e::git_cli::measured_commit()
    );
    println!("| IDE | start | runs | median | p90 | min – max |");
    println!("|---|---|---|---|---|---|");
    for ide in ["none", "code-server"] {
        let (firsts, wakes) = measure(ide).await?;
        println!(
            "| {ide} | first start (clone over HTTPS{}) | {FIRST_STARTS} | {} |",
            if ide == "none" {
                ""
            } else {
                ", download, install"
            },
            summary(firsts)
        );
        println!(
            "| {ide} | wake (fetch{}) | {WAKES} | {} |",
            if ide == "none" { "" } else { ", installed IDE" },
            summary(wakes)
        );
    }
    Ok(())
}
