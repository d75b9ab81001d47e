//! `dcs-launcher run`: reads the `DCS_*` environment, binds, publishes the bound
//! address, and serves until SIGTERM or SIGINT.
//!
//! `dcs-launcher git-transfer` (hidden) is the launcher's own transfer child: one
//! clone or fetch, its job on stdin, its progress on stdout (see the library's
//! `checkout::child`).
//!
//! `dcs-launcher checkout` is the checkout container: clone or fetch, record the
//! outcome, exit (see the library's `checkout_container`). `checkout --history
//! [--stay]` fetches the rest of a shallow checkout's history beside the running
//! workspace, then exits or stays until SIGTERM (see `checkout_history`).
//!
//! `dcs-launcher credential-helper` is the git credential helper offering the user's
//! own credentials in their workspace (see `credential_helper`).
//!
//! `dcs-launcher terminal-session <shell>` (hidden) is the parent of a terminal
//! session's shell and the session's kill domain (see the library's `session`).
//!
//! Before anything else `run` makes itself non-dumpable (the user's processes run as
//! the same user and must not read its memory, environment or descriptors), reads
//! its secrets (files, or stdin: see `secrets`) and becomes a child subreaper: the
//! workspace's processes are one kill domain, and what is left of it when the
//! launcher stops is ended (SIGTERM, then SIGKILL) before it exits.
//!
//! Its logs and messages go to stderr, and never stop it: a line that cannot be
//! written (stderr is a file on a full disk) is lost.
//!
//! Exit codes say why it stopped: 0 after a clean stop on request, 1 on a fatal
//! runtime error, 2 on a configuration error (bad `DCS_*` variable, unknown IDE
//! kind), 3 when stopped while the workspace was failed (checkout failed) or ended
//! because the IDE kept crashing, 4 when the IDE ignored SIGTERM and had to be killed.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dcs_model::env::Listen;
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
    /// Clone or fetch the repository, record the outcome and exit (Knative's
    /// `checkout` init container; the workspace's launcher uses the outcome).
    Checkout {
        /// Instead: fetch the rest of a shallow checkout's history, beside the
        /// running workspace (Knative's `history` container).
        #[arg(long)]
        history: bool,
        /// After the history, wait for SIGTERM instead of exiting (a container's).
        #[arg(long, requires = "history")]
        stay: bool,
    },
    /// A git credential helper offering the user's own credentials (git runs it).
    #[command(name = "credential-helper")]
    CredentialHelper {
        /// The user's stored credentials (JSON).
        #[arg(long)]
        file: PathBuf,
        /// git's operation: get, store or erase.
        operation: String,
    },
    /// Run a terminal session's shell, and end what it leaves behind (internal).
    #[command(name = "terminal-session", hide = true)]
    TerminalSession {
        /// The shell and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        program: Vec<OsString>,
    },
}

/// `eprintln!` that never panics: a line stderr cannot take (its log on a full disk)
/// is lost, and the launcher goes on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run => run(),
        Command::GitTransfer => git_transfer(),
        Command::Checkout { history, stay } => checkout(history.then_some(stay)),
        Command::CredentialHelper { file, operation } => {
            ExitCode::from(dcs_launcher::credential_helper::run(
                &file,
                &operation,
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            ))
        }
        Command::TerminalSession { program } => terminal_session(program),
    }
}

fn log_to_stderr(filter: Option<&str>) {
    let filter = filter
        .filter(|f| !f.is_empty())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A line that cannot be written (a full disk) is lost, not reported with
        // `eprintln!`, which panics when stderr fails too.
        .log_internal_errors(false)
        .init();
}

fn git_transfer() -> ExitCode {
    log_to_stderr(std::env::var("DCS_LOG").ok().as_deref());
    ExitCode::from(dcs_launcher::checkout::child::main())
}

/// The checkout step; with `Some(stay)`, its history mode (`--history`).
fn checkout(history: Option<bool>) -> ExitCode {
    let Some(env) = contract() else {
        return ExitCode::from(2);
    };
    log_to_stderr(env.log.as_deref());
    // Spelled as the folder on the volume already is, as the launcher will.
    let env = dcs_launcher::spelling::as_on_disk(env);
    let secrets = std::io::stdin().lock();
    match dcs_launcher::secrets::load(&env, secrets) {
        Ok(loaded) => dcs_launcher::secrets::install(loaded),
        Err(e) => {
            say!("dcs-launcher checkout: {e}");
            return ExitCode::from(2);
        }
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => ExitCode::from(match history {
            Some(stay) => rt.block_on(dcs_launcher::checkout_history::run(env, stay)),
            None => rt.block_on(dcs_launcher::checkout_container::run(env)),
        }),
        Err(e) => {
            say!("dcs-launcher checkout: starting the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn terminal_session(program: Vec<OsString>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => ExitCode::from(rt.block_on(dcs_launcher::session::run(program))),
        Err(e) => {
            say!("dcs-launcher: starting the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `DCS_*` contract of this process, or `None` after saying what is wrong.
fn contract() -> Option<LauncherEnv> {
    match LauncherEnv::from_lookup(|k| std::env::var(k).ok()) {
        Ok(env) => Some(env),
        Err(e) => {
            say!("dcs-launcher: {e}");
            None
        }
    }
}

fn run() -> ExitCode {
    // The user's processes run as this user: they must not read this process's
    // memory, environment or descriptors (the secrets below) through /proc.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        say!("dcs-launcher: cannot make the launcher non-dumpable: {e}");
    }
    let Some(env) = contract() else {
        return ExitCode::from(2);
    };
    match dcs_launcher::secrets::load(&env, std::io::stdin().lock()) {
        Ok(loaded) => dcs_launcher::secrets::install(loaded),
        Err(e) => {
            say!("dcs-launcher: {e}");
            return ExitCode::from(2);
        }
    }
    if let Err(e) = dcs_launcher::ide::for_kind(&env.ide) {
        say!("dcs-launcher: DCS_IDE: {e}");
        return ExitCode::from(2);
    }
    let filter = env.log.as_deref().unwrap_or("info");
    let filter = match EnvFilter::try_new(filter) {
        Ok(f) => f,
        Err(e) => {
            say!("dcs-launcher: DCS_LOG: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // As in `log_to_stderr`: never a panic for a log on a full disk.
        .log_internal_errors(false)
        .init();
    // The repository spelled as its folder on the volume already is (the checkout
    // step did the same).
    let env = dcs_launcher::spelling::as_on_disk(env);

    // Needed by the first transfer and the IDE: built while this process starts (once
    // its configuration is known to be usable: a start refused above writes nothing).
    dcs_launcher::trust::write_early(env.config_dir(), env.extra_ca_file.clone());
    let runtime = match dcs_launcher::serve::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            say!("dcs-launcher: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Orphans of the workspace's processes come to the launcher: one kill domain.
    dcs_launcher::reap::become_subreaper();
    let result = runtime.block_on(serve(env));
    // Nothing blocking should be left (transfers run in a child process); bound the
    // wait anyway.
    runtime.shutdown_timeout(Duration::from_secs(1));
    // Whatever of the workspace is left (servers started in a terminal, daemons of
    // the IDE) ends with it.
    let left = dcs_launcher::reap::sweep(SWEEP_GRACE);
    if !left.is_empty() {
        say!("dcs-launcher: processes survived SIGKILL: {left:?}");
    }
    match result {
        Ok(dcs_launcher::Stopped::Failed(why)) => {
            say!("dcs-launcher: stopped; the workspace had failed: {why}");
            ExitCode::from(3)
        }
        Ok(stopped) => ExitCode::from(stopped.exit_code()),
        Err(e) => {
            say!("dcs-launcher: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long what is left of the workspace after the launcher's own stop may take to
/// end on SIGTERM before it is killed.
const SWEEP_GRACE: Duration = Duration::from_secs(2);

async fn serve(env: LauncherEnv) -> anyhow::Result<dcs_launcher::Stopped> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let (listener, published) = listen(&env.listen).await?;
    if let Some(file) = &env.addr_file {
        publish_addr(file, &published)
            .with_context(|| format!("writing the address file {}", file.display()))?;
    }
    info!(addr = %published, "listening");
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!(signal = "SIGTERM", "stop requested"),
            _ = int.recv() => info!(signal = "SIGINT", "stop requested"),
        }
        // Orphaned servers end alongside the IDE, not after it.
        let _ = tokio::task::spawn_blocking(dcs_launcher::reap::term_orphans).await;
    };
    Ok(dcs_launcher::run(env, listener, shutdown).await?)
}

/// The front's listener and the address to publish. The unix-socket form listens on
/// loopback inside (the sandbox's own network) and relays the socket's connections
/// to it.
async fn listen(listen: &Listen) -> anyhow::Result<(TcpListener, String)> {
    match listen {
        Listen::Tcp(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let addr = listener.local_addr().context("reading the bound address")?;
            Ok((listener, addr.to_string()))
        }
        Listen::Unix(path) => {
            let front = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .context("binding the front on loopback")?;
            let addr = front.local_addr().context("reading the bound address")?;
            let socket = dcs_launcher::unix_front::bind(path)
                .with_context(|| format!("binding the unix socket {}", path.display()))?;
            tokio::spawn(dcs_launcher::unix_front::relay(socket, addr));
            Ok((front, listen.to_string()))
        }
    }
}

/// Publishes `addr` in `file` atomically, so readers never see a partial address;
/// not synced to the disk (`dcs_os::atomic`): the address dies with this process, and
/// the proxy waits for this file on every start.
fn publish_addr(file: &Path, addr: &str) -> std::io::Result<()> {
    dcs_os::atomic::replace_atomic(file, addr.as_bytes())
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
    fn the_helper_and_the_subreaper_wrapper_parse_their_arguments() {
        let cli = Cli::try_parse_from([
            "dcs-launcher",
            "credential-helper",
            "--file",
            "/w/c.json",
            "get",
        ])
        .expect("parses");
        assert!(
            matches!(cli.command, Command::CredentialHelper { ref file, ref operation }
                if file == Path::new("/w/c.json") && operation == "get")
        );
        let cli =
            Cli::try_parse_from(["dcs-launcher", "terminal-session", "--", "/bin/bash", "-l"])
                .expect("parses");
        assert!(
            matches!(cli.command, Command::TerminalSession { ref program } if program.len() == 2)
        );
    }

    #[test]
    fn the_checkout_step_parses_its_history_mode() {
        let parse = |args: &[&str]| {
            let argv = ["dcs-launcher", "checkout"].iter().chain(args);
            match Cli::try_parse_from(argv).map(|cli| cli.command) {
                Ok(Command::Checkout { history, stay }) => Some((history, stay)),
                _ => None,
            }
        };
        assert_eq!(parse(&[]), Some((false, false)));
        assert_eq!(parse(&["--history"]), Some((true, false)));
        assert_eq!(parse(&["--history", "--stay"]), Some((true, true)));
        assert_eq!(parse(&["--stay"]), None, "--stay is of the history mode");
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
