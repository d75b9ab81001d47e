//! The one error type of `dcs-model`: every way a user-supplied value can be invalid.
//!
//! Messages are written for the person who typed the value: they name the rule that
//! was broken and never echo more than a bounded prefix of the input.

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An `owner` segment broke GitHub's owner rules.
    #[error("invalid owner {shown}: {why}")]
    InvalidOwner {
        /// A bounded, escaped rendering of what was given.
        shown: String,
        /// The rule that was broken.
        why: &'static str,
    },
    /// A `repo` segment broke GitHub's repository-name rules.
    #[error("invalid repository name {shown}: {why}")]
    InvalidRepo {
        /// A bounded, escaped rendering of what was given.
        shown: String,
        /// The rule that was broken.
        why: &'static str,
    },
    /// A link to a repository on a server other than the git base's.
    #[error("invalid repository link {shown}: only {base} repositories open here")]
    ForeignLink {
        /// A bounded, escaped rendering of what was given.
        shown: String,
        /// The git base's host (and port and path, if it has them).
        base: String,
    },
    /// A user id that cannot be used as an identity key.
    #[error("invalid user id {shown}: {why}")]
    InvalidUser {
        /// A bounded, escaped rendering of what was given.
        shown: String,
        /// The rule that was broken.
        why: &'static str,
    },
    /// A `DCS_*` variable was missing or malformed.
    #[error("launcher environment: {var}: {why}")]
    Env {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders untrusted input for an error message: at most 64 characters, escaped,
/// quoted, so a message never carries control characters or a megabyte of input.
pub(crate) fn shown(input: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = input
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if input.chars().count() > MAX {
        out.push('…');
    }
    format!("\"{out}\"")
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn shown_is_bounded_and_escaped() {
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(500);
        assert!(shown(&long).chars().count() < 70);
    }
}
