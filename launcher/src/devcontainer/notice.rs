//! The notices about `devcontainer.json` (shown in every page, the IDE's too):
//! - [`ID`]: the consent question (mode `ask`), then what runs, what failed; cleared
//!   once all is done;
//! - [`CONFIG_ID`]: a file that cannot be used, or what of it does not apply here;
//! - [`ENV_ID`]: variables allowed while the IDE runs reach it from the next start;
//! - [`EXTENSIONS_ID`]: extensions installed while the IDE runs: reload the window;
//!   or those that failed to install (the commands ran anyway).

use dcs_model::devcontainer::{Mode, Step};
use dcs_model::text::{one_line, one_line_cut};

use super::run::Ended;
use super::{Devcontainer, Found, Loaded};
use crate::app::App;
use crate::notices::{Action, Level, Notice};

/// The consent, running and failed notice.
pub const ID: &str = "devcontainer";
/// The notice about the file itself.
pub const CONFIG_ID: &str = "devcontainer-config";
/// The notice that variables apply from the next start.
pub const ENV_ID: &str = "devcontainer-env";
/// The notice that extensions were installed, or that some failed.
pub const EXTENSIONS_ID: &str = "devcontainer-extensions";

/// The log, relative to the workspace root.
const LOG_HREF: &str = "_dcs/devcontainer/log";
/// The file as read, relative to the workspace root.
const FILE_HREF: &str = "_dcs/devcontainer/file";
/// Consent (and running again), relative to the workspace root.
const ALLOW_HREF: &str = "_dcs/devcontainer/allow";
/// "Not now", relative to the workspace root.
const DISMISS_HREF: &str = "_dcs/devcontainer/dismiss";

/// At most this many names in one list of a notice.
const LISTED: usize = 6;
/// At most this many names in one list of the consent question: all, in practice
/// (as many as extensions a file may name).
const ASKED: usize = 100;
/// What the consent question adds when it shortened anything.
const SHORTENED: &str = " Some of it is shortened here: Show the file to read all of it.";

/// Sets the notices for what was read: the file's ([`CONFIG_ID`]) and, when the
/// checkout must be asked, the consent question.
pub fn refresh(app: &App) {
    let dc = app.devcontainer();
    let inner = dc.lock();
    match config(&inner.found) {
        Some(n) => app.notices().set(n),
        None => app.notices().clear(CONFIG_ID),
    }
    if let Found::Usable(loaded) = &inner.found {
        if asks(dc, loaded) && !dc.allowed(&inner) && !inner.dismissed {
            app.notices().set(consent(&dc.label, loaded));
        }
    }
}

/// Whether the file asks for anything that needs consent (a step, a variable, an
/// extension).
pub(crate) fn asks(dc: &Devcontainer, loaded: &Loaded) -> bool {
    dc.mode == Mode::Ask
        && (!loaded.commands.is_empty() || !loaded.env.is_empty() || !loaded.extensions.is_empty())
}

/// The consent question for `label`'s file: every step (summarised), every variable
/// and extension named (up to [`ASKED`] each); whatever it shortens, it says so, and
/// "Show the file" shows all of it.
pub fn consent(label: &str, loaded: &Loaded) -> Notice {
    let mut cut = false;
    let steps: Vec<String> = loaded
        .config
        .steps
        .iter()
        .map(|(step, command)| {
            let (summary, shortened) = command.summary_cut();
            cut |= shortened;
            format!("{} ({summary})", step.key())
        })
        .collect();
    let names = loaded.env.names();
    let mut parts = Vec::new();
    if !steps.is_empty() {
        parts.push(format!("to run {}", steps.join(", ")));
    }
    if !names.is_empty() {
        let (names, shortened) = list_all(&names);
        cut |= shortened;
        parts.push(format!("to set {names}"));
    }
    if !loaded.extensions.is_empty() {
        let (ids, shortened) = list_all(&loaded.extensions);
        cut |= shortened;
        parts.push(format!("to install extensions {ids}"));
    }
    let shortened = if cut { SHORTENED } else { "" };
    // "to run …, to set … and to install …".
    let asks = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    };
    Notice::new(
        ID,
        Level::Warning,
        format!(
            "{label}'s devcontainer.json asks {asks}.{shortened} Allow it only if you trust \
             this repository."
        ),
    )
    .with(Action::post("Allow and run", ALLOW_HREF))
    .with(Action::open("Show the file", FILE_HREF))
    .with(Action::post("Not now", DISMISS_HREF))
}

/// `step` is running `summary`.
pub fn running(step: Step, summary: &str) -> Notice {
    Notice::new(
        ID,
        Level::Info,
        format!("Running {} from devcontainer.json: {summary}", step.key()),
    )
    .with(Action::open("Show log", LOG_HREF))
}

/// `step` failed as `ended` says.
pub fn failed(step: Step, ended: &Ended) -> Notice {
    Notice::new(
        ID,
        Level::Error,
        format!(
            "{} from devcontainer.json failed ({}).",
            step.key(),
            ended.describe()
        ),
    )
    .with(Action::open("Show log", LOG_HREF))
    .with(Action::post("Run again", ALLOW_HREF))
}

/// The extensions `ids` are being installed.
pub fn installing_extensions(ids: &[String]) -> Notice {
    Notice::new(
        ID,
        Level::Info,
        format!(
            "Installing extensions from devcontainer.json: {}",
            list(ids)
        ),
    )
    .with(Action::open("Show log", LOG_HREF))
}

/// The extensions were installed: the running IDE sees them after a reload.
pub fn extensions_installed() -> Notice {
    Notice::new(
        EXTENSIONS_ID,
        Level::Info,
        "Extensions from devcontainer.json are installed: reload the window to use them.",
    )
    .with(Action::reload("Reload"))
}

/// Installing `ids` failed (the first as `ended` says); the lifecycle commands ran
/// anyway. `others_installed`: other extensions did install (a reload shows them).
pub fn extensions_failed(ids: &[String], ended: &Ended, others_installed: bool) -> Notice {
    let reload = if others_installed {
        " The others are installed: reload the window to use them."
    } else {
        ""
    };
    let notice = Notice::new(
        EXTENSIONS_ID,
        Level::Error,
        format!(
            "Extensions from devcontainer.json not installed: {} ({}); the commands ran \
             anyway.{reload}",
            list(ids),
            ended.describe()
        ),
    )
    .with(Action::open("Show log", LOG_HREF))
    .with(Action::post("Run again", ALLOW_HREF));
    if others_installed {
        notice.with(Action::reload("Reload"))
    } else {
        notice
    }
}

/// Variables allowed while the IDE runs.
pub fn env_next_start() -> Notice {
    Notice::new(
        ENV_ID,
        Level::Info,
        "Variables from devcontainer.json reach the IDE and its terminals from the workspace's next start.",
    )
}

/// The notice about the file: an error, or what does not apply here; `None` when
/// all of it applies (or there is none).
pub fn config(found: &Found) -> Option<Notice> {
    let loaded = match found {
        Found::Unusable { error, .. } => {
            let text = format!("devcontainer.json: {error}; nothing of it applies.");
            return Some(Notice::warning(CONFIG_ID, text));
        }
        Found::Usable(loaded) => loaded,
        _ => return None,
    };
    let config = &loaded.config;
    let mut parts = Vec::new();
    if !config.not_applied.is_empty() {
        const IMAGE: [&str; 5] = [
            "image",
            "build",
            "dockerFile",
            "dockerComposeFile",
            "features",
        ];
        let why = if config
            .not_applied
            .iter()
            .any(|p| IMAGE.contains(&p.as_str()))
        {
            " (this workspace runs the platform's image)"
        } else {
            ""
        };
        parts.push(format!(
            "not applied here: {}{why}",
            list(&config.not_applied)
        ));
    }
    if !loaded.refused.is_empty() {
        parts.push(format!(
            "set by the platform, left as they are: {}",
            list(&loaded.refused)
        ));
    }
    if !config.problems.is_empty() {
        parts.push(format!("skipped: {}", list(&config.problems)));
    }
    if parts.is_empty() {
        return None;
    }
    let text = format!("devcontainer.json: {}.", parts.join("; "));
    Some(Notice::new(CONFIG_ID, Level::Info, text))
}

/// `items` as `a, b, c`, at most [`LISTED`] of them and how many more.
fn list(items: &[String]) -> String {
    let mut shown: Vec<String> = items.iter().take(LISTED).map(|i| one_line(i, 80)).collect();
    if items.len() > LISTED {
        shown.push(format!("and {} more", items.len() - LISTED));
    }
    shown.join(", ")
}

/// `items` as `a, b, c`, each on one line (white space runs as one space), at most
/// [`ASKED`] of them and how many more; and whether anything was shortened.
fn list_all(items: &[String]) -> (String, bool) {
    let mut cut = items.len() > ASKED;
    let mut shown: Vec<String> = items
        .iter()
        .take(ASKED)
        .map(|item| {
            let (text, shortened) = one_line_cut(item, 80);
            cut |= shortened;
            text
        })
        .collect();
    if items.len() > ASKED {
        shown.push(format!("and {} more", items.len() - ASKED));
    }
    (shown.join(", "), cut)
}
