//! The common scene of an end-to-end test: a temp dir, a git server on loopback
//! serving `acme/hello` (README.md + src/main.rs), and a proxy cloning from it.

use std::time::Duration;

use tempfile::TempDir;

use crate::git_server::GitServer;
use crate::proxy::{Proxy, ProxyBuilder};
use crate::repos::UpstreamRepo;

/// README contents of the fixture repo.
pub const README: &str = "# hello\n\nThe fixture repository.\n";

/// A test's world. Field order is drop order: proxy first, then servers, then files.
pub struct Fixture {
    /// The proxy under test.
    pub proxy: Proxy,
    /// The upstream repo `acme/hello`.
    pub repo: UpstreamRepo,
    /// The git server.
    pub git: GitServer,
    /// Everything on disk.
    pub tmp: TempDir,
}

impl Fixture {
    /// A fixture whose proxy gets extra flags from `configure`.
    pub fn new(configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> anyhow::Result<Self> {
        Self::with_git(GitServer::start, configure)
    }

    /// Like [`Fixture::new`] with a custom git server (e.g. token-protected).
    pub fn with_git(
        git: impl FnOnce(&std::path::Path) -> anyhow::Result<GitServer>,
        configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
    ) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir()?;
        let git_root = tmp.path().join("git");
        std::fs::create_dir_all(&git_root)?;
        let repo = UpstreamRepo::create(
            &git_root,
            "acme/hello",
            &[("README.md", README), ("src/main.rs", "fn main() {}\n")],
        )?;
        let git = git(&git_root)?;
        let builder = ProxyBuilder::new(&tmp.path().join("data"), &git.base_url())
            .arg("--stop-grace")
            .arg("2s");
        let proxy = configure(builder).start()?;
        Ok(Self {
            proxy,
            repo,
            git,
            tmp,
        })
    }

    /// A fixture whose proxy runs `--auth trusted-headers` for tokens of `issuer`
    /// (the secret file is written, read at start-up, then removed), as `user`,
    /// with `extra` flags.
    pub fn trusted_headers(
        issuer: &crate::JwtIssuer,
        user: &str,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let secret = issuer.write_secret(dir.path())?;
        Self::new(|b| {
            issuer
                .proxy_args(&secret)
                .into_iter()
                .chain(extra.iter().cloned())
                .fold(b.user(user), |b, a| b.arg(a))
        })
    }

    /// Where the proxy's user has `acme/hello` checked out.
    pub fn checkout(&self) -> std::path::PathBuf {
        self.proxy.volume().join("acme/hello")
    }

    /// Sends `req` (to this fixture's proxy) and expects `200`; otherwise fails with
    /// the status and the proxy's log.
    pub async fn expect_ok(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let resp = req.send().await?;
        anyhow::ensure!(
            resp.status() == 200,
            "{}: {}",
            resp.status(),
            self.proxy.log()
        );
        Ok(resp)
    }

    /// Asks for `acme/hello`'s README through the proxy (which starts or wakes the
    /// workspace as needed) and checks that it comes whole.
    pub async fn readme_is_served(&self) -> anyhow::Result<()> {
        let url = self.proxy.url("/github/acme/hello/_dcs/files/README.md");
        let resp = self.expect_ok(client().get(url)).await?;
        anyhow::ensure!(resp.text().await? == README, "another README was served");
        Ok(())
    }

    /// Waits until no launcher of this proxy's user runs.
    ///
    /// A process that is exiting loses its environment (the marker launchers are
    /// found by) a moment before it ends, so the launchers running at the start are
    /// also waited for by pid until they are gone.
    pub async fn wait_for_no_launcher(&self, timeout: Duration) -> bool {
        let running = self.proxy.launcher_pids();
        crate::procs::wait_until(timeout, Duration::from_millis(50), || {
            self.proxy.launcher_pids().is_empty()
                && !running.iter().any(|&pid| crate::procs::is_alive(pid))
        })
        .await
    }
}

/// `req` as a person's navigation in a browser tab: an HTML page asked for by typing
/// its address or following a link (what may wake, or make again, a workspace).
pub fn navigation(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("accept", "text/html,application/xhtml+xml")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .header("sec-fetch-site", "none")
}

/// A response's `Location` header ("" without one): where a redirect sends the client.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An HTTP client that does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    // reqwest's rustls (enabled workspace-wide by the CLI) has no provider of its
    // own: install the one the project uses, ring. An Err means one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}
