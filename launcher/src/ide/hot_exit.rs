//! Nothing lost at an idle stop: VS Code's hot exit (`files.hotExit`) on, so an
//! editor's unsaved contents are backed up while it is edited and come back when the
//! page is reloaded after the workspace was stopped (the Resume overlay reloads it).
//!
//! In VS Code for the web the setting is application-scoped: only the user's own
//! settings count. code-server keeps those on the server, in the config volume
//! (`<config>/code-server/data/User/settings.json`), so the launcher writes it there
//! ([`ensure`]), with its backups beside it. openvscode-server and `code serve-web`
//! keep user settings and backups in the browser; there the web default,
//! `onExitAndWindowClose`, is already on and nothing is written.
//!
//! A user's own choice wins: a settings file that names `files.hotExit` already is
//! left alone, and the key is added as text after the opening brace (comments and
//! layout stay as they are); a file that is not a JSON object is not touched.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::dirs::ConfigDirs;

/// The setting.
pub const SETTING: &str = "files.hotExit";
/// Back up unsaved editors on exit and when the window (tab) closes or reloads.
pub const VALUE: &str = "onExitAndWindowClose";

/// The user settings file the launcher keeps hot exit on in, for kinds that read
/// one from the server.
pub fn settings_file(kind: &str, dirs: &ConfigDirs) -> Option<PathBuf> {
    (kind == super::code_server::KIND).then(|| dirs.data.join("User").join("settings.json"))
}

/// `settings` (a settings file's text, if it exists) with hot exit on, or `None` to
/// leave the file as it is.
pub fn with_hot_exit(settings: Option<&str>) -> Option<String> {
    let line = format!("\"{SETTING}\": \"{VALUE}\"");
    let Some(text) = settings else {
        return Some(format!("{{\n  {line}\n}}\n"));
    };
    if text.contains(&format!("\"{SETTING}\"")) {
        return None;
    }
    let body_at = text.len() - skip_comments(text).len();
    let rest = text[body_at..].strip_prefix('{')?;
    if !text.trim_end().ends_with('}') {
        return None;
    }
    let empty = rest.trim_start().starts_with('}');
    let sep = if empty { "\n" } else { ",\n" };
    Some(format!(
        "{}{{\n  {line}{sep}{}",
        &text[..body_at],
        rest.trim_start_matches([' ', '\t', '\r', '\n'])
    ))
}

/// `text` after its leading whitespace and comments (`//…`, `/*…*/`).
fn skip_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("//") {
            text = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = text.strip_prefix("/*") {
            text = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return text;
        }
    }
}

/// Turns hot exit on in `kind`'s settings (see the module doc). Problems are logged;
/// the IDE starts anyway.
pub fn ensure(kind: &str, dirs: &ConfigDirs) {
    let Some(file) = settings_file(kind, dirs) else {
        return;
    };
    if let Err(e) = write(&file) {
        warn!(file = %file.display(), error = %e, "cannot turn VS Code's hot exit on");
    }
}

fn write(file: &Path) -> std::io::Result<()> {
    let current = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let Some(new) = with_hot_exit(current.as_deref()) else {
        return Ok(());
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    dcs_os::atomic::write_atomic(file, new.as_bytes())?;
    info!(file = %file.display(), "VS Code's hot exit is on");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_exit_is_added_to_what_the_user_has_and_their_own_choice_wins() {
        let fresh = with_hot_exit(None).expect("written");
        let json: serde_json::Value = serde_json::from_str(&fresh).expect("json");
        assert_eq!(json[SETTING], VALUE);

        let theirs = "// mine\n{\n  \"editor.fontSize\": 15, // big\n}\n";
        let merged = with_hot_exit(Some(theirs)).expect("merged");
        assert!(merged.starts_with("// mine\n{\n  \"files.hotExit\": \"onExitAndWindowClose\",\n"));
        assert!(
            merged.contains("\"editor.fontSize\": 15, // big"),
            "{merged}"
        );

        let empty = with_hot_exit(Some("{}")).expect("merged");
        let json: serde_json::Value = serde_json::from_str(&empty).expect("json");
        assert_eq!(json[SETTING], VALUE);

        let plain = with_hot_exit(Some("{\"a\": 1}\n")).expect("merged");
        let json: serde_json::Value = serde_json::from_str(&plain).expect("json");
        assert_eq!(
            (json[SETTING].as_str(), json["a"].as_i64()),
            (Some(VALUE), Some(1))
        );

        assert_eq!(with_hot_exit(Some("{\"files.hotExit\": \"off\"}")), None);
        assert_eq!(with_hot_exit(Some("[1, 2]")), None, "not an object");
        assert_eq!(with_hot_exit(Some("{\"a\": 1")), None, "cut short");
    }

    #[test]
    fn code_server_gets_it_in_its_user_settings_and_the_others_keep_the_web_default() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = ConfigDirs::create(tmp.path(), super::super::code_server::KIND).expect("dirs");
        ensure(super::super::code_server::KIND, &dirs);
        let file = dirs.data.join("User/settings.json");
        let text = std::fs::read_to_string(&file).expect("written");
        assert!(
            text.contains("\"files.hotExit\": \"onExitAndWindowClose\""),
            "{text}"
        );
        ensure(super::super::code_server::KIND, &dirs);
        assert_eq!(
            std::fs::read_to_string(&file).expect("kept"),
            text,
            "written once"
        );

        let other = ConfigDirs::create(tmp.path(), super::super::openvscode::KIND).expect("dirs");
        ensure(super::super::openvscode::KIND, &other);
        assert_eq!(settings_file(super::super::openvscode::KIND, &other), None);
    }
}
