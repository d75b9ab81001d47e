//! The status report, `GET /_dcs/devcontainer`:
//!
//! ```json
//! {"mode": "ask", "file": ".devcontainer/devcontainer.json", "allowed": false,
//!  "error": null,
//!  "steps": [{"step": "postCreateCommand", "command": "npm ci",
//!             "state": "waiting_for_consent", "exit_code": null}],
//!  "extensions": {"ids": ["acme.hello"], "state": "waiting_for_consent", "exit_code": null},
//!  "env": ["A"], "refused_env": [{"name": "PORT", "why": "set by the platform"}],
//!  "not_applied": ["image"], "problems": []}
//! ```
//!
//! A step's `state`: `waiting_for_consent` (mode `ask`, not allowed), `pending`,
//! `running`, `done` (a once-per-checkout step finished in this start or an earlier
//! one; `exit_code` 0), `failed` (`exit_code` if it exited), `skipped` (after a failed
//! one). `extensions`: `null` when none are installed here (none named, or an IDE
//! kind that installs none), else the ids and the install's state, in the same terms
//! (`done` once every id is installed, in this start or an earlier one; `failed`
//! with `"failed": [ids]`, those not installed: the steps ran anyway). `error`:
//! why the file cannot be used (a parse error, `line L, column C: …`).

use dcs_model::devcontainer::Step;
use serde_json::{json, Value};

use super::{Devcontainer, Found, Inner, Run};

/// Why a refused variable is not applied.
pub const REFUSED_WHY: &str = "set by the platform";

/// The report.
pub fn report(dc: &Devcontainer) -> Value {
    let inner = dc.lock();
    let allowed = dc.allowed(&inner);
    let (file, error) = match &inner.found {
        Found::NotRead | Found::Missing => (None, None),
        Found::Unusable { file, error, .. } => (Some(*file), Some(error.clone())),
        Found::Usable(loaded) => (Some(loaded.file), None),
    };
    let mut out = json!({
        "mode": dc.mode.as_str(),
        "file": file,
        "allowed": allowed,
        "error": error,
        "steps": [],
        "extensions": null,
        "env": [],
        "refused_env": [],
        "not_applied": [],
        "problems": [],
    });
    let Found::Usable(loaded) = &inner.found else {
        return out;
    };
    let steps: Vec<Value> = loaded
        .config
        .steps
        .iter()
        .map(|(step, command)| {
            let (state, exit_code) = state(&inner, allowed, *step);
            json!({
                "step": step.key(),
                "command": command.summary(),
                "state": state,
                "exit_code": exit_code,
            })
        })
        .collect();
    let refused: Vec<Value> = loaded
        .refused
        .iter()
        .map(|name| json!({"name": name, "why": REFUSED_WHY}))
        .collect();
    out["steps"] = steps.into();
    out["extensions"] = super::extensions::status(&inner, allowed, loaded);
    out["env"] = loaded.env.names().into();
    out["refused_env"] = refused.into();
    out["not_applied"] = loaded.config.not_applied.clone().into();
    out["problems"] = loaded.config.problems.clone().into();
    out
}

/// A step's state and exit code.
fn state(inner: &Inner, allowed: bool, step: Step) -> (&'static str, Option<i32>) {
    if step.once_per_checkout() && inner.saved.is_done(step.key()) {
        return ("done", Some(0));
    }
    run_state(inner.runs.get(&step), allowed)
}

/// The state and exit code of a step (or the extensions' install) by its `run` in
/// this start, for the status.
pub(crate) fn run_state(run: Option<&Run>, allowed: bool) -> (&'static str, Option<i32>) {
    match run {
        Some(Run::Running) => ("running", None),
        Some(Run::Done) => ("done", Some(0)),
        Some(Run::Failed(ended)) => ("failed", ended.exit_code()),
        Some(Run::Skipped) => ("skipped", None),
        None if allowed => ("pending", None),
        None => ("waiting_for_consent", None),
    }
}
