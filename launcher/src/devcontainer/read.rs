//! Finding and reading the checkout's `devcontainer.json` (blocking; run it off the
//! runtime): the first of `FILES` that exists, read without following a symbolic
//! link anywhere on its way (a link could point out of the checkout, at another
//! user's files or at `/dev/zero`), a regular file of at most `MAX_BYTES`, UTF-8
//! (a leading byte order mark is skipped). Its variables are substituted within
//! a budget (`dcs_model::devcontainer::Budget`: 128 KiB a string, 1 MiB for the
//! whole file), so a file that amplifies costs no more memory than that. What cannot
//! be used is an error the status and a notice show, as a parse error is; nothing of
//! such a file applies. The bytes read are kept, to be shown as they were read.

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use dcs_model::devcontainer::{
    parse, Budget, Command, Config, Context, ParseError, Step, TooLarge, FILES, MAX_BYTES,
};
use dcs_os::confined;

use super::{env, EnvChange, Found, Loaded};

/// Reads the file of the checkout at `checkout` and what applies of it, with
/// `${devcontainerId}` = `id`, for an IDE that installs extensions.
pub fn load(checkout: &Path, id: &str) -> Found {
    load_for(checkout, id, true)
}

/// [`load`], for an IDE that installs extensions (`extensions`) or not (then the
/// file's are listed as not applied).
pub fn load_for(checkout: &Path, id: &str, extensions: bool) -> Found {
    let Some((file, read)) = find(checkout) else {
        return Found::Missing;
    };
    let bytes = match read {
        Ok(bytes) => Bytes::from(bytes),
        Err(error) => {
            let text = None;
            return Found::Unusable { file, error, text };
        }
    };
    let unusable = |error: String| Found::Unusable {
        file,
        error,
        text: Some(bytes.clone()),
    };
    let mut config = match decode(&bytes).and_then(|text| parse(text).map_err(|e| e.to_string())) {
        Ok(config) => config,
        Err(error) => return unusable(error),
    };
    let extensions = if extensions {
        config.extensions.clone()
    } else {
        if !config.extensions.is_empty() {
            let key = dcs_model::devcontainer::customizations::EXTENSIONS_KEY;
            let text = format!("{key} (this IDE installs none)");
            config.not_applied.push(text);
        }
        Vec::new()
    };
    let (env, refused, commands) = match applied(checkout, id, &config) {
        Ok(applied) => applied,
        Err(error) => return unusable(error.to_string()),
    };
    Found::Usable(Arc::new(Loaded {
        file,
        text: bytes.clone(),
        env: Arc::new(env),
        refused,
        commands,
        extensions,
        config,
    }))
}

/// What applies of `config`: its variables (and the names refused) and its steps,
/// substituted within one [`Budget`] for the whole file (a file whose variables
/// amplify stops at the limit, never expanded further).
fn applied(checkout: &Path, id: &str, config: &Config) -> Result<Applied, TooLarge> {
    let mut budget = Budget::default();
    let user = env::user_env();
    let lookup = |name: &str| user.get(name).cloned();
    let folder = checkout.to_string_lossy();
    let ctx = Context {
        workspace_folder: &folder,
        devcontainer_id: id,
        env: &lookup,
    };
    let (change, refused) = env::applied(config, &ctx, &mut budget)?;
    // A command's `${containerEnv:X}` sees the environment it runs in: the file's too.
    let mut running = user.clone();
    change.unset.iter().for_each(|name| {
        running.remove(name);
    });
    running.extend(change.set.iter().cloned());
    let lookup = |name: &str| running.get(name).cloned();
    let ctx = Context {
        env: &lookup,
        ..ctx
    };
    let mut commands = Vec::with_capacity(config.steps.len());
    for (step, command) in &config.steps {
        let command = command
            .substituted(&ctx, &mut budget)
            .map_err(|limit| TooLarge {
                at: step.key().to_owned(),
                limit,
            })?;
        commands.push((*step, command));
    }
    Ok((change, refused, commands))
}

/// The variables applied, the names refused and the steps as they run.
type Applied = (EnvChange, Vec<String>, Vec<(Step, Command)>);

/// The first of `FILES` that exists below `checkout`, and its bytes or why they
/// cannot be read; `None` when there is none.
pub fn find(checkout: &Path) -> Option<(&'static str, Result<Vec<u8>, String>)> {
    for file in FILES {
        match confined::read_file(checkout, Path::new(file), MAX_BYTES) {
            Ok(bytes) => return Some((file, Ok(bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            // A folder on the way that is a plain file: this name does not exist.
            Err(e) if not_a_folder_on_the_way(checkout, file, &e) => continue,
            Err(e) if confined::is_refusal(&e) => return Some((file, Err(e.to_string()))),
            Err(e) => return Some((file, Err(format!("{file} cannot be read: {e}")))),
        }
    }
    None
}

/// Whether `error` refused a folder on the way to `file` (not the file itself) that
/// is no folder and no link.
fn not_a_folder_on_the_way(checkout: &Path, file: &str, error: &io::Error) -> bool {
    let Some(refused) = confined::refused_path(error) else {
        return false;
    };
    refused != Path::new(file)
        && matches!(confined::first_link(checkout, Path::new(file)), Ok(None))
}

/// `bytes` as text; where it is not UTF-8, an error at that line and column.
fn decode(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        ParseError {
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
            message: "the file is not UTF-8 text".to_owned(),
        }
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_byte_is_an_error_at_its_line_and_column() {
        let err = decode(b"{\n  \"a\": \"\xC3\xA9\xFF\"}").expect_err("not UTF-8");
        assert_eq!(err, "line 2, column 10: the file is not UTF-8 text");
        assert_eq!(decode(b"\xEF\xBB\xBF{}"), Ok("{}"), "a BOM is skipped");
    }
}
