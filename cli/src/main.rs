//! `dcs`: the command-line client of the devcontainer-serverless management API.
//! It creates, lists, opens, starts, stops and deletes instances, waits for them to be ready and
//! keeps their access tokens in a private local store.
//!
//! - [`api_error`]: API error answers as errors (message, fields, request id).
//! - [`args`]: the command line (clap).
//! - [`client`]: HTTP to the API, URLs, API errors.
//! - [`commands`]: one function per subcommand.
//! - [`credentials`]: `dcs credentials set/list/delete`.
//! - [`delete`]: `dcs delete`, and when it forgets a stored token.
//! - [`exit`]: exit codes and the error type.
//! - [`idle`]: `dcs keepalive` and the idle explanation of `dcs status`.
//! - [`open`]: `dcs open`, the link with its stored token, in a browser.
//! - [`output`]: tables and JSON.
//! - [`redirect`]: redirect answers, never followed, as errors.
//! - [`safe`]: the server's text escaped for the terminal.
//! - [`secrets`]: the API token and `--env-file` read from files, not arguments.
//! - [`tokens`]: the local access-token store.
//! - [`wait`]: `--wait` polling with progress.

mod api_error;
mod args;
mod client;
mod commands;
mod credentials;
mod delete;
mod exit;
mod idle;
mod open;
mod output;
mod redirect;
mod safe;
mod secrets;
mod tokens;
mod wait;

use std::process::ExitCode;

fn main() -> ExitCode {
    // clap exits by itself: 0 for --help/--version, 2 for usage errors.
    let (mut cli, sources) = args::Cli::parse_with_sources();
    // One crypto provider for rustls (ring); an Err means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = secrets::prepare(&mut cli, sources).and_then(|token| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| exit::CliError::local(format!("starting the runtime: {e}")))
            .and_then(|rt| rt.block_on(commands::run(cli, token)))
    });
    let exit = match result {
        Ok(()) => exit::Exit::Ok,
        Err(e) => {
            eprintln!("dcs: {}", safe::escape_lines(&e.to_string()));
            e.exit
        }
    };
    ExitCode::from(u8::try_from(exit.code()).unwrap_or(1))
}
