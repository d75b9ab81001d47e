//! `dcs-launcher credential-helper --file <path> <get|store|erase>`: a git credential
//! helper (git's credential protocol: `key=value` lines on stdin, answered on
//! stdout) offering the user's *own* credentials — the ones they stored with
//! `PUT /api/me/credentials/{host}` — inside their workspaces. It reads the stored
//! file ([`CredentialFile`]: the user's Secret mounted read-only in Knative, a `0600`
//! file in the user's volume locally) on every `get`, so a change reaches running
//! workspaces; `store` and `erase` change nothing (the API does).
//!
//! The user's processes get it through git's environment configuration
//! ([`crate::user_env`]: `GIT_CONFIG_COUNT`/`KEY`/`VALUE`, so no file of theirs is
//! written). The operator's token never passes here: it is not in that file.

use std::io::{BufRead, Write};
use std::path::Path;

use dcs_model::credentials::CredentialFile;

/// The subcommand.
pub const SUBCOMMAND: &str = "credential-helper";

/// Answers one helper call: `operation` with git's request on `input`, the answer on
/// `output`. Returns the exit status (always 0: git goes on to its next helper or
/// prompt when nothing is answered).
pub fn run(file: &Path, operation: &str, input: impl BufRead, mut output: impl Write) -> u8 {
    let request = read_request(input);
    if operation != "get" {
        return 0;
    }
    let Some(answer) = answer(file, &request) else {
        return 0;
    };
    let _ = output.write_all(answer.as_bytes());
    let _ = output.flush();
    0
}

/// The `key=value` pairs git sent, up to the blank line (or the end).
fn read_request(input: impl BufRead) -> Vec<(String, String)> {
    input
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.is_empty())
        .take(64)
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The answer for `request` from the credentials in `file`, if any applies.
fn answer(file: &Path, request: &[(String, String)]) -> Option<String> {
    let get = |key: &str| {
        request
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if !matches!(get("protocol"), Some("http" | "https")) {
        return None;
    }
    let stored: CredentialFile = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let credential = stored.find(get("host")?)?;
    if get("username").is_some_and(|u| u != credential.username) {
        return None;
    }
    // Stored values hold no control characters (checked when stored); refuse any
    // that would break a line of the protocol anyway.
    if [&credential.username, &credential.token]
        .iter()
        .any(|v| v.contains(['\n', '\r', '\0']))
    {
        return None;
    }
    Some(format!(
        "username={}\npassword={}\n",
        credential.username, credential.token
    ))
}

#[cfg(test)]
mod tests {
    use dcs_model::credentials::StoredCredential;

    use super::*;

    fn file(dir: &Path) -> std::path::PathBuf {
        let mut stored = CredentialFile::default();
        stored
            .set(StoredCredential {
                host: "127.0.0.1:8443".into(),
                username: "alice".into(),
                token: "tok-1".into(),
            })
            .expect("set");
        let path = dir.join("credentials.json");
        std::fs::write(&path, serde_json::to_vec(&stored).expect("json")).expect("write");
        path
    }

    fn call(path: &Path, op: &str, input: &str) -> String {
        let mut out = Vec::new();
        assert_eq!(run(path, op, input.as_bytes(), &mut out), 0);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn get_answers_for_a_stored_host_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = file(dir.path());
        let asked = "protocol=http\nhost=127.0.0.1:8443\npath=acme/hello.git\n\n";
        assert_eq!(
            call(&path, "get", asked),
            "username=alice\npassword=tok-1\n"
        );
        for other in [
            "protocol=https\nhost=github.com\n\n",
            "protocol=ssh\nhost=127.0.0.1:8443\n\n",
            "protocol=http\nhost=127.0.0.1:8443\nusername=bob\n\n",
            "host=127.0.0.1:8443\n\n",
        ] {
            assert_eq!(call(&path, "get", other), "", "{other:?}");
        }
        assert_eq!(call(&path, "store", asked), "", "stores nothing");
        assert_eq!(call(&path, "erase", asked), "");
        assert_eq!(call(&dir.path().join("absent"), "get", asked), "");
    }
}
