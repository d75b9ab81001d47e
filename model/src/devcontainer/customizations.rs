//! `customizations` of a `devcontainer.json`: what applies of it is
//! `customizations.vscode.extensions`, the extensions to install into the IDE (ids
//! `publisher.name`, optionally `publisher.name@version`); everything else in it
//! (`customizations.vscode.settings`, `customizations.codespaces`, ...) is not applied.
//! An id prefixed with `-` means "do not install" in the specification: it is ignored.

use jsonc_parser::JsonValue;

use super::parse::shown_key;
use crate::text::one_line;

/// The property of the extensions, as listed in `not_applied` and `problems`.
pub const EXTENSIONS_KEY: &str = "customizations.vscode.extensions";

/// The longest extension id accepted, in bytes (with its version).
const MAX_ID_BYTES: usize = 256;

/// At most this many extensions are installed; more are a problem.
pub const MAX_EXTENSIONS: usize = 100;

/// What `customizations` says.
#[derive(Debug, Default)]
pub(crate) struct Customizations {
    /// The extension ids, in file order, each once (ids compare case-insensitively).
    pub extensions: Vec<String>,
    /// What is present and not applied (`customizations.<tool>`,
    /// `customizations.vscode.<key>`).
    pub not_applied: Vec<String>,
}

/// Reads `customizations`; wrong shapes are pushed to `problems`.
pub(crate) fn read(value: JsonValue, problems: &mut Vec<String>) -> Customizations {
    let mut out = Customizations::default();
    let tools = match value {
        JsonValue::Object(tools) => tools,
        JsonValue::Null => return out,
        _ => {
            problems.push("customizations: expected an object".to_owned());
            return out;
        }
    };
    for (tool, value) in tools {
        if tool != "vscode" {
            out.not_applied
                .push(format!("customizations.{}", shown_key(&tool)));
            continue;
        }
        let vscode = match value {
            JsonValue::Object(vscode) => vscode,
            JsonValue::Null => continue,
            _ => {
                problems.push("customizations.vscode: expected an object".to_owned());
                continue;
            }
        };
        for (key, value) in vscode {
            if key == "extensions" {
                out.extensions = extensions(value, problems);
            } else {
                out.not_applied
                    .push(format!("customizations.vscode.{}", shown_key(&key)));
            }
        }
    }
    out
}

/// The ids of `customizations.vscode.extensions`.
fn extensions(value: JsonValue, problems: &mut Vec<String>) -> Vec<String> {
    let items = match value {
        JsonValue::Array(items) => items,
        JsonValue::Null => return Vec::new(),
        _ => {
            problems.push(format!("{EXTENSIONS_KEY}: expected an array of strings"));
            return Vec::new();
        }
    };
    let mut ids: Vec<String> = Vec::new();
    for item in items {
        let JsonValue::String(id) = item else {
            problems.push(format!("{EXTENSIONS_KEY}: expected an array of strings"));
            continue;
        };
        let id = id.trim();
        if id.starts_with('-') {
            continue;
        }
        if !valid_id(id) {
            problems.push(format!(
                "{EXTENSIONS_KEY}: {:?} is not an extension id (publisher.name or publisher.name@version)",
                one_line(id, 64)
            ));
            continue;
        }
        if ids.len() == MAX_EXTENSIONS {
            problems.push(format!(
                "{EXTENSIONS_KEY}: more than {MAX_EXTENSIONS} extensions; the rest are not installed"
            ));
            break;
        }
        if !ids.iter().any(|known| known.eq_ignore_ascii_case(id)) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// Whether `id` is `publisher.name` or `publisher.name@version`: each name
/// `[A-Za-z0-9][A-Za-z0-9-]*`, the version `[A-Za-z0-9.+-]+` starting with a digit or
/// a letter; at most 256 bytes; never ending in `.vsix` (any case): code-server and
/// openvscode-server take such an argument of `--install-extension` as the path of
/// a VSIX file, which a repository could ship, instead of an id in the gallery.
pub fn valid_id(id: &str) -> bool {
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.to_ascii_lowercase().ends_with(".vsix") {
        return false;
    }
    let (name, version) = match id.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (id, None),
    };
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let Some((publisher, extension)) = name.split_once('.') else {
        return false;
    };
    let version_ok = version.is_none_or(|v| {
        v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
    });
    part(publisher) && part(extension) && version_ok
}
