//! `dcs delete`: deletes an instance and forgets its stored access token, but only
//! once the instance is certainly gone: the token is shown once, so forgetting it
//! while the instance stays leaves no way to open it. Gone means the API answered
//! `204`, or its own `not_found` error to a caller who would see the instance (its
//! owner or an admin: someone else gets the same `not_found` for an instance that
//! exists). Any other 404 (an ingress's `default backend - 404` during a rollout,
//! a page of something in front of the proxy) keeps the token.

use crate::args::Output;
use crate::commands::{me, Ctx};
use crate::exit::{CliError, Exit};
use crate::output::{self, print};
use crate::safe::escape;

/// `dcs delete <id>`.
pub async fn run(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let result = ctx.client.delete(&["instances", id]).await;
    match &result {
        Ok(()) => forget(ctx, id),
        Err(e) if e.exit == Exit::NotFound => not_found(ctx, id, e).await,
        Err(_) => {}
    }
    result?;
    match ctx.output {
        Output::Table => print(&format!("deleted {id}\n")),
        Output::Json => print(&output::json(
            &serde_json::json!({"instance_id": id, "deleted": true}),
        )?),
    }
    Ok(())
}

/// After a 404: forgets the stored token if the instance is certainly gone, else
/// says it is kept.
async fn not_found(ctx: &Ctx, id: &str, error: &CliError) {
    let stored = match ctx.tokens().and_then(|s| s.get(&ctx.server_key, id)) {
        Ok(Some(stored)) => stored,
        Ok(None) => return,
        Err(e) => return eprintln!("dcs: warning: {e}"),
    };
    let keep = |why: String| {
        eprintln!(
            "dcs: the stored access token of {} is kept: {why}",
            escape(id)
        );
    };
    if error.code.as_deref() != Some("not_found") {
        return keep("the 404 is not the dcs API's answer".to_owned());
    }
    if let Some(owner) = &stored.user_id {
        match me(ctx).await {
            Ok(me) if me.admin || me.user_id == *owner => {}
            Ok(me) => {
                return keep(format!(
                    "it is {}'s instance and you are signed in as {}, who may not see it",
                    escape(owner),
                    escape(&me.user_id)
                ))
            }
            Err(e) => return keep(format!("cannot tell who you are ({})", e.message)),
        }
    }
    forget(ctx, id);
}

/// Forgets the stored token of `id` (gone: it opens nothing any more).
fn forget(ctx: &Ctx, id: &str) {
    if let Err(e) = ctx.tokens().and_then(|s| s.forget(&ctx.server_key, id)) {
        eprintln!("dcs: warning: {e}");
    }
}
