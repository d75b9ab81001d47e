//! `vscode`: Microsoft's VS Code Server for the web, started through the official
//! `code` CLI as `code serve-web`. The CLI fetches the matching server itself into
//! its data dir in the config volume (so only the first start downloads it).
//! Served under the proxy's base path like [`super::openvscode`]; a bare `/` is sent
//! to `./?folder=<checkout>` since `serve-web` has no default-folder flag.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::dirs::ConfigDirs;
use super::external::{start_installed, Shape};
use super::{Ide, IdeContext, RunningIde};
use crate::error::Result;
use crate::supervise::Launch;

/// The `DCS_IDE` name.
pub const KIND: &str = "vscode";

/// The VS Code (`code serve-web`) kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct VsCode;

#[async_trait]
impl Ide for VsCode {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn start(&self, ctx: &IdeContext) -> Result<Box<dyn RunningIde>> {
        let (folder, base) = (ctx.checkout_dir.clone(), ctx.base_path.clone());
        let landing = format!(
            "./?folder={}",
            percent_encoding::utf8_percent_encode(
                &ctx.checkout_dir.to_string_lossy(),
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let shape = Shape {
            health_path: "/",
            prefix: ctx.base_path.clone(),
            landing: Some(landing),
            // The first start downloads the server.
            start_timeout: Duration::from_secs(600),
        };
        start_installed(KIND, ctx, shape, move |program, dirs, addr| {
            launch(program, dirs, &folder, &base, addr)
        })
        .await
    }
}

/// The command line of `code serve-web`: VS Code server's own flags
/// ([`super::openvscode::server_args`]), the licence accepted, the CLI's data in the
/// config volume.
pub fn launch(
    program: &Path,
    dirs: &ConfigDirs,
    folder: &Path,
    base: &str,
    addr: SocketAddr,
) -> Launch {
    let mut args: Vec<OsString> = vec!["serve-web".into()];
    args.extend(super::openvscode::server_args(dirs, base, addr));
    args.push("--accept-server-license-terms".into());
    args.extend(["--cli-data-dir".into(), dirs.root.join("cli").into()]);
    Launch {
        program: program.to_path_buf(),
        args,
        env: vec![("VSCODE_CLI_DISABLE_KEYCHAIN_ENCRYPT".into(), "1".into())],
        unset: Vec::new(),
        cwd: folder.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_web_gets_the_base_path_and_keeps_its_data_in_the_config_dir() {
        let dirs = ConfigDirs::under(Path::new("/config"), KIND);
        let l = launch(
            Path::new("/ide/code"),
            &dirs,
            Path::new("/w/acme/hello"),
            "/github/acme/hello",
            "127.0.0.1:7001".parse().expect("addr"),
        );
        let args: Vec<String> = l
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "serve-web");
        let joined = args.join(" ");
        for want in [
            "--host 127.0.0.1 --port 7001 --without-connection-token",
            "--accept-server-license-terms",
            "--user-data-dir /config/vscode/data",
            "--server-base-path /github/acme/hello",
            "--cli-data-dir /config/vscode/cli",
        ] {
            assert!(joined.contains(want), "{want} in {joined}");
        }
    }
}
