//! One function per subcommand: build the request, call the API, render the answer.

use std::collections::BTreeMap;
use std::time::Duration;

use dcs_model::api::{
    CreateInstance, CreatedInstance, Instance, InstanceList, InstanceStatus, PatchInstance,
    SharedWith, WorkspaceVolume,
};
use serde::{Deserialize, Serialize};

use crate::args::{Cli, Command, CreateArgs, Output};
use crate::client::{open_url, parse_server, server_key, Client};
use crate::credentials;
use crate::exit::CliError;
use crate::output::{self, print};
use crate::safe::escape;
use crate::tokens::{StoredToken, TokenStore};
use crate::wait;

/// `GET /api/me`: who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Me {
    pub(crate) user_id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    pub(crate) admin: bool,
}

/// What every command works with.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) output: Output,
    pub(crate) server_key: String,
}

impl Ctx {
    pub(crate) fn tokens(&self) -> Result<TokenStore, CliError> {
        TokenStore::locate(|k| std::env::var(k).ok())
    }

    pub(crate) fn show<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce(&T) -> String,
    ) -> Result<(), CliError> {
        let text = match self.output {
            Output::Table => table(value),
            Output::Json => output::json(value)?,
        };
        print(&text);
        Ok(())
    }
}

/// Runs the parsed command line with the API `token` ([`crate::secrets`]).
pub async fn run(cli: Cli, token: Option<String>) -> Result<(), CliError> {
    let server = parse_server(&cli.server)?;
    let ctx = Ctx {
        server_key: server_key(&server),
        client: Client::new(server, token)?,
        output: cli.output,
    };
    match cli.command {
        Command::Create(args) => create(&ctx, *args).await,
        Command::List { user_id, all } => list(&ctx, user_id.as_deref(), all).await,
        Command::Get(r) => {
            let i: Instance = ctx.client.get(&["instances", r.id()], &[]).await?;
            ctx.show(&i, output::instance)
        }
        Command::Delete(r) => crate::delete::run(&ctx, r.id()).await,
        Command::Start { instance, wait } => {
            let i: Instance = ctx
                .client
                .post_empty(&["instances", instance.id(), "start"])
                .await?;
            if !wait.wait {
                return ctx.show(&i, output::instance);
            }
            let timeout = Duration::from_secs(wait.timeout);
            let status = wait::until_ready(&ctx.client, instance.id(), timeout).await?;
            ctx.show(&status, output::status)
        }
        Command::Stop(r) => {
            let i: Instance = ctx
                .client
                .post_empty(&["instances", r.id(), "stop"])
                .await?;
            ctx.show(&i, output::instance)
        }
        Command::Share {
            instance,
            users,
            groups,
        } => {
            let body = PatchInstance {
                shared_with: Some(SharedWith { users, groups }),
            };
            let i: Instance = ctx
                .client
                .patch(&["instances", instance.id()], &body)
                .await?;
            ctx.show(&i, output::instance)
        }
        Command::Status { instance, wait } => {
            let status: InstanceStatus = if wait.wait {
                wait::until_ready(
                    &ctx.client,
                    instance.id(),
                    Duration::from_secs(wait.timeout),
                )
                .await?
            } else {
                ctx.client
                    .get(&["status"], &[("instance_id", instance.id())])
                    .await?
            };
            ctx.show(&status, output::status)
        }
        Command::Keepalive { instance, for_s } => {
            let report: dcs_model::api::IdleReport = ctx
                .client
                .post(
                    &["instances", instance.id(), "keepalive"],
                    &dcs_model::api::KeepaliveRequest { for_s },
                )
                .await?;
            ctx.show(&report, crate::idle::kept)
        }
        Command::Workspace { user_id } => {
            let user = match user_id {
                Some(u) => u,
                None => me(&ctx).await?.user_id,
            };
            let w: WorkspaceVolume = ctx.client.get(&["workspaces", &user], &[]).await?;
            ctx.show(&w, output::workspace)
        }
        Command::Open { instance, print } => crate::open::open(&ctx, instance.id(), print),
        Command::Credentials(c) => credentials::run(&ctx, c).await,
        Command::Whoami => {
            let me = me(&ctx).await?;
            ctx.show(&me, |m| {
                output::fields(&[
                    ("user", m.user_id.clone()),
                    ("username", m.username.clone().unwrap_or_default()),
                    ("groups", m.groups.join(", ")),
                    ("admin", if m.admin { "yes" } else { "no" }.to_owned()),
                ])
            })
        }
    }
}

pub(crate) async fn me(ctx: &Ctx) -> Result<Me, CliError> {
    ctx.client.get(&["me"], &[]).await
}

/// The request body of `dcs create`. `--repo` (`owner/repo`, or a link:
/// `https://<host>/owner/repo[.git][/…]`, `git@<host>:owner/repo`) is sent as given:
/// the server reads a link by its git base, as its home page does (a link to another
/// server is refused there, `422` naming the git base's host).
fn create_request(args: &CreateArgs) -> Result<CreateInstance, CliError> {
    let mut env = BTreeMap::new();
    for (k, v) in &args.env {
        if env.insert(k.clone(), v.clone()).is_some() {
            return Err(CliError::usage(format!(
                "{k} is given more than once (--env, --env-file)"
            )));
        }
    }
    let repo = args.repo.clone();
    Ok(CreateInstance {
        user_id: args.user_id.clone(),
        repo,
        base_image: args.base_image.clone(),
        ide: args.ide.clone(),
        ide_version: args.vscode_version.clone(),
        storage: args.storage.clone(),
        cpu_request: args.cpu_request.clone(),
        cpu_limit: args.cpu_limit.clone(),
        memory_request: args.memory_request.clone(),
        memory_limit: args.memory_limit.clone(),
        env: (!env.is_empty()).then_some(env),
        shared_with: (!args.share_with_users.is_empty() || !args.share_with_groups.is_empty())
            .then(|| SharedWith {
                users: args.share_with_users.clone(),
                groups: args.share_with_groups.clone(),
            }),
    })
}

async fn create(ctx: &Ctx, args: CreateArgs) -> Result<(), CliError> {
    // Only the fields given: unset ones are left out rather than sent as null.
    let mut body = serde_json::to_value(create_request(&args)?)
        .map_err(|e| CliError::local(format!("encoding the request: {e}")))?;
    if let Some(map) = body.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    let created: CreatedInstance = ctx.client.post(&["instances"], &body).await?;
    let id = created.instance.instance_id.clone();
    let url = open_url(
        ctx.client.server(),
        &created.instance.url,
        &created.access_token,
    )?;
    let saved = ctx.tokens().and_then(|store| {
        store.put(
            &ctx.server_key,
            &id,
            StoredToken {
                access_token: created.access_token.clone(),
                url: created.instance.url.clone(),
                user_id: Some(created.instance.user_id.clone()),
            },
        )?;
        Ok(store)
    });
    match ctx.output {
        Output::Table => {
            let mut text = output::instance(&created.instance);
            text.push_str(&format!("\nOpen: {url}\n"));
            for w in &created.warnings {
                text.push_str(&format!("warning: {}\n", escape(w)));
            }
            print(&text);
        }
        Output::Json => {
            let mut value = serde_json::to_value(&created)
                .map_err(|e| CliError::local(format!("encoding JSON: {e}")))?;
            if let Some(map) = value.as_object_mut() {
                map.insert("open_url".into(), url.as_str().into());
            }
            print(&output::json(&value)?);
        }
    }
    match &saved {
        Ok(store) => eprintln!(
            "The access token in this URL is shown only once; it is saved in {} \
             so that `dcs open {}` can open it again.",
            store.path().display(),
            escape(&id)
        ),
        Err(e) => eprintln!(
            "dcs: warning: the access token is shown only once and could not be saved ({e}); \
             keep the URL above."
        ),
    }
    if args.wait.wait {
        wait::until_ready(&ctx.client, &id, Duration::from_secs(args.wait.timeout)).await?;
    }
    Ok(())
}

async fn list(ctx: &Ctx, user_id: Option<&str>, all: bool) -> Result<(), CliError> {
    let mut query: Vec<(&str, &str)> = user_id.map(|u| ("user_id", u)).into_iter().collect();
    if all {
        query.push(("all", "true"));
    }
    let list: InstanceList = ctx.client.get(&["instances"], &query).await?;
    if ctx.output == Output::Table && list.instances.is_empty() {
        eprintln!("no instances");
        return Ok(());
    }
    ctx.show(&list, |l| output::instances(&l.instances))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn create_flags_become_the_request_body() -> Result<(), Box<dyn std::error::Error>> {
        let cli = Cli::try_parse_from([
            "dcs",
            "create",
            "--repo",
            "acme/hello",
            "--ide-version",
            "1.96.0",
            "--env",
            "FOO=bar",
            "--cpu-limit",
            "banana",
        ])?;
        let Command::Create(args) = cli.command else {
            panic!("not create");
        };
        let body = serde_json::to_value(create_request(&args)?)?;
        assert_eq!(body["repo"], "acme/hello");
        assert_eq!(body["ide_version"], "1.96.0");
        assert_eq!(body["cpu_limit"], "banana", "the server validates");
        assert_eq!(body["env"]["FOO"], "bar");
        assert_eq!(body["storage"], serde_json::Value::Null);
        Ok(())
    }

    #[test]
    fn a_repeated_env_name_is_a_usage_error() -> Result<(), Box<dyn std::error::Error>> {
        let cli = Cli::try_parse_from(["dcs", "create", "--env", "A=1", "--env", "A=2"])?;
        let Command::Create(args) = cli.command else {
            panic!("not create");
        };
        let err = create_request(&args).expect_err("dup");
        assert_eq!(err.exit, crate::exit::Exit::Usage);
        Ok(())
    }

    fn create_args(args: &[&str]) -> Result<CreateArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("dcs").chain(args.iter().copied()))?;
        let Command::Create(args) = cli.command else {
            panic!("not create");
        };
        Ok(*args)
    }

    #[test]
    fn a_repo_link_is_sent_as_given_for_the_server_to_read(
    ) -> Result<(), Box<dyn std::error::Error>> {
        for link in [
            "acme/hello",
            "https://github.com/acme/hello/tree/main/src",
            "git@git.example.com:acme/hello.git",
        ] {
            let body = create_request(&create_args(&["create", "--repo", link])?)?;
            assert_eq!(body.repo.as_deref(), Some(link), "{link}");
        }
        Ok(())
    }

    #[test]
    fn me_reads_a_partial_answer() -> Result<(), serde_json::Error> {
        let me: Me = serde_json::from_str(r#"{"user_id":"alice"}"#)?;
        assert_eq!((me.user_id.as_str(), me.admin), ("alice", false));
        Ok(())
    }
}
