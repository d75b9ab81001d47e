//! The checkout step (`dcs-launcher checkout`: Knative's init container, and on a
//! machine several users share the proxy's step before the sandbox starts) runs with
//! the operator's git token, outside the workspace. Where it goes and what it writes
//! must not be the workspace user's to choose:
//! - a redirect to another origin (here another port of 127.0.0.1) never gets the
//!   token, and the checkout fails saying why;
//! - a `.git` that is a link to, or a `gitdir:` file naming, another user's
//!   repository is refused, that repository untouched;
//! - a proxy named in the checkout's `.git/config` is not used: the fetch goes
//!   straight to the (HTTPS) git server;
//! - the partial pack an interrupted fetch left is removed by the next one.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use anyhow::Context;
use dcs_e2e::{bin_path, git_command, run_git, GitServer, TestCa, UpstreamRepo};
use serde_json::Value;

const TOKEN: &str = "ghp_s3cretTOKENvalue123";

/// A volume (`<dir>/<name>`), the token file beside it, and where the step records
/// its outcome.
struct Volume {
    workspaces: PathBuf,
    token: PathBuf,
    outcome: PathBuf,
}

impl Volume {
    fn new(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let workspaces = dir.join(name);
        std::fs::create_dir_all(&workspaces)?;
        let token = dir.join(format!("{name}.token"));
        std::fs::write(&token, format!("{TOKEN}\n"))?;
        let outcome = dir.join(format!("{name}.outcome"));
        Ok(Self {
            workspaces,
            token,
            outcome,
        })
    }

    fn checkout(&self) -> PathBuf {
        self.workspaces.join("acme/hello")
    }

    /// Runs the checkout step of `acme/hello` from `git_base` with `extra`
    /// variables; returns the outcome it recorded (`{"event": "done"|"failed", …}`).
    fn run_step(&self, git_base: &str, extra: &[(&str, &Path)]) -> anyhow::Result<Value> {
        let mut cmd = Command::new(bin_path("dcs-launcher")?);
        for var in dcs_e2e::git_cli::PROXY_VARS {
            cmd.env_remove(var);
        }
        let out = cmd
            .arg("checkout")
            .env("DCS_REPO", "acme/hello")
            .env("DCS_GIT_BASE", git_base)
            .env("DCS_WORKSPACES_DIR", &self.workspaces)
            .env("DCS_GIT_TOKEN_FILE", &self.token)
            .env("DCS_CHECKOUT_OUTCOME_FILE", &self.outcome)
            .env("DCS_LOG", "debug")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .output()
            .context("running dcs-launcher checkout")?;
        let log = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(out.status.success(), "the step failed: {log}");
        anyhow::ensure!(!log.contains(TOKEN), "the token in the step's log: {log}");
        let text = std::fs::read_to_string(&self.outcome).context("the outcome")?;
        anyhow::ensure!(!text.contains(TOKEN), "the token in the outcome: {text}");
        Ok(serde_json::from_str(&text)?)
    }
}

fn git_root(tmp: &Path) -> anyhow::Result<(PathBuf, UpstreamRepo)> {
    let root = tmp.join("git");
    let repo = UpstreamRepo::create(&root, "acme/hello", &[("README.md", "hello\n")])?;
    Ok((root, repo))
}

fn message(outcome: &Value) -> String {
    outcome["message"].as_str().unwrap_or_default().to_owned()
}

/// A loopback server that answers every request with a 302 to the same path under
/// `target`, recording each request's head before it answers. Its base URL.
fn redirecting_to(target: String) -> anyhow::Result<(String, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(read_half) = stream.try_clone() else {
                return;
            };
            let mut head = String::new();
            let mut reader = BufReader::new(read_half);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            if tx.send(head).is_err() {
                return;
            }
            let reply = format!(
                "HTTP/1.1 302 Found\r\nLocation: {target}{path}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    Ok((base, rx))
}

#[test]
fn the_token_never_goes_where_a_redirect_to_another_origin_points() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (root, _repo) = git_root(tmp.path())?;
    // The other origin: a real git server that wants a token (401 Basic).
    let elsewhere = GitServer::builder(&root).require_token(TOKEN).start()?;
    let (base, seen_here) = redirecting_to(elsewhere.base_url())?;
    let alice = Volume::new(tmp.path(), "alice")?;

    let outcome = alice.run_step(&base, &[])?;
    assert_eq!(outcome["event"], "failed", "{outcome}");
    let text = message(&outcome);
    assert!(text.contains("the token is sent to"), "{text}");
    assert!(
        text.contains(&elsewhere.base_url()),
        "names the other server: {text}"
    );
    let there = elsewhere.requests();
    assert!(!there.is_empty(), "the redirect was followed to ask");
    for request in &there {
        assert!(!request.authorized, "{request:?}");
        assert!(
            request.headers.get("authorization").is_none(),
            "{request:?}"
        );
    }
    assert!(seen_here
        .try_iter()
        .all(|h| !h.to_ascii_lowercase().contains("authorization")));
    assert!(!alice.checkout().exists());
    Ok(())
}

/// Bob's clone of `acme/hello` from `git`, then an upstream commit he has not
/// fetched; returns his checkout and what his repository holds.
fn bobs_clone(
    tmp: &Path,
    git: &GitServer,
    repo: &UpstreamRepo,
) -> anyhow::Result<(PathBuf, String)> {
    let bob = tmp.join("bob/acme/hello");
    std::fs::create_dir_all(tmp.join("bob/acme"))?;
    let url = repo.url(&git.base_url());
    let out = git_command()
        .args(["clone", "--quiet", &url])
        .arg(&bob)
        .output()?;
    anyhow::ensure!(out.status.success(), "clone: {out:?}");
    repo.commit(&[("later.txt", "later\n")], "upstream moved on")?;
    let state = state_of(&bob)?;
    Ok((bob, state))
}

/// Refs, FETCH_HEAD and object files of the repository at `checkout`.
fn state_of(checkout: &Path) -> anyhow::Result<String> {
    let refs = run_git(checkout, &["for-each-ref"])?;
    let fetch_head = std::fs::read_to_string(checkout.join(".git/FETCH_HEAD")).ok();
    let objects = run_git(checkout, &["count-objects", "-v"])?;
    Ok(format!("{refs}\n{fetch_head:?}\n{objects}"))
}

#[test]
fn a_dot_git_leading_into_another_users_repository_is_refused() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (root, repo) = git_root(tmp.path())?;
    let git = GitServer::start(&root)?;
    let (bob, before) = bobs_clone(tmp.path(), &git, &repo)?;
    let alice = Volume::new(tmp.path(), "alice")?;
    let hers = alice.checkout();
    std::fs::create_dir_all(&hers)?;
    std::fs::write(hers.join("notes.txt"), "mine\n")?;

    // What alice's terminal can do in her own volume: a link, then a gitdir file.
    std::os::unix::fs::symlink(bob.join(".git"), hers.join(".git"))?;
    let outcome = alice.run_step(&git.base_url(), &[])?;
    assert_eq!(outcome["kind"], "refused", "{outcome}");
    assert!(
        message(&outcome).contains(".git is a symbolic link"),
        "{outcome}"
    );
    assert_eq!(state_of(&bob)?, before, "bob's repository changed");

    std::fs::remove_file(hers.join(".git"))?;
    std::fs::write(
        hers.join(".git"),
        format!("gitdir: {}\n", bob.join(".git").display()),
    )?;
    let outcome = alice.run_step(&git.base_url(), &[])?;
    assert_eq!(outcome["kind"], "refused", "{outcome}");
    assert!(message(&outcome).contains("gitdir"), "{outcome}");
    assert_eq!(state_of(&bob)?, before, "bob's repository changed");
    assert!(!bob.join("later.txt").exists());
    Ok(())
}

/// A loopback listener that records each connection and hangs up.
fn hanging_up() -> anyhow::Result<(String, mpsc::Receiver<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if tx.send(()).is_err() {
                return;
            }
            drop(stream);
        }
    });
    Ok((addr, rx))
}

#[test]
fn a_proxy_in_the_checkouts_git_config_is_not_used() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (root, repo) = git_root(tmp.path())?;
    let ca = TestCa::new("checkout hosts CA")?;
    let git = GitServer::builder(&root).tls(&ca).start()?;
    let ca_file = ca.write_ca(tmp.path(), "ca.pem")?;
    let alice = Volume::new(tmp.path(), "alice")?;
    let extra = [("DCS_EXTRA_CA_FILE", ca_file.as_path())];
    let outcome = alice.run_step(&git.base_url(), &extra)?;
    assert_eq!(outcome["outcome"], "cloned", "{outcome}");
    let new_commit = repo.commit(&[("later.txt", "later\n")], "upstream moved on")?;

    // Her own listener, named as the proxy in her checkout's configuration.
    let (proxy, proxy_saw) = hanging_up()?;
    let proxy = format!("http://{proxy}");
    run_git(&alice.checkout(), &["config", "http.proxy", &proxy])?;
    run_git(
        &alice.checkout(),
        &["config", "remote.origin.proxy", &proxy],
    )?;
    git.clear_requests();
    let outcome = alice.run_step(&git.base_url(), &extra)?;
    assert_eq!(
        outcome["outcome"], "fetched",
        "straight to the git server: {outcome}"
    );
    assert!(proxy_saw.try_recv().is_err(), "her proxy was used");
    assert!(!git.requests().is_empty());
    assert_eq!(
        run_git(
            &alice.checkout(),
            &["rev-parse", "refs/remotes/origin/main"]
        )?,
        new_commit
    );
    Ok(())
}

#[test]
fn a_partial_pack_an_interrupted_fetch_left_is_removed_by_the_next() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (root, repo) = git_root(tmp.path())?;
    let git = GitServer::start(&root)?;
    let alice = Volume::new(tmp.path(), "alice")?;
    let outcome = alice.run_step(&git.base_url(), &[])?;
    assert_eq!(outcome["outcome"], "cloned", "{outcome}");
    let pack = alice.checkout().join(".git/objects/pack");
    let partial = pack.join("pack_git2_Zq81xA");
    std::fs::write(&partial, vec![b'P'; 4 << 20])?;
    let other = pack.join("tmp_pack_Zq81xA");
    std::fs::write(&other, "not libgit2's")?;
    let new_commit = repo.commit(&[("later.txt", "later\n")], "upstream moved on")?;

    let outcome = alice.run_step(&git.base_url(), &[])?;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    assert!(!partial.exists(), "the partial pack is removed");
    assert!(other.exists(), "only libgit2's temporaries are");
    assert_eq!(
        run_git(
            &alice.checkout(),
            &["rev-parse", "refs/remotes/origin/main"]
        )?,
        new_commit
    );
    run_git(&alice.checkout(), &["fsck", "--no-progress"])?;
    Ok(())
}
