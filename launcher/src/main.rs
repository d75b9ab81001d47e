//! `dcs-launcher run`: reads the `DCS_*` environment, binds, publishes the bound
//! address, and serves until SIGTERM or SIGINT.
//!
//! `dcs-launcher git-transfer` (hidden) is the launcher's own transfer child: one
//! clone or fetch, its job on stdin, its progress on stdout (see the library's
//! `checkout::child`).
//!
//! Exit codes say why it stopped: 0 after a clean stop on request, 1 on a fatal
//! runtime error, 2 on a configuration error (bad `DCS_*` variable, unknown IDE
//! kind), 3 when stopped while the workspace was failed (checkout failed, or the IDE
//! kept crashing), 4 when the IDE ignored SIGTERM and had to be killed.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dcs_model::LauncherEnv;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tracing::info;
use tracing_subscriber::EnvFilter;

/// PID 1 of a devcontainer-serverless workspace. Configured only through `DCS_*`
/// environment variables (see the `dcs-model` crate's `env` module).
#[derive(Debug, Parser)]
#[command(name = "dcs-launcher", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check out the repository, start the IDE and serve the workspace.
    Run,
    /// One clone or fetch for a running launcher (internal).
    #[command(name = "git-transfer", hide = true)]
    GitTransfer,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run => run(),
        Command::GitTransfer => git_transfer(),
    }
}

fn git_transfer() -> ExitCode {
    let filter = std::env::var("DCS_LOG")
        .ok()
        .filter(|f| !f.is_empty())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    ExitCode::from(dcs_launcher::checkout::child::main())
}

fn run() -> ExitCode {
    let env = match LauncherEnv::from_lookup(|k| std::env::var(k).ok()) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("dcs-launcher: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = dcs_launcher::ide::for_kind(&env.ide) {
        eprintln!("dcs-launcher: DCS_IDE: {e}");
        return ExitCode::from(2);
    }
    let filter = env.log.as_deref().unwrap_or("info");
    let filter = match EnvFilter::try_new(filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dcs-launcher: DCS_LOG: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dcs-launcher: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(env));
    // Nothing blocking should be left (transfers run in a child process); bound the
    // wait anyway.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(dcs_launcher::Stopped::Failed(why)) => {
            eprintln!("dcs-launcher: stopped; the workspace had failed: {why}");
            ExitCode::from(3)
        }
        Ok(stopped) => ExitCode::from(stopped.exit_code()),
        Err(e) => {
            eprintln!("dcs-launcher: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(env: LauncherEnv) -> anyhow::Result<dcs_launcher::Stopped> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let listener = TcpListener::bind(env.listen)
        .await
        .with_context(|| format!("binding {}", env.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(file) = &env.addr_file {
        publish_addr(file, &addr.to_string())
            .with_context(|| format!("writing the address file {}", file.display()))?;
    }
    info!(%addr, "listening");
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!(signal = "SIGTERM", "stop requested"),
            _ = int.recv() => info!(signal = "SIGINT", "stop requested"),
        }
    };
    Ok(dcs_launcher::run(env, listener, shutdown).await?)
}

/// Publishes `addr` in `file` atomically, so readers never see a partial address.
fn publish_addr(file: &Path, addr: &str) -> std::io::Result<()> {
    dcs_os::atomic::write_atomic(file, addr.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_file_is_replaced_whole_and_no_temp_file_remains() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("addr");
        std::fs::write(&file, "old").expect("write");
        publish_addr(&file, "127.0.0.1:4242").expect("publish");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "127.0.0.1:4242"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["addr"]);
    }

    #[test]
    fn the_transfer_subcommand_is_hidden_but_parses() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("git-transfer"), "{help}");
        let cli = Cli::try_parse_from(["dcs-launcher", "git-transfer"]).expect("parses");
        assert!(matches!(cli.command, Command::GitTransfer));
    }
}
