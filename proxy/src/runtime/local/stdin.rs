//! What the local runtime hands a launcher (or its checkout step) on its stdin at
//! spawn: the secrets of the contract that are `-` ([`StdinSecrets`]), written once
//! and closed, so they are in no file, argument or environment of the child's.

use std::io::Write as _;
use std::path::Path;

use dcs_model::env::StdinSecrets;

use crate::error::{Error, Result};

/// The operator's token from `file`, trimmed. Errors name the file, never the token.
pub fn read_token(file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::Runtime(format!(
            "cannot read the git token file {}: {e}",
            file.display()
        ))
    })?;
    Ok(text.trim().to_owned())
}

/// Writes `secrets` to the child's stdin and closes it (a few hundred bytes: the
/// pipe takes them without blocking).
pub fn hand_over(child: &mut tokio::process::Child, secrets: &StdinSecrets) {
    let Some(stdin) = child.stdin.take() else {
        return;
    };
    let Ok(fd) = stdin.into_owned_fd() else {
        return;
    };
    let mut pipe = std::fs::File::from(fd);
    if let Ok(text) = serde_json::to_vec(secrets) {
        // A launcher that died at once reports it through its exit.
        let _ = pipe.write_all(&text);
    }
}
