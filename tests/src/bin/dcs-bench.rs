//! `dcs-bench`: the side-by-side suite of docs/benchmarks.md, on real processes on
//! loopback, with the binaries that ship (`make bench`: the `dist` profile):
//!
//! - HTTP: req/s, p50/p99 and CPU per request at 1/16/64/256 connections, 1 KB and
//!   1 MB bodies, through dcs-proxy, nginx (`proxy_pass`, upstream keep-alive,
//!   HTTP/1.1, streaming), directly to the workspace's launcher, and through
//!   `dcs-bench-hyper` (hyper and the proxy's upstream pool alone: what the libraries cost);
//! - WebSocket echo round trip at 32 B, 8 KiB and 64 KiB, the same three ways;
//! - 1,000 and 10,000 idle WebSockets through dcs-proxy and nginx: RSS while open
//!   and after close, drops; 1,000 also through a sandboxed workspace (unix socket);
//! - wake from zero (`none`, and code-server against bare code-server);
//! - first open against `git clone --depth 1` and `git clone`;
//! - idle RSS.
//!
//! The targets alternate within each round (their order rotates per round), so load
//! from elsewhere on the machine falls on all of them alike. Prints Markdown with
//! the date, the commit and the command, each goal of the issue next to its figures.
//!
//! `DCS_BENCH_QUICK=1` runs a short version (fewer rounds, shorter runs, fewer
//! WebSockets) to check the suite itself. `DCS_BENCH_ONLY=http,echo,idle,wake,open`
//! runs only the named sections (comma-separated; all by default).
//! `DCS_BENCH_HOLD=1` starts the scene (proxy, workspace, nginx), prints where each
//! target (and the git server of the first opens) listens and holds it until
//! interrupted, for profiling by hand.
//! `DCS_BENCH_ROUNDS`, `DCS_BENCH_SECS`, `DCS_BENCH_CONNS=1,256`,
//! `DCS_BENCH_BODIES=1k` and `DCS_BENCH_OPENS` override the plan's rounds, run
//! length, connection counts, HTTP bodies and first opens.

#[path = "../bench/load.rs"]
mod load;
#[path = "../bench/open.rs"]
mod open;
#[path = "../bench/report.rs"]
mod report;
#[path = "../bench/scene.rs"]
mod scene;
#[path = "../bench/ws.rs"]
mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use report::{Report, HYPER, SANDBOXED, TARGETS};

/// How much to measure.
struct Plan {
    rounds: usize,
    secs: u64,
    conns: Vec<usize>,
    echo_rounds: usize,
    idle_counts: Vec<usize>,
    wakes: usize,
    ide_wakes: usize,
    opens: usize,
    /// The sections to run (`None`: all).
    only: Option<Vec<String>>,
    bodies: Vec<String>,
}

/// The comma-separated list in the environment variable `name`, if set.
fn list(name: &str) -> Option<Vec<String>> {
    std::env::var(name).ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// The number in the environment variable `name`, if set and readable.
fn number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl Plan {
    fn new() -> Self {
        let sized = Self::sized();
        Self {
            only: list("DCS_BENCH_ONLY"),
            bodies: list("DCS_BENCH_BODIES").unwrap_or(sized.bodies.clone()),
            conns: list("DCS_BENCH_CONNS")
                .map(|c| c.iter().filter_map(|c| c.parse().ok()).collect())
                .unwrap_or(sized.conns.clone()),
            rounds: number("DCS_BENCH_ROUNDS").unwrap_or(sized.rounds),
            secs: number("DCS_BENCH_SECS").map_or(sized.secs, |s| s as u64),
            opens: number("DCS_BENCH_OPENS").unwrap_or(sized.opens),
            ..sized
        }
    }

    /// Whether the section `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == name))
    }

    fn sized() -> Self {
        if std::env::var_os("DCS_BENCH_QUICK").is_some() {
            return Self {
                only: None,
                bodies: vec!["1k".into(), "1m".into()],
                rounds: 1,
                secs: 1,
                conns: vec![1, 16],
                echo_rounds: 50,
                idle_counts: vec![500],
                wakes: 3,
                ide_wakes: 1,
                opens: 1,
            };
        }
        Self {
            rounds: 3,
            secs: 3,
            conns: vec![1, 16, 64, 256],
            echo_rounds: 200,
            idle_counts: vec![1_000, 10_000],
            wakes: 20,
            ide_wakes: 5,
            opens: 9,
            only: None,
            bodies: vec!["1k".into(), "1m".into()],
        }
    }
}

/// The first line `program args` prints (stdout or stderr).
fn version(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default()
}

/// `targets` rotated by `round`, so each goes first in turn.
fn rotated<T: Clone>(targets: &[T], round: usize) -> Vec<T> {
    let mut v = targets.to_vec();
    let len = v.len().max(1);
    v.rotate_left(round % len);
    v
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plan = Plan::new();
    // 10,000 WebSockets need 10,000 descriptors here and more in the targets.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    load::wrk_bin()?;
    scene::nginx_bin()?;
    let code_server = dcs_e2e::ide_support::code_server();

    let tmp = tempfile::tempdir()?;
    let git = scene::Git::start(&tmp.path().join("git"))?;
    let data = tmp.path().join("main");
    let proxy = scene::proxy(&data, &git.server.base_url(), &["--idle-timeout", "1h"])?;
    let http = dcs_e2e::client();
    let base = "/github/acme/bench";
    scene::open(
        &http,
        &format!("http://{}{base}/_dcs/files/README.md", proxy.addr),
    )
    .await?;
    let launcher_addr = scene::launcher_addr(&data)?;
    let launcher = *scene::launchers(&data).first().context("no launcher")?;
    let hop = scene::hop_credential(&data)?;
    let nginx = scene::nginx(&tmp.path().join("nginx"), launcher_addr, &hop)?;
    let mut report = Report {
        tunnel_cap: scene::tunnel_cap(&data),
        ..Report::default()
    };

    tokio::time::sleep(Duration::from_secs(3)).await;
    report.idle_rss = [
        scene::rss_kib(&[proxy.pid()]),
        scene::rss_kib(&[launcher]),
        scene::rss_kib(&scene::family(nginx.pid())),
    ];

    // Where each target is reached, the path prefix it needs, whose CPU counts, and
    // the hop credential (sent by the proxy and nginx themselves; by us, direct).
    let targets: Vec<(&str, SocketAddr, &str, Vec<u32>)> = vec![
        (TARGETS[0], proxy.addr, base, vec![proxy.pid()]),
        (TARGETS[1], nginx.addr, "", scene::family(nginx.pid())),
        (TARGETS[2], launcher_addr, "", vec![launcher]),
    ];
    // HTTP only (it forwards no upgrades): what hyper and the upstream pool alone cost.
    let hyper = scene::hyper_reference(launcher_addr)?;
    let mut http_targets = targets.clone();
    http_targets.push((HYPER, hyper.addr, "", vec![hyper.pid()]));
    let hop_header = |name: &str| -> Vec<(&'static str, String)> {
        if name == TARGETS[2] || name == HYPER {
            vec![(dcs_model::env::HOP_HEADER, hop.clone())]
        } else {
            Vec::new()
        }
    };

    if std::env::var_os("DCS_BENCH_HOLD").is_some() {
        println!("dcs-proxy http://{}{base} pid {}", proxy.addr, proxy.pid());
        println!(
            "nginx http://{} pids {:?}",
            nginx.addr,
            scene::family(nginx.pid())
        );
        println!("direct http://{launcher_addr} pid {launcher}");
        println!("{HYPER} http://{} pid {}", hyper.addr, hyper.pid());
        println!("direct needs: {}: {hop}", dcs_model::env::HOP_HEADER);
        println!("bodies: {}", scene::body_path("1k"));
        println!("git base (first opens): {}", git.server.base_url());
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    if plan.runs("http") {
        eprintln!("HTTP load…");
        for round in 0..plan.rounds {
            for body in plan.bodies.iter().map(String::as_str) {
                for &conns in &plan.conns {
                    for (name, addr, prefix, pids) in rotated(&http_targets, round) {
                        let url = format!("http://{addr}{prefix}{}", scene::body_path(body));
                        let headers: Vec<String> = hop_header(name)
                            .into_iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect();
                        let run = load::run(&url, &headers, conns, plan.secs, &pids)?;
                        anyhow::ensure!(
                            run.errors * 100 <= run.requests,
                            "{name} answered {} of {} requests with errors ({url})",
                            run.errors,
                            run.requests
                        );
                        report
                            .load
                            .entry((body.to_owned(), conns, name.to_owned()))
                            .or_default()
                            .push(run);
                    }
                }
            }
        }
    }

    if plan.runs("echo") {
        eprintln!("WebSocket echo…");
        for round in 0..plan.rounds {
            for size in [32, 8 * 1024, 64 * 1024] {
                for (name, addr, prefix, _) in rotated(&targets, round) {
                    let path = format!("{prefix}/_dcs/ws-echo");
                    let times =
                        ws::echo(addr, &path, &hop_header(name), size, plan.echo_rounds).await?;
                    report
                        .echo
                        .entry((size, name.to_owned()))
                        .or_default()
                        .extend(times);
                }
            }
        }
    }

    if plan.runs("idle") {
        eprintln!("idle WebSockets…");
        for (i, &count) in plan.idle_counts.iter().enumerate() {
            for (name, addr, prefix, pids) in rotated(&targets[..2], i) {
                let pids = if name == "nginx" {
                    scene::family(nginx.pid())
                } else {
                    pids
                };
                let path = format!("{prefix}/_dcs/ws-echo");
                let idle = ws::idle(addr, &path, count, &pids, launcher).await?;
                report.idle.insert((count, name.to_owned()), idle);
            }
        }
        let (count, data) = (plan.idle_counts[0], tmp.path().join("sandboxed"));
        let idle = ws::idle_sandboxed(&git.server.base_url(), &data, count).await?;
        report.idle.insert((count, SANDBOXED.to_owned()), idle);
    }
    drop(nginx);
    drop(proxy);

    if plan.runs("wake") {
        eprintln!("wake from zero…");
        let readme = format!("{base}/_dcs/files/README.md");
        let none = open::Waker::start(&git, &tmp.path().join("wake-none"), &[], &readme).await?;
        for _ in 0..plan.wakes {
            report.wake_none.push(none.wake().await?);
        }
        drop(none);
        let ide_bin = code_server.display().to_string();
        let ide_flags = ["--ide", "code-server", "--ide-bin", ide_bin.as_str()];
        let ide = open::Waker::start(
            &git,
            &tmp.path().join("wake-ide"),
            &ide_flags,
            &format!("{base}/"),
        )
        .await?;
        let folder = tmp.path().join("wake-ide/workspaces/alice/acme/bench");
        for round in 0..plan.ide_wakes {
            report.wake_code_server.push(ide.wake().await?);
            let dir = tmp.path().join(format!("bare-{round}"));
            report
                .bare_code_server
                .push(open::bare_code_server(&code_server, &folder, &dir).await?);
        }
        drop(ide);
    }

    if plan.runs("open") {
        eprintln!("first open…");
        let opens = open::first_opens_and_clones(&git, tmp.path(), plan.opens).await?;
        report.first_open = opens.first_open;
        report.clone_shallow = opens.clone_shallow;
        report.clone_full = opens.clone_full;
    }

    print(&report, &plan);
    Ok(())
}

fn print(report: &Report, plan: &Plan) {
    let date = version("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut out = String::new();
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((0, 0));
    out.push_str(&format!(
        "Measured {date} at commit {} with `make bench` (binaries from {}; {} cores, {}; {}; {}; \
         descriptor limit {soft}/{hard}).\n\n",
        dcs_e2e::git_cli::measured_commit(),
        dcs_e2e::bin_dir().map_or_else(|_| "?".to_owned(), |d| d.display().to_string()),
        std::thread::available_parallelism().map_or(0, usize::from),
        version("uname", &["-sr"]),
        version("nginx", &["-v"]),
        version("wrk", &["--version"])
            .split(" [")
            .next()
            .unwrap_or(""),
    ));
    out.push_str(&format!(
        "Everything runs on this one machine on loopback: the load generator, the targets, the \
         workspace's launcher and the git server. Targets alternate within each of {} rounds; \
         each HTTP figure is the median over the rounds of one {} s `wrk` run (keep-alive \
         connections, 1–2 threads). CPU per request is the target's own processes' CPU time \
         (`/proc`) over the requests it served: dcs-proxy's process, nginx's master and \
         workers, the launcher for direct, and for hyper only `dcs-bench-hyper` (a \
         release build: hyper's server and dcs-proxy's upstream pool forwarding as they \
         are, the reference for what those libraries alone cost).\n\n",
        plan.rounds, plan.secs
    ));
    if plan.runs("http") {
        out.push_str("### HTTP (`GET /_dcs/files/bench/<size>.bin` from the same workspace)\n\n");
        report.load_section(&mut out);
    }
    if plan.runs("echo") {
        out.push_str(&format!(
            "\n### WebSocket echo round trip (`/_dcs/ws-echo`, {} round trips × {} rounds)\n\n",
            plan.echo_rounds, plan.rounds
        ));
        report.echo_section(&mut out);
    }
    if plan.runs("idle") {
        out.push_str(&format!(
        "\n### Idle WebSockets (each echoed once after all were open; RSS after close read {} s \
         after the last closed)\n\n",
        ws::AFTER_CLOSE.as_secs()
    ));
        report.idle_section(&mut out);
    }
    if plan.runs("wake") || plan.runs("open") {
        out.push_str("\n### Opening workspaces\n\n");
        report.open_section(&mut out);
    }
    println!("{out}");
}
