//! `dcs-proxy` command line.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dcs_proxy::ServeArgs;

/// A line on stdout that may be lost: `println!` panics when stdout cannot be
/// written (a file on a full disk, a pipe nobody reads), which would end a proxy
/// that serves well.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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
    Serve(Box<ServeArgs>),
    /// Print the Kubernetes manifests (the kustomize tree `knative/`) of this version.
    Manifests(ManifestsArgs),
}

#[derive(clap::Args)]
struct ManifestsArgs {
    /// Write the files into this directory (e.g. `knative`) instead of printing them.
    #[arg(long)]
    out_dir: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    dcs_proxy::telemetry::runtime()
        .context("cannot start the async runtime")?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let args = match Cli::parse().command {
        Command::Serve(args) => *args,
        Command::Manifests(m) => return manifests(m),
    };
    dcs_proxy::telemetry::init(&args.log, args.logging.log_format);
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
    // Caught from here on, before anything is announced or served: a stop asked for
    // at any moment after is a graceful one (a handler installed only when the
    // server first waits for it left an instant in which SIGTERM killed the process
    // outright, its last log lines with it).
    let shutdown = shutdown_signal().context("installing the SIGTERM and SIGINT handlers")?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let state = dcs_proxy::build(&cfg)
        .await
        .context("cannot open the runtime")?;
    // Announced before the main address: whoever waits for that one knows this.
    if let Some(hop_addr) = cfg.hop.listen {
        let hop = tokio::net::TcpListener::bind(hop_addr)
            .await
            .with_context(|| format!("cannot listen on {hop_addr} for progress pushes"))?;
        say!("dcs-proxy hop listener on http://{}", hop.local_addr()?);
        tokio::spawn(dcs_proxy::hop_listen::serve(hop, state.clone()));
    }
    tracing::info!(%addr, "listening");
    say!("dcs-proxy listening on http://{addr}");
    say!(
        "open http://{addr}/ (your workspaces) or http://{addr}/github/<owner>/<repo>/ \
         (repositories come from {})",
        cfg.git_base
    );
    if let Some(metrics_addr) = cfg.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("cannot listen on {metrics_addr} for /metrics"))?;
        say!(
            "dcs-proxy metrics on http://{}/metrics",
            metrics.local_addr()?
        );
        tokio::spawn(dcs_proxy::metrics_listen::serve(metrics, state.clone()));
    }
    // Unwritable (a file on a full disk, a closed pipe): the announcements are lost,
    // the proxy serves on.
    let _ = std::io::stdout().flush();
    dcs_proxy::run(listener, state, shutdown).await;
    Ok(())
}

/// `dcs-proxy manifests`: prints the tree, or writes it under `--out-dir`.
fn manifests(args: ManifestsArgs) -> anyhow::Result<()> {
    use dcs_proxy::runtime::knative::manifests;
    match args.out_dir {
        Some(dir) => manifests::write_to(&dir)
            .with_context(|| format!("cannot write the manifests into {}", dir.display())),
        None => {
            std::io::stdout().write_all(manifests::render().as_bytes())?;
            Ok(())
        }
    }
}

/// What resolves on SIGTERM or SIGINT, both caught from this call on.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
