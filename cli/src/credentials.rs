//! `dcs credentials set/list/delete`: the caller's own git credentials
//! (`/api/me/credentials`). The token is read from standard input or a file, never
//! taken from the command line (where other users' `ps` would see it), and never
//! printed.

use std::io::BufRead;

use dcs_model::credentials::{CredentialList, CredentialView, SetCredential};

use crate::args::CredentialsCommand;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

/// Runs one `dcs credentials` subcommand.
pub async fn run(ctx: &Ctx, command: CredentialsCommand) -> Result<(), CliError> {
    match command {
        CredentialsCommand::Set {
            host,
            username,
            git_token_file,
        } => {
            let token = match git_token_file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| CliError::local(format!("cannot read {}: {e}", path.display())))?,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| CliError::local(format!("cannot read the token: {e}")))?;
                    line
                }
            };
            let token = token.trim().to_owned();
            if token.is_empty() {
                return Err(CliError::usage(
                    "no token: pipe it on standard input or pass --git-token-file",
                ));
            }
            let body = SetCredential { username, token };
            let view: CredentialView = ctx.client.put(&["me", "credentials", &host], &body).await?;
            ctx.show(&view, |v| {
                output::fields(&[("host", v.host.clone()), ("username", v.username.clone())])
            })
        }
        CredentialsCommand::List => {
            let list: CredentialList = ctx.client.get(&["me", "credentials"], &[]).await?;
            ctx.show(&list, |l| {
                let rows: Vec<Vec<String>> = l
                    .credentials
                    .iter()
                    .map(|c| vec![c.host.clone(), c.username.clone()])
                    .collect();
                output::table(&["HOST", "USERNAME"], &rows)
            })
        }
        CredentialsCommand::Delete { host } => {
            ctx.client.delete(&["me", "credentials", &host]).await?;
            let deleted = serde_json::json!({"host": host, "deleted": true});
            ctx.show(&deleted, |_| format!("deleted the credential for {host}\n"))
        }
    }
}
