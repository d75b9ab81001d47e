//! [`Scene`]: alice's workspace of `acme/hello` in one root filesystem, run as the
//! Knative Service the proxy generates for it:
//!
//! - the git server speaks HTTPS with a certificate signed by a test CA; the proxy is
//!   configured with `--knative-extra-ca-secret`, and that Secret's volume holds the
//!   CA, so the launcher gets `DCS_EXTRA_CA_FILE` exactly as in a cluster;
//! - every volume of the pod is a host folder of the scene that outlives one start
//!   (the user's volume, the home volume), so a second start is a wake;
//! - optionally a stand-in code-server release on a loopback HTTPS mirror signed by
//!   the same CA ([`Scene::with_code_server`]).
//!
//! What the test adds to the generated container, and why: `DCS_LISTEN=127.0.0.1:0`
//! and `DCS_ADDR_FILE` (the network namespace is the host's, where port 8080 may be
//! taken; the pod has its own), `DCS_IDE_DOWNLOAD_BASE` (the mirror standing in for
//! GitHub's release downloads), and `/etc/hosts` (the kubelet writes one into every
//! container; the roots have none).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use dcs_model::{RepoRef, UserId, WorkspaceKey};
use dcs_proxy::runtime::knative::objects::secrets::HOP_KEY;
use dcs_proxy::runtime::knative::{objects, KnativeArgs};
use dcs_proxy::runtime::WorkspaceSpec;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::files::FileServer;
use super::running::{Running, HOP_CREDENTIAL};
use super::sandbox::Sandbox;
use super::spec::{ContainerSpec, Volume};
use crate::git_server::{GitServer, TestCa};
use crate::repos::UpstreamRepo;

/// The Secret the proxy is told holds the extra CA (`--knative-extra-ca-secret`).
pub const CA_SECRET: &str = "dcs-test-ca";
/// The README of `acme/hello`.
pub const README: &str = "hello from a private git server\n";
/// Where the test reads the launcher's bound address.
const RUN_DIR: &str = "/run/dcs-test";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: KnativeArgs,
}

/// A stand-in code-server release on an HTTPS mirror.
#[derive(Debug)]
struct Release {
    server: FileServer,
    archive: String,
    version: String,
    /// Host folders of code-server and its Node.js, bound read-only at the same paths.
    binds: Vec<PathBuf>,
}

/// One workspace in one root filesystem; see the module docs.
#[derive(Debug)]
pub struct Scene {
    tmp: TempDir,
    ca: TestCa,
    git: GitServer,
    _upstream: UpstreamRepo,
    root: PathBuf,
    bwrap: PathBuf,
    launcher: PathBuf,
    release: Option<Release>,
}

impl Scene {
    /// The scene in the root filesystem `root_name` (fails the test naming the make
    /// target of whatever is missing).
    pub fn new(root_name: &str) -> anyhow::Result<Self> {
        let (root, bwrap, launcher) = (
            super::root(root_name),
            super::bwrap(),
            super::static_launcher(),
        );
        let tmp = tempfile::tempdir()?;
        let ca = TestCa::new("dcs test CA")?;
        let repos = tmp.path().join("git");
        let upstream = UpstreamRepo::create(&repos, "acme/hello", &[("README.md", README)])?;
        let git = GitServer::builder(&repos).tls(&ca).start()?;
        Ok(Self {
            tmp,
            ca,
            git,
            _upstream: upstream,
            root,
            bwrap,
            launcher,
            release: None,
        })
    }

    /// The HTTPS git server.
    pub fn git(&self) -> &GitServer {
        &self.git
    }

    /// The root filesystem.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host folder of the pod's volume `name`.
    pub fn volume(&self, name: &str) -> PathBuf {
        self.tmp.path().join("volumes").join(name)
    }

    /// Requests the code-server mirror got for its archive.
    pub fn release_downloads(&self) -> usize {
        self.release
            .as_ref()
            .map_or(0, |r| r.server.hits(&r.archive))
    }

    /// Requests the code-server mirror got, for anything.
    pub fn release_requests(&self) -> usize {
        self.release.as_ref().map_or(0, |r| r.server.total_hits())
    }

    /// Puts a code-server release on an HTTPS mirror signed by the scene's CA: an
    /// archive named and laid out as upstream's, whose `bin/code-server` runs the
    /// code-server of `make ide-deps` (its Node.js and JavaScript, bound read-only
    /// into the container at their host paths) — with the root's C library and C++
    /// runtime, since it runs inside the root. Its `.sha256` is published too.
    pub fn with_code_server(&mut self) -> anyhow::Result<()> {
        let wrapper = crate::ide_support::code_server();
        let text = std::fs::read_to_string(&wrapper)?;
        let quoted: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("exec "))
            .context("the code-server wrapper has no exec line")?
            .split('"')
            .skip(1)
            .step_by(2)
            .collect();
        let [node, entry, ..] = quoted.as_slice() else {
            bail!("the code-server wrapper does not exec node with an entry point: {text}");
        };
        let (node, entry) = (PathBuf::from(node), PathBuf::from(entry));
        let node_home = node
            .ancestors()
            .nth(2)
            .context("node's folder")?
            .to_path_buf();
        let modules = entry
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "node_modules"))
            .context("code-server's node_modules")?;
        let package: Value =
            serde_json::from_slice(&std::fs::read(modules.join("code-server/package.json"))?)?;
        let version = package["version"]
            .as_str()
            .context("code-server's version")?
            .to_owned();
        let top = format!("code-server-{version}-linux-amd64");
        let staging = self.tmp.path().join("release");
        let bin = staging.join(&top).join("bin");
        std::fs::create_dir_all(&bin)?;
        let shim = format!(
            "#!/bin/sh\n# A stand-in for code-server's release: the code-server of `make ide-deps`,\n\
             # run with this root filesystem's C library.\nexec \"{}\" \"{}\" \"$@\"\n",
            node.display(),
            entry.display()
        );
        std::fs::write(bin.join("code-server"), shim)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bin.join("code-server"),
            std::fs::Permissions::from_mode(0o755),
        )?;
        let archive = format!("{top}.tar.gz");
        let tarball = self.tmp.path().join(&archive);
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&staging)
            .arg(&top)
            .status()
            .context("running tar")?;
        anyhow::ensure!(status.success(), "tar failed: {status}");
        let bytes = std::fs::read(&tarball).with_context(|| tarball.display().to_string())?;
        let sum: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let files = HashMap::from([
            (
                format!("{archive}.sha256"),
                format!("{sum}  {archive}\n").into_bytes(),
            ),
            (archive.clone(), bytes),
        ]);
        let server = FileServer::start(&self.ca, files)?;
        self.release = Some(Release {
            server,
            archive,
            version,
            binds: vec![
                node_home,
                modules
                    .parent()
                    .context("code-server's folder")?
                    .to_path_buf(),
            ],
        });
        Ok(())
    }

    /// The Knative Service the proxy generates for this workspace running `ide`, its
    /// git base `git_base` and the extra CA Secret configured.
    pub fn ksvc(&self, ide: &str, git_base: &str) -> anyhow::Result<Value> {
        let mut cfg = Cli::try_parse_from(["dcs-proxy", "--knative-extra-ca-secret", CA_SECRET])?
            .args
            .validate()
            .map_err(|problems| anyhow::anyhow!("{problems:?}"))?;
        cfg.launcher.git_base = git_base.to_owned();
        let key = WorkspaceKey::new(
            UserId::new("alice@example.com")?,
            RepoRef::parse("acme/hello")?,
        );
        let mut spec = WorkspaceSpec::for_repo(key);
        spec.instance.ide = Some(ide.to_owned());
        if ide == "code-server" {
            spec.instance.ide_version = self.release.as_ref().map(|r| r.version.clone());
        }
        Ok(serde_json::to_value(objects::ksvc(&cfg, &spec))?)
    }

    /// The sandbox running `ksvc`'s container with the scene's volumes.
    pub fn sandbox(&self, ksvc: &Value) -> anyhow::Result<Sandbox> {
        self.sandbox_of(ksvc, ContainerSpec::from_ksvc(ksvc)?)
    }

    /// The sandbox running `spec` (one container of `ksvc`) with the scene's volumes.
    fn sandbox_of(&self, ksvc: &Value, spec: ContainerSpec) -> anyhow::Result<Sandbox> {
        let hostname = ksvc["metadata"]["name"]
            .as_str()
            .unwrap_or("workspace")
            .to_owned();
        let mut sandbox =
            Sandbox::new(&self.bwrap, &self.root, spec.clone(), &self.launcher).hostname(&hostname);
        for (name, volume) in &spec.volumes {
            let dir = self.volume(name);
            std::fs::create_dir_all(&dir)?;
            match volume {
                Volume::Claim(_) | Volume::EmptyDir => {}
                Volume::Secret(secret, items) if secret == CA_SECRET => {
                    for (key, file) in items {
                        anyhow::ensure!(key == "ca.crt", "the CA Secret has no key {key}");
                        std::fs::write(dir.join(file), self.ca.ca_pem())?;
                    }
                }
                // The workspace's hop Secret: the credential the proxy sends.
                Volume::Secret(_, items) if name == "hop" => {
                    let all = [(HOP_KEY.to_owned(), HOP_KEY.to_owned())];
                    for (key, file) in if items.is_empty() { &all[..] } else { items } {
                        anyhow::ensure!(key == HOP_KEY, "the hop Secret has no key {key}");
                        std::fs::write(dir.join(file), HOP_CREDENTIAL)?;
                    }
                }
                // The user's own git credentials: an optional Secret, not made for
                // a user who stored none (Kubernetes then mounts an empty volume).
                Volume::Secret(_, _) if name == "credentials" => {}
                other => bail!("volume {name}: no content for {other:?}"),
            }
            sandbox = sandbox.volume(name, &dir);
        }
        let run = self.tmp.path().join("run");
        std::fs::create_dir_all(&run)?;
        let hosts = self.tmp.path().join("hosts");
        std::fs::write(
            &hosts,
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"),
        )?;
        sandbox = sandbox
            .bind(&run, RUN_DIR, false)
            .bind(&hosts, "/etc/hosts", true)
            .env("DCS_LISTEN", "127.0.0.1:0")
            .env("DCS_ADDR_FILE", &format!("{RUN_DIR}/addr"));
        if let Some(release) = &self.release {
            for dir in &release.binds {
                sandbox = sandbox.bind(dir, &dir.display().to_string(), true);
            }
            sandbox = sandbox.env("DCS_IDE_DOWNLOAD_BASE", &release.server.base_url());
        }
        Ok(sandbox)
    }

    /// Starts the workspace running `ide` with git base `git_base`; returns once the
    /// launcher listens (not yet ready).
    pub async fn start(&self, ide: &str, git_base: &str) -> anyhow::Result<Running> {
        let ksvc = self.ksvc(ide, git_base)?;
        // The pod's `checkout` init container first, to its end, as the kubelet
        // runs it: it clones or fetches and leaves its outcome for the launcher.
        if let Some(checkout) = ContainerSpec::checkout_of(&ksvc)? {
            let log = self
                .tmp
                .path()
                .join(format!("checkout-{}.log", now_nanos()));
            let (status, output) = self
                .sandbox_of(&ksvc, checkout)?
                .run(&log, Duration::from_secs(240))
                .await?;
            anyhow::ensure!(
                status.success(),
                "the checkout container ended with {status}:\n{output}"
            );
        }
        // As the kubelet does: a file of the host at the container's
        // `terminationMessagePath`, read after the container ended.
        let termination = self
            .tmp
            .path()
            .join(format!("termination-{}.log", now_nanos()));
        std::fs::write(&termination, "")?;
        let sandbox = self.sandbox(&ksvc)?;
        let message_path = sandbox.spec().termination_message_path.clone();
        let sandbox = sandbox.bind(&termination, &message_path, false);
        let addr_file = self.tmp.path().join("run/addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = self
            .tmp
            .path()
            .join(format!("launcher-{}.log", now_nanos()));
        let container = sandbox.start(&log).await?;
        let mut running = Running::new(container, termination);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(addr) = std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|a| a.trim().parse().ok())
            {
                running.addr = addr;
                return Ok(running);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the launcher did not listen within 60 s:\n{}",
                    running.container.log()
                );
            }
            if let Ok(status) = running.container.wait(Duration::ZERO).await {
                bail!(
                    "the container ended ({status}):\n{}",
                    running.container.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
