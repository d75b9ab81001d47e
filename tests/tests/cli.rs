//! The `dcs` CLI end to end: the real binary as a child process against a real proxy
//! (local mode, `--auth none`) cloning from a real git server. One full cycle (create
//! and wait, status, open with the stored token, the token exchanged for a cookie
//! that reaches the workspace, list, delete, then everything of it is gone), plus
//! the exit codes for a rejected request (2) and an unreachable server (5).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use dcs_e2e::{bin_path, client, location, Fixture};
use serde_json::Value;
use tempfile::TempDir;

/// The `dcs` binary with a private HOME and config dir, pointed at one server.
struct Dcs {
    bin: PathBuf,
    home: TempDir,
    server: String,
}

/// What one `dcs` run did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.stdout).with_context(|| format!("stdout is not JSON: {self:?}"))
    }

    fn expect(self, code: i32) -> anyhow::Result<Self> {
        if self.code != Some(code) {
            bail!("expected exit {code}, got {self:#?}");
        }
        Ok(self)
    }
}

impl Dcs {
    fn new(server: &str) -> anyhow::Result<Self> {
        Ok(Self {
            bin: bin_path("dcs")?,
            home: tempfile::tempdir()?,
            server: server.to_owned(),
        })
    }

    fn config_home(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn token_store(&self) -> PathBuf {
        self.config_home().join("dcs/tokens.json")
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<Run> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .arg("--server")
            .arg(&self.server)
            .env_remove("DCS_SERVER")
            .env_remove("DCS_TOKEN")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_home())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
            .await
            .with_context(|| format!("dcs {args:?} did not finish"))??;
        Ok(Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v[key]
        .as_str()
        .with_context(|| format!("no string {key:?} in {v}"))
}

/// The `name=value` part of a `Set-Cookie` header.
fn cookie_pair(resp: &reqwest::Response) -> Option<String> {
    let header = resp.headers().get("set-cookie")?.to_str().ok()?;
    header.split(';').next().map(|p| p.trim().to_owned())
}

fn mode(path: &Path) -> anyhow::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[tokio::test]
async fn a_full_cycle_create_wait_status_open_list_delete() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--ide").arg("none"))?;
    let dcs = Dcs::new(&fx.proxy.url(""))?;
    let http = client();

    // create --wait: the instance, its token and the URL with it, once.
    let run = dcs
        .run(&[
            "create",
            "--repo",
            "acme/hello",
            "--ide",
            "none",
            "--wait",
            "--output",
            "json",
        ])
        .await?;
    let run = run.expect(0).with_context(|| fx.proxy.log())?;
    let created = run.json()?;
    let id = str_of(&created, "instance_id")?.to_owned();
    let token = str_of(&created, "access_token")?.to_owned();
    let open_url = str_of(&created, "open_url")?.to_owned();
    assert!(run.stderr.contains("shown only once"), "{run:?}");
    assert!(run.stderr.contains("is ready"), "{run:?}");
    assert!(
        open_url.starts_with(&fx.proxy.url(&format!("/instances/{id}/"))),
        "{open_url}"
    );
    assert!(open_url.ends_with(&format!("tkn={token}")), "{open_url}");

    // The token store is private and holds the token.
    let store = dcs.token_store();
    assert_eq!(mode(&store)?, 0o600);
    assert_eq!(mode(store.parent().context("dir")?)?, 0o700);
    assert!(std::fs::read_to_string(&store)?.contains(&token));

    // status: ready and running.
    let status = dcs
        .run(&["status", "--instance-id", &id, "--output", "json"])
        .await?
        .expect(0)?
        .json()?;
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["phase"], "running", "{status}");
    let table = dcs.run(&["status", &id]).await?.expect(0)?;
    assert!(table.stdout.contains("running"), "{table:?}");

    // open --print: the same URL, from the store.
    let printed = dcs.run(&["open", &id, "--print"]).await?.expect(0)?;
    assert_eq!(printed.stdout.trim(), open_url);

    // The token buys a cookie (303), and the cookie reaches the workspace.
    let resp = http.get(&open_url).send().await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    let location = location(&resp);
    assert!(
        !location.contains(&token),
        "the token leaves the URL: {location}"
    );
    let cookie = cookie_pair(&resp).context("no Set-Cookie after the token")?;
    let ready_url = fx.proxy.url(&format!("/instances/{id}/_dcs/ready"));
    let resp = http
        .get(&ready_url)
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let resp = http.get(&ready_url).send().await?;
    assert!(
        resp.status().is_client_error(),
        "no cookie, no token: {}",
        resp.status()
    );

    // stop: stopped when it answers, the files kept.
    let stopped = dcs.run(&["stop", &id]).await?.expect(0)?;
    assert!(stopped.stdout.contains("stopped"), "{stopped:?}");
    let status = dcs
        .run(&["status", "--instance-id", &id, "--output", "json"])
        .await?
        .expect(0)?
        .json()?;
    assert_eq!(status["phase"], "stopped", "{status}");
    // start --wait: ready when it returns, and the link reaches it.
    let started = dcs
        .run(&["start", &id, "--wait", "--output", "json"])
        .await?
        .expect(0)?
        .json()?;
    assert_eq!(started["phase"], "running", "{started}");
    let resp = http
        .get(&ready_url)
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "started: {}", fx.proxy.log());

    // list shows it, as JSON and as a table.
    let list = dcs
        .run(&["list", "--output", "json"])
        .await?
        .expect(0)?
        .json()?;
    let ids: Vec<&str> = list["instances"]
        .as_array()
        .context("instances")?
        .iter()
        .filter_map(|i| i["instance_id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{list}");
    let table = dcs.run(&["list"]).await?.expect(0)?;
    assert!(
        table.stdout.starts_with("INSTANCE") && table.stdout.contains(&id),
        "{table:?}"
    );
    // Everyone's (the local user is an admin): the same one, with its owner.
    let all = dcs.run(&["list", "--all"]).await?.expect(0)?;
    assert!(
        all.stdout.contains(&id) && all.stdout.contains("alice"),
        "{all:?}"
    );

    // delete: gone from the server and from the token store.
    let deleted = dcs
        .run(&["delete", "--instance-id", &id])
        .await?
        .expect(0)?;
    assert!(deleted.stdout.contains(&id), "{deleted:?}");
    assert!(!std::fs::read_to_string(&store)?.contains(&token));
    let gone = dcs.run(&["get", "--instance-id", &id]).await?.expect(4)?;
    assert!(!gone.stderr.trim().is_empty(), "{gone:?}");
    let no_token = dcs.run(&["open", &id, "--print"]).await?.expect(4)?;
    assert!(
        no_token.stderr.contains("no stored access token"),
        "{no_token:?}"
    );

    // The old URL and the old cookie open nothing any more.
    let resp = http.get(&open_url).send().await?;
    assert!(
        resp.status().is_client_error() && cookie_pair(&resp).is_none(),
        "old token: {} {:?}",
        resp.status(),
        resp.headers()
    );
    let resp = http
        .get(&ready_url)
        .header("cookie", &cookie)
        .send()
        .await?;
    assert!(
        resp.status().is_client_error(),
        "old cookie: {}",
        resp.status()
    );
    Ok(())
}

#[tokio::test]
async fn a_rejected_request_exits_2_with_the_field_message() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--ide").arg("none"))?;
    let dcs = Dcs::new(&fx.proxy.url(""))?;
    let run = dcs
        .run(&["create", "--repo", "acme/hello", "--cpu-limit", "banana"])
        .await?
        .expect(2)?;
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("cpu_limit: ")),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        !dcs.token_store().exists(),
        "nothing stored for a failed create"
    );

    // A usage error never reaches the server.
    let run = dcs.run(&["create", "--env", "NOEQUALS"]).await?.expect(2)?;
    assert!(run.stderr.contains("KEY=VALUE"), "{run:?}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_exits_5_without_showing_the_token() -> anyhow::Result<()> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let dcs = Dcs::new(&format!("http://127.0.0.1:{port}"))?;
    let secret = "sekrit-bearer-token-value";
    let run = dcs.run(&["list", "--token", secret]).await?.expect(5)?;
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret));
    let run = dcs
        .run(&[
            "status",
            "inst-0000000000000000",
            "--wait",
            "--timeout",
            "30",
        ])
        .await?
        .expect(5)?;
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
    Ok(())
}
