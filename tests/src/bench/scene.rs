//! The bench's scene: a git server with the `acme/bench` repository (580 files and
//! some history, plus the 1 KB and 1 MB bodies the load runs fetch), `dcs-proxy`
//! processes started the way an operator would (default log level, access log on),
//! nginx in front of the same workspace, and `/proc` readings (CPU time, RSS).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use dcs_e2e::repos::noise;
use dcs_e2e::{bin_path, GitServer, UpstreamRepo};

/// Files of the first commit of `acme/bench`.
pub const FILES: usize = 580;
/// Later commits (each changes [`CHANGED`] files).
pub const HISTORY: usize = 20;
const CHANGED: usize = 30;

/// The path of a body of `size` in the workspace's file API.
pub fn body_path(size: &str) -> String {
    format!("/_dcs/files/bench/{size}.bin")
}

/// A git server serving `acme/bench`.
pub struct Git {
    /// The server.
    pub server: GitServer,
    /// The repository.
    pub repo: UpstreamRepo,
}

impl Git {
    /// Builds the repository under `root` and serves it.
    pub fn start(root: &Path) -> anyhow::Result<Self> {
        let files: Vec<(String, String)> = (0..FILES)
            .map(|i| {
                (
                    format!("src/m{:02}/f{i:03}.txt", i % 24),
                    noise(1500 + (i * 37) % 3000, i as u64 + 1),
                )
            })
            .chain([
                ("bench/1k.bin".to_owned(), noise(1024, 7)),
                ("bench/1m.bin".to_owned(), noise(1 << 20, 8)),
                ("README.md".to_owned(), "# bench\n".to_owned()),
            ])
            .collect();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let repo = UpstreamRepo::create(root, "acme/bench", &refs)?;
        for round in 0..HISTORY {
            let changed: Vec<(String, String)> = (0..CHANGED)
                .map(|k| {
                    let i = (round * CHANGED + k * 7) % FILES;
                    (
                        format!("src/m{:02}/f{i:03}.txt", i % 24),
                        noise(1500 + (i * 37) % 3000, (round * 1000 + k) as u64 + 99),
                    )
                })
                .collect();
            let refs: Vec<(&str, &str)> = changed
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            repo.commit(&refs, &format!("change {round}"))?;
        }
        let server = GitServer::start(root)?;
        Ok(Self { server, repo })
    }

    /// The clone URL of `acme/bench`.
    pub fn url(&self) -> String {
        self.repo.url(&self.server.base_url())
    }
}

/// A child process killed (and reaped) when dropped.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Proc {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `dcs-proxy` in local mode over `data`, as an operator runs it (log level
/// `info`: one access-log line per request, to a file), with `extra` flags.
pub fn proxy(data: &Path, git_base: &str, extra: &[&str]) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(data)?;
    let log = std::fs::File::create(data.join("proxy.log"))?;
    let mut child = Command::new(bin_path("dcs-proxy")?)
        .args(["serve", "--listen", "127.0.0.1:0", "--user", "alice"])
        .args(["--git-base", git_base])
        .arg("--data-dir")
        .arg(data)
        .arg("--launcher-bin")
        .arg(bin_path("dcs-launcher")?)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("spawn dcs-proxy")?;
    let announced = dcs_e2e::proxy::listening_addr(&mut child)?;
    let addr = match announced.recv_timeout(Duration::from_secs(30)) {
        Ok(announced) => announced.addr,
        Err(_) => {
            let _ = child.kill();
            bail!(
                "dcs-proxy did not start; see {}",
                data.join("proxy.log").display()
            );
        }
    };
    Ok(Proc { child, addr })
}

/// The descriptors tunnels may hold and the descriptor limit the proxy over `data`
/// logged at start (`file-descriptor limit … after=<limit> … tunnel_descriptors=<n>`).
pub fn tunnel_cap(data: &Path) -> Option<(usize, u64)> {
    let log = std::fs::read_to_string(data.join("proxy.log")).ok()?;
    let line = log.lines().find(|l| l.contains("file-descriptor limit"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((
        usize::try_from(field("tunnel_descriptors=")?).ok()?,
        field("after=")?,
    ))
}

/// The address the launcher under `data` published.
pub fn launcher_addr(data: &Path) -> anyhow::Result<SocketAddr> {
    for entry in std::fs::read_dir(data.join("run"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "addr") {
            return Ok(std::fs::read_to_string(&path)?.trim().parse()?);
        }
    }
    bail!("no launcher address under {}", data.display())
}

/// Live `dcs-launcher run` processes whose workspaces are under `data`.
pub fn launchers(data: &Path) -> Vec<u32> {
    let marker = format!(
        "DCS_WORKSPACES_DIR={}",
        data.join("workspaces").join("alice").display()
    );
    dcs_e2e::processes_with_env(&marker)
        .into_iter()
        .filter(|p| dcs_e2e::is_alive(*p))
        .collect()
}

/// A port the kernel says is free now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The hop credential of `alice`'s `acme/bench` under the proxy over `data`: what
/// any front of the workspace must send (nginx sends it like the proxy does).
pub fn hop_credential(data: &Path) -> anyhow::Result<String> {
    let path = dcs_proxy::runtime::local::default_hop_key(data);
    let key = dcs_proxy::hop::HopKey::load(&path).map_err(anyhow::Error::msg)?;
    let workspace = dcs_model::WorkspaceKey::new(
        dcs_model::UserId::new("alice")?,
        dcs_model::RepoRef::parse("acme/bench")?,
    );
    Ok(key.credential(&workspace.name()).expose().to_owned())
}

/// nginx (`proxy_pass` to `upstream` with upstream keep-alive, HTTP/1.1, WebSocket
/// upgrades, streaming both ways, access log on, the hop credential `hop` added)
/// under `dir`.
pub fn nginx(dir: &Path, upstream: SocketAddr, hop: &str) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(dir.join("temp"))?;
    let port = free_port()?;
    let conf = format!(
        r#"daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 65536;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 32768; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/temp/client;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream workspace {{ server {upstream}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://workspace;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header {header} {hop};
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"#,
        dir = dir.display(),
        header = dcs_model::env::HOP_HEADER,
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let child = Command::new(nginx_bin()?)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn nginx")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!(
                "nginx did not start; see {}",
                dir.join("error.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Proc { child, addr })
}

/// `dcs-bench-hyper` (hyper's server and the proxy's upstream pool, nothing else)
/// forwarding to `upstream`: the HTTP section's reference for what the libraries cost.
/// It is built beside `dcs-bench` (`make bench`).
pub fn hyper_reference(upstream: SocketAddr) -> anyhow::Result<Proc> {
    let exe = std::env::current_exe()?
        .with_file_name(format!("dcs-bench-hyper{}", std::env::consts::EXE_SUFFIX));
    let mut child = Command::new(&exe)
        .arg(upstream.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawn {} (built by `make bench`)", exe.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("dcs-bench-hyper said {line:?}"))?;
    Ok(Proc { child, addr })
}

/// The nginx executable; missing, the bench fails naming the make target.
pub fn nginx_bin() -> anyhow::Result<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join("nginx");
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("nginx is not installed: run `make bench-deps` (or `make bench`)")
}

/// `pid` and its descendants.
pub fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) {
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                all.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
        i += 1;
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// CPU time (user + system) of `pids`, in seconds.
pub fn cpu_secs(pids: &[u32]) -> f64 {
    let tick = 100.0;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|line| {
            let rest = &line[line.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 (the 12th and 13th after `)`).
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / tick)
        })
        .sum()
}

/// Resident memory of `pids`, in KiB.
pub fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Requests `url` until it answers (a workspace opened): a `2xx` or `3xx` is an
/// answer (code-server's root redirects).
pub async fn open(http: &reqwest::Client, url: &str) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let resp = http.get(url).send().await?;
    let status = resp.status();
    resp.bytes().await?;
    if status.as_u16() >= 400 {
        bail!("{url} answered {status}");
    }
    Ok(began.elapsed())
}
