//! A checkout's `devcontainer.json` through the real proxy and launcher (the `none`
//! IDE): what a workspace applies of it (`containerEnv`/`remoteEnv`, the lifecycle
//! commands) and when (`--devcontainer ask|run|off`). The commands write marker files
//! into the checkout, read here from the disk.
//!
//! - [`consent`]: under `ask` nothing runs until the user allows; then the create
//!   steps run once per checkout, `postStartCommand` every start, and the IDE started
//!   allowed has the environment.
//! - [`attacker`]: someone else's repository: foreign pages cannot allow it, it
//!   cannot set the platform's variables, its output and text stay inert.
//! - [`failures`]: a broken file, a failing step run again once fixed, a step that
//!   hangs (the stop still ends it).
//! - [`modes`]: `run` applies at once (order, arrays, named commands, what is not
//!   applied; in a sandbox too), `off` reads nothing, no file means nothing to allow,
//!   and the IDE's terminal gets the variables.
//! - [`vscode`]: the consent notice in VS Code (code-server) in Chromium, and
//!   code-server's own environment (the variables from the start after allowing).
//! - [`extensions`]: `customizations.vscode.extensions` installed into code-server
//!   from a gallery on loopback, after consent, once.
//! - [`shared_checkout`]: a repo workspace and an API instance on one checkout run
//!   its create steps once between them, share its consent, and a checkout cloned
//!   afresh runs them again.
//! - [`budget`]: a file whose variables amplify is refused (the launcher stays
//!   small); the question names all; "Show the file" serves it as read.
//! - [`idle`]: a lifecycle command holds the workspace only while it prints or
//!   uses CPU (a silent one stops with it at the idle timeout), named in the report.

mod attacker;
mod budget;
mod consent;
mod extensions;
mod failures;
mod idle;
mod modes;
mod shared_checkout;
mod vscode;

#[path = "../common/terminal.rs"]
mod terminal;

use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::{client, Fixture};
use serde_json::Value;

/// The workspace of `acme/hello` through the proxy.
pub(crate) const ROOT: &str = "/github/acme/hello/";
/// Its terminal.
pub(crate) const TERMINAL: &str = "/github/acme/hello/_dcs/terminal";
/// The configuration file a checkout's `.devcontainer` folder holds.
pub(crate) const FILE: &str = ".devcontainer/devcontainer.json";
/// Generous: the machine is shared and busy.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// A fixture (the `none` IDE) whose `acme/hello` also holds `files` (committed before
/// anything opens it), its proxy run with `--devcontainer <mode>` when `mode` is set.
pub(crate) fn scene(mode: Option<&str>, files: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let flags: Vec<&str> = mode.map_or_else(Vec::new, |m| vec!["--devcontainer", m]);
    scene_with(&flags, files)
}

/// [`scene`] with the proxy's extra `flags`.
pub(crate) fn scene_with(flags: &[&str], files: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let fx = Fixture::new(|b| flags.iter().fold(b, |b, f| b.arg(*f)))?;
    if !files.is_empty() {
        fx.repo.commit(files, "a dev container")?;
    }
    Ok(fx)
}

/// The proxy URL of `rel`, relative to the workspace root.
pub(crate) fn url(fx: &Fixture, rel: &str) -> String {
    fx.proxy.url(&format!("{ROOT}{rel}"))
}

/// The proxy's own origin (what its pages send).
pub(crate) fn origin(fx: &Fixture) -> String {
    format!("http://{}", fx.proxy.addr)
}

/// The last `n` bytes (about) of `text`, for failure messages.
pub(crate) fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The first line a terminal command printed (what follows it is the shell's prompt
/// coming back, with its terminal controls).
pub(crate) fn first_line(out: &str) -> String {
    out.lines().next().unwrap_or_default().trim().to_owned()
}

/// The proxy's recent log, for failure messages.
pub(crate) fn recent_log(fx: &Fixture) -> String {
    tail(&fx.proxy.log(), 6000).to_owned()
}

/// Opens the workspace as a client that is no browser (which waits until it is ready,
/// and wakes it when stopped): the IDE's page, or code-server's redirect to its folder.
pub(crate) async fn open(fx: &Fixture) -> anyhow::Result<()> {
    let resp = client().get(fx.proxy.url(ROOT)).send().await?;
    let code = resp.status();
    anyhow::ensure!(
        code == 200 || code == 302,
        "open: {code}\n{}",
        recent_log(fx)
    );
    Ok(())
}

/// `GET _dcs/devcontainer`: 200 with JSON.
pub(crate) async fn status(fx: &Fixture) -> anyhow::Result<Value> {
    let resp = client().get(url(fx, "_dcs/devcontainer")).send().await?;
    let code = resp.status();
    let text = resp.text().await?;
    anyhow::ensure!(code == 200, "status: {code}: {text}\n{}", recent_log(fx));
    serde_json::from_str(&text).with_context(|| format!("status is not JSON: {text}"))
}

/// `POST` to `rel` (relative to the workspace root) with `headers`: status and body.
pub(crate) async fn post(
    fx: &Fixture,
    rel: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let req = headers
        .iter()
        .fold(client().post(url(fx, rel)), |r, (k, v)| r.header(*k, *v));
    let resp = req.send().await?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().await?))
}

/// `POST _dcs/devcontainer/allow` from our own page: status and JSON body (`Null`
/// when not JSON).
pub(crate) async fn allow(fx: &Fixture) -> anyhow::Result<(u16, Value)> {
    let origin = origin(fx);
    let (code, body) = post(fx, "_dcs/devcontainer/allow", &[("origin", &origin)]).await?;
    Ok((code, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

/// The workspace's notices (`GET _dcs/notices`).
pub(crate) async fn notices(fx: &Fixture) -> anyhow::Result<Vec<Value>> {
    let resp = client().get(url(fx, "_dcs/notices")).send().await?;
    anyhow::ensure!(resp.status() == 200, "notices: {}", resp.status());
    let list: Value = serde_json::from_str(&resp.text().await?)?;
    Ok(list["notices"].as_array().cloned().unwrap_or_default())
}

/// The notice `id` in `list`.
pub(crate) fn notice<'a>(list: &'a [Value], id: &str) -> Option<&'a Value> {
    list.iter().find(|n| n["id"] == id)
}

/// The labels of a notice's actions.
pub(crate) fn labels(notice: &Value) -> Vec<String> {
    notice["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["label"].as_str().map(str::to_owned))
        .collect()
}

/// The entry of `step` in a status's `steps` (`Null` when absent).
pub(crate) fn step<'a>(status: &'a Value, step: &str) -> &'a Value {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == step))
        .unwrap_or(&Value::Null)
}

/// The state of `name` in `status` (`""` when the step is not listed).
pub(crate) fn state<'a>(status: &'a Value, name: &str) -> &'a str {
    step(status, name)["state"].as_str().unwrap_or("")
}

/// Whether `status` lists steps and every one of them is done.
pub(crate) fn all_done(status: &Value) -> bool {
    status["steps"]
        .as_array()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["state"] == "done"))
}

/// The strings of `status[field]` (an array of names), or of its entries' `name`s.
pub(crate) fn names(status: &Value, field: &str) -> Vec<String> {
    status[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().or_else(|| v["name"].as_str()).map(str::to_owned))
        .collect()
}

/// Polls the status until `cond` holds; fails (with the last status and the log) at
/// [`PATIENCE`].
pub(crate) async fn wait_status(
    fx: &Fixture,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    poll_status(fx, what, false, cond).await
}

/// Polls the status until every step is done; fails at once when one failed (use
/// only where no step failed before).
pub(crate) async fn wait_all_done(fx: &Fixture) -> anyhow::Result<Value> {
    poll_status(fx, "every step done", true, all_done).await
}

async fn poll_status(
    fx: &Fixture,
    what: &str,
    fail_fast: bool,
    cond: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = status(fx).await?;
        if cond(&s) {
            return Ok(s);
        }
        let failed = s["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().any(|st| st["state"] == "failed"));
        if (fail_fast && failed) || Instant::now() > deadline {
            let log = log(fx).await.map(|(_, l)| l).unwrap_or_default();
            anyhow::bail!(
                "never {what}: {s}\nits log:\n{log}\nthe proxy's:\n{}",
                recent_log(fx)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the notices until `cond` holds on them; fails at [`PATIENCE`].
pub(crate) async fn wait_notices(
    fx: &Fixture,
    what: &str,
    cond: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let list = notices(fx).await?;
        if cond(&list) {
            return Ok(list);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "never {what}: {list:?}\n{}",
            recent_log(fx)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The checkout's file `name`, if it exists.
pub(crate) fn read(fx: &Fixture, name: &str) -> Option<String> {
    std::fs::read_to_string(fx.checkout().join(name)).ok()
}

/// Waits until the checkout's file `name` exists and `cond` holds on its contents.
pub(crate) async fn wait_file(
    fx: &Fixture,
    name: &str,
    cond: impl Fn(&str) -> bool,
) -> anyhow::Result<String> {
    let held = dcs_e2e::wait_until(PATIENCE, Duration::from_millis(100), || {
        read(fx, name).is_some_and(|c| cond(&c))
    })
    .await;
    anyhow::ensure!(
        held,
        "{name} never as expected: {:?}\n{}",
        read(fx, name),
        recent_log(fx)
    );
    Ok(read(fx, name).unwrap_or_default())
}

/// `GET _dcs/devcontainer/log`: its headers and text (200 expected).
pub(crate) async fn log(fx: &Fixture) -> anyhow::Result<(reqwest::header::HeaderMap, String)> {
    let resp = client()
        .get(url(fx, "_dcs/devcontainer/log"))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "log: {}", resp.status());
    let headers = resp.headers().clone();
    Ok((headers, resp.text().await?))
}

/// Stops the workspace as a tab's Stop now does, and waits until its launcher is gone.
pub(crate) async fn stop(fx: &Fixture) -> anyhow::Result<()> {
    let origin = origin(fx);
    let (code, body) = post(fx, "_dcs/stop", &[("origin", &origin)]).await?;
    anyhow::ensure!(code == 503, "stop: {code} {body}\n{}", recent_log(fx));
    anyhow::ensure!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "the workspace did not stop:\n{}",
        recent_log(fx)
    );
    Ok(())
}
