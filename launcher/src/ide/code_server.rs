//! `code-server` (coder/code-server): VS Code in the browser as one Node.js server.
//!
//! It has no base-path flag for its UI but uses relative URLs, so it is served with
//! the prefix stripped; it checks a WebSocket's `Origin` against `Host`, which the
//! forwarder leaves as the browser sent it. Authentication is off: the proxy has
//! authenticated the user already and the server listens on loopback only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::dirs::ConfigDirs;
use super::external::{start_installed, Shape};
use super::{Ide, IdeContext, RunningIde};
use crate::error::Result;
use crate::supervise::Launch;

/// The `DCS_IDE` name.
pub const KIND: &str = "code-server";

/// The code-server kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodeServer;

#[async_trait]
impl Ide for CodeServer {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn start(&self, ctx: &IdeContext) -> Result<Box<dyn RunningIde>> {
        let folder = ctx.checkout_dir.clone();
        let shape = Shape {
            health_path: "/healthz",
            prefix: String::new(),
            landing: None,
            start_timeout: Duration::from_secs(120),
        };
        start_installed(KIND, ctx, shape, move |program, dirs, addr| {
            launch(program, dirs, &folder, addr)
        })
        .await
    }
}

/// The command line: loopback only, no auth, state kept in the config volume, the
/// checkout opened as the folder. Its own port proxy (`/proxy/<n>/`) is off: it
/// would serve apps unsandboxed in the IDE's origin (and reach the proxy's own
/// port); previews go through the launcher's `/ports/<n>/`.
///
/// `--port` repeats the port of `--bind-addr`: code-server lets a `PORT` variable
/// override `--bind-addr`'s port (only `--port` overrides `PORT`), and Knative sets
/// `PORT=8080` in every container, the launcher's own port.
pub fn launch(program: &Path, dirs: &ConfigDirs, folder: &Path, addr: SocketAddr) -> Launch {
    let path = |p: &PathBuf| p.as_os_str().to_owned();
    let mut args: Vec<std::ffi::OsString> = [
        "--bind-addr",
        &addr.to_string(),
        "--port",
        &addr.port().to_string(),
        "--auth",
        "none",
        "--disable-telemetry",
        "--disable-proxy",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--ignore-last-opened",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.extend(["--user-data-dir".into(), path(&dirs.data)]);
    args.extend(["--extensions-dir".into(), path(&dirs.extensions)]);
    args.extend([
        "--config".into(),
        dirs.root.join("config.yaml").into_os_string(),
    ]);
    args.push(folder.as_os_str().to_owned());
    Launch {
        program: program.to_path_buf(),
        args,
        // Ports panel links go to the launcher's previews, relative to the page.
        env: vec![("VSCODE_PROXY_URI".into(), "./ports/{{port}}/".into())],
        unset: Vec::new(),
        cwd: folder.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_server_listens_on_loopback_without_auth_and_keeps_state_in_the_config_dir() {
        let dirs = ConfigDirs::under(Path::new("/config"), KIND);
        let l = launch(
            Path::new("/opt/cs/bin/code-server"),
            &dirs,
            Path::new("/workspaces/acme/hello"),
            "127.0.0.1:4321".parse().expect("addr"),
        );
        let args: Vec<String> = l
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        for want in [
            "--bind-addr 127.0.0.1:4321 --port 4321",
            "--auth none",
            "--disable-proxy",
            "--user-data-dir /config/code-server/data",
            "--extensions-dir /config/code-server/extensions",
            "--config /config/code-server/config.yaml",
        ] {
            assert!(joined.contains(want), "{want} in {joined}");
        }
        assert_eq!(
            args.last().map(String::as_str),
            Some("/workspaces/acme/hello")
        );
        assert_eq!(l.cwd, Path::new("/workspaces/acme/hello"));
    }
}
