//! The hop and the sandbox: `--hop-secret-file` (the secret every workspace's hop
//! credential is derived from, [`crate::hop`]), `--hop-listen` (Knative launchers'
//! progress pushes on an address of their own, [`crate::hop_listen`]), `--sandbox` (local workspaces in
//! bubblewrap, [`crate::runtime::local::sandbox`]) and `--websocket-streams` (how
//! WebSockets reach a local launcher, [`crate::accept::admit_tunnel`]).
//!
//! The local runtime sandboxes every workspace whenever several people can sign in
//! (any `--auth` but `none`); there is no flag to turn that off, and a machine that
//! cannot sandbox (no `bwrap`, no user namespaces) is refused at start with what to
//! install. `--auth none` (one person) runs unsandboxed unless `--sandbox` is given.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::hop::HopKey;
use crate::runtime::local::sandbox::{self, System};
use crate::runtime::local::spawn::SandboxConfig;

/// Flags of the hop and the sandbox.
#[derive(Debug, Clone, Default, Args)]
pub struct HopArgs {
    /// File holding the proxy's hop secret (at least 32 bytes, e.g. from `openssl
    /// rand -hex 32`); each workspace's hop credential is derived from it, so every
    /// replica needs the same one. Replace it and restart to rotate: workspaces get
    /// the new credential at their next start. [default, local runtime:
    /// `<data-dir>/secrets/hop.key`, generated once; required with `--runtime
    /// knative`]
    #[arg(long, env = "DCS_PROXY_HOP_SECRET_FILE")]
    pub hop_secret_file: Option<PathBuf>,
    /// Knative runtime: accept launchers' progress pushes on this address only (the
    /// main listener then answers them 404), so workspace pods need to reach this
    /// port and no other of the proxy's; point `--knative-proxy-url` at it. Without
    /// it, the main listener takes them.
    #[arg(long, env = "DCS_PROXY_HOP_LISTEN")]
    pub hop_listen: Option<std::net::SocketAddr>,
    /// Local runtime: run each workspace in a bubblewrap sandbox (its own mount, PID
    /// and network namespaces) with `--auth none` too. Always on when several people
    /// can sign in.
    #[arg(long, env = "DCS_PROXY_SANDBOX")]
    pub sandbox: bool,
    /// Local runtime: how WebSockets reach a workspace's launcher. `auto`: each on a
    /// connection of its own (the fewest hops per message) until WebSockets hold
    /// half of the descriptors they may, then as streams of one HTTP/2 connection
    /// per launcher (one descriptor each instead of two). `always`: always streams
    /// (fewest descriptors, a few µs more per message). `never`: always
    /// connections. Through Knative each is a connection of its own.
    #[arg(long, env = "DCS_PROXY_WEBSOCKET_STREAMS", value_enum, default_value_t = Streams::Auto)]
    pub websocket_streams: Streams,
}

/// How WebSockets reach a launcher that takes streams (`--websocket-streams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Streams {
    /// Connections of their own until descriptors get scarce, then streams.
    #[default]
    Auto,
    /// Always streams of the launcher's HTTP/2 connection.
    Always,
    /// Always connections of their own.
    Never,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The secret.
    pub key: HopKey,
    /// Where it was read from.
    pub secret_file: PathBuf,
    /// The sandbox of local workspaces, if they run in one.
    pub sandbox: Option<SandboxConfig>,
    /// How WebSockets reach a local launcher.
    pub websocket_streams: Streams,
    /// The separate address of progress pushes (`--hop-listen`), if any.
    pub listen: Option<std::net::SocketAddr>,
}

/// What the flags are checked against.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Whether workspaces are local processes.
    pub local: bool,
    /// Whether several people can sign in.
    pub multi_user: bool,
    /// The local data dir.
    pub data_dir: &'a Path,
    /// Secret files of the proxy's, masked in sandboxes should they lie under a
    /// bound folder.
    pub secrets: Vec<PathBuf>,
    /// `--ide-bin`, whose folder every sandbox binds.
    pub ide_bin: Option<&'a Path>,
}

impl HopArgs {
    /// The settings, adding every problem to `problems`.
    pub fn validate(&self, ctx: &Context<'_>, problems: &mut Vec<String>) -> Option<Hop> {
        let (file, key) = match (&self.hop_secret_file, ctx.local) {
            (Some(file), _) => (file.clone(), HopKey::load(file)),
            (None, true) => {
                let file = crate::runtime::local::default_hop_key(ctx.data_dir);
                let key = HopKey::load_or_generate(&file);
                (file, key)
            }
            (None, false) => {
                problems.push(
                    "--hop-secret-file is required with --runtime knative: every replica derives \
                     the workspaces' hop credentials from it (a Secret mounted into the proxy; \
                     see docs/operations.md)"
                        .into(),
                );
                return None;
            }
        };
        let key = key
            .map_err(|why| problems.push(format!("--hop-secret-file: {why}")))
            .ok()?;
        if self.hop_listen.is_some() && ctx.local {
            problems.push(
                "--hop-listen takes Knative launchers' progress pushes; local workspaces \
                 push nothing (the proxy asks their launchers), so it needs --runtime knative"
                    .into(),
            );
        }
        let sandbox = if ctx.local && (self.sandbox || ctx.multi_user) {
            let system = System::of_host();
            let ide = sandbox::ide_folder(ctx.ide_bin);
            if let Some(why) = sandbox::data_dir_exposed(ctx.data_dir, &system, ide.as_deref()) {
                problems.push(why);
            }
            let Some(setsid) = sandbox::find_setsid() else {
                problems.push(
                    "several users share this machine, so each workspace runs in a sandbox \
                     started in a session of its own, and `setsid` is not on PATH: install \
                     util-linux"
                        .into(),
                );
                return None;
            };
            match sandbox::probe(sandbox::find_bwrap().as_deref()) {
                Ok(bwrap) => Some(SandboxConfig {
                    bwrap,
                    setsid,
                    system,
                    hidden: ctx.secrets.iter().cloned().chain([file.clone()]).collect(),
                }),
                Err(why) => {
                    problems.push(why);
                    None
                }
            }
        } else {
            None
        };
        Some(Hop {
            key,
            secret_file: file,
            sandbox,
            websocket_streams: self.websocket_streams,
            listen: self.hop_listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knative_needs_a_secret_file_and_local_generates_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut problems = Vec::new();
        let ctx = Context {
            local: false,
            multi_user: true,
            data_dir: dir.path(),
            secrets: Vec::new(),
            ide_bin: None,
        };
        assert!(HopArgs::default().validate(&ctx, &mut problems).is_none());
        assert!(
            problems[0].contains("--hop-secret-file is required"),
            "{problems:?}"
        );
        let local = Context {
            local: true,
            multi_user: false,
            ..ctx
        };
        let mut problems = Vec::new();
        let hop = HopArgs::default()
            .validate(&local, &mut problems)
            .expect("generated");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(hop.sandbox.is_none(), "one user: unsandboxed");
        assert!(hop.secret_file.starts_with(dir.path()));
        let short = dir.path().join("short");
        std::fs::write(&short, "tiny").expect("write");
        let args = HopArgs {
            hop_secret_file: Some(short),
            ..HopArgs::default()
        };
        let mut problems = Vec::new();
        assert!(args.validate(&local, &mut problems).is_none());
        assert!(problems[0].contains("at least 32 bytes"), "{problems:?}");
    }

    #[test]
    fn hop_listen_is_for_knative_launchers_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("hop.key");
        std::fs::write(&secret, [7u8; 32]).expect("write");
        let args = HopArgs {
            hop_secret_file: Some(secret),
            hop_listen: Some(([127, 0, 0, 1], 0).into()),
            ..HopArgs::default()
        };
        let knative = Context {
            local: false,
            multi_user: true,
            data_dir: dir.path(),
            secrets: Vec::new(),
            ide_bin: None,
        };
        let mut problems = Vec::new();
        let hop = args.validate(&knative, &mut problems).expect("valid");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(hop.listen, Some(([127, 0, 0, 1], 0).into()));
        let local = Context {
            local: true,
            multi_user: false,
            ..knative
        };
        let mut problems = Vec::new();
        args.validate(&local, &mut problems);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("--hop-listen") && p.contains("--runtime knative")),
            "{problems:?}"
        );
    }
}
