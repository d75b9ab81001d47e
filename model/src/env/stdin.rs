//! [`StdinSecrets`]: the secrets a launcher gets on its stdin at spawn when a secret
//! variable of the contract is [`STDIN`](super::STDIN) (`-`) instead of a file path:
//! one JSON object, read to the end of stdin once, before anything else starts.
//!
//! The local runtime uses it, so the secrets are in no file, argument or environment
//! a user's process could read: the pipe is empty once the launcher read it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most the launcher reads from stdin.
pub const MAX_STDIN_SECRETS: u64 = 64 * 1024;

/// What arrives on stdin. Its `Debug` names which secrets are present, never them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSecrets {
    /// The workspace's hop credential (for `DCS_HOP_SECRET_FILE=-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<String>,
    /// The operator's git token (for `DCS_GIT_TOKEN_FILE=-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_token: Option<String>,
}

impl fmt::Debug for StdinSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("StdinSecrets")
            .field("hop", &shown(&self.hop))
            .field("git_token", &shown(&self.git_token))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret_and_json_round_trips() {
        let s = StdinSecrets {
            hop: Some("hop-value".into()),
            git_token: Some("ghp_value".into()),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("value"), "{shown}");
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(
            serde_json::from_str::<StdinSecrets>(&json).expect("back"),
            s
        );
        assert!(serde_json::from_str::<StdinSecrets>(r#"{"hopp":"x"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<StdinSecrets>("{}").expect("empty"),
            StdinSecrets::default()
        );
    }
}
