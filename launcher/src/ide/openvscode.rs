//! `openvscode` (gitpod-io/openvscode-server): upstream VS Code's server, built
//! from source by Gitpod. Started with `--server-base-path` set to the proxy's
//! prefix; the forwarder puts the prefix back on every path, so its absolute URLs
//! match what the browser sees.

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
pub const KIND: &str = "openvscode";

/// The openvscode-server kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenVsCode;

#[async_trait]
impl Ide for OpenVsCode {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn start(&self, ctx: &IdeContext) -> Result<Box<dyn RunningIde>> {
        let (folder, base) = (ctx.checkout_dir.clone(), ctx.base_path.clone());
        let shape = Shape {
            health_path: "/version",
            prefix: ctx.base_path.clone(),
            landing: None,
            start_timeout: Duration::from_secs(120),
        };
        start_installed(KIND, ctx, shape, move |program, dirs, addr| {
            launch(program, dirs, &folder, &base, addr)
        })
        .await
    }
}

/// The command line: VS Code server's own flags ([`server_args`]), telemetry off,
/// the checkout as default folder.
pub fn launch(
    program: &Path,
    dirs: &ConfigDirs,
    folder: &Path,
    base: &str,
    addr: SocketAddr,
) -> Launch {
    let mut args = server_args(dirs, base, addr);
    args.extend(["--telemetry-level".into(), "off".into()]);
    args.extend(["--default-folder".into(), folder.into()]);
    Launch {
        program: program.to_path_buf(),
        args,
        env: Vec::new(),
        unset: Vec::new(),
        cwd: folder.to_path_buf(),
    }
}

/// The flags of VS Code's server that openvscode-server and `code serve-web` both
/// take: loopback, no connection token (the proxy authenticated), the proxy's base
/// path, its state and extensions in the config volume.
pub fn server_args(dirs: &ConfigDirs, base: &str, addr: SocketAddr) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--host".into(),
        addr.ip().to_string().into(),
        "--port".into(),
        addr.port().to_string().into(),
        "--without-connection-token".into(),
    ];
    if !base.is_empty() {
        args.extend(["--server-base-path".into(), base.into()]);
    }
    args.extend(["--server-data-dir".into(), dirs.root.join("server").into()]);
    args.extend(["--user-data-dir".into(), dirs.data.clone().into()]);
    args.extend(["--extensions-dir".into(), dirs.extensions.clone().into()]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openvscode_serves_under_the_proxy_base_path_without_a_token() {
        let dirs = ConfigDirs::under(Path::new("/config"), KIND);
        let l = launch(
            Path::new("/ide/bin/openvscode-server"),
            &dirs,
            Path::new("/w/acme/hello"),
            "/github/acme/hello",
            "127.0.0.1:7000".parse().expect("addr"),
        );
        let joined: Vec<String> = l
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = joined.join(" ");
        for want in [
            "--host 127.0.0.1 --port 7000 --without-connection-token",
            "--server-base-path /github/acme/hello",
            "--user-data-dir /config/openvscode/data",
            "--extensions-dir /config/openvscode/extensions",
            "--telemetry-level off",
            "--default-folder /w/acme/hello",
        ] {
            assert!(joined.contains(want), "{want} in {joined}");
        }
    }
}
