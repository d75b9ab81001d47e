//! `dcs-proxy` command line.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dcs_proxy::ServeArgs;

#[derive(Parser)]
#[command(
    name = "dcs-proxy",
    version,
    about = "Opens a browser IDE on any Git repository by URL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve workspaces at /github/<owner>/<repo>/.
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Command::Serve(args) = Cli::parse().command;
    dcs_proxy::telemetry::init(&args.log);
    let cfg = match args.validate() {
        Ok(cfg) => cfg,
        Err(problems) => {
            eprintln!(
                "dcs-proxy: the configuration has {} problem(s):",
                problems.len()
            );
            for p in problems {
                eprintln!("  - {p}");
            }
            std::process::exit(2);
        }
    };
    if args.check_config {
        println!("configuration OK");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let state = dcs_proxy::build(&cfg).context("cannot open the runtime")?;
    println!("dcs-proxy listening on http://{addr}");
    println!(
        "open http://{addr}/github/<owner>/<repo>/ (repositories come from {})",
        cfg.git_base
    );
    std::io::stdout().flush()?;
    dcs_proxy::run(listener, state, shutdown_signal()).await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
