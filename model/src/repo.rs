//! [`RepoRef`]: an `owner/repo` pair validated with GitHub's naming rules.
//!
//! Owners are 1–39 characters of `[A-Za-z0-9-]` with no leading or trailing `-`.
//! Repository names are 1–100 characters of `[A-Za-z0-9._-]`, never `.` or `..`; a
//! trailing `.git` is accepted and stripped.
//!
//! **Case.** GitHub treats owners and repository names case-insensitively, and so
//! does everything here: two `RepoRef`s are equal (and hash, order and name their
//! workspace alike) when they differ only in ASCII case, so `Acme/Hello` and
//! `acme/hello` are one repository, one workspace, one policy decision. The spelling
//! first given is kept for display and for the clone URL (git servers other than
//! GitHub may care).
//!
//! [`RepoRef::from_link_at`] (in `link`) reads one from what a person pastes: a web
//! or clone URL on the git base's server ([`LinkBase`]), a workspace path.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{shown, Error, Result};

mod link;

pub use link::LinkBase;

/// A validated repository reference. Both parts are safe as single path segments.
/// Compared without regard to ASCII case (see the module docs).
///
/// One shared allocation holds both spellings: a clone (every request to a
/// workspace makes some) costs a reference count, not three strings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoRef {
    /// `owner/repo` as first given, then `owner/repo` in lowercase (what equality,
    /// hashing and ordering use): two halves of the same length.
    text: Arc<str>,
    /// Bytes of the owner (at most [`RepoRef::MAX_OWNER`]).
    owner_len: u8,
}

impl fmt::Debug for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoRef")
            .field("owner", &self.owner())
            .field("repo", &self.repo())
            .finish()
    }
}

impl PartialEq for RepoRef {
    fn eq(&self, other: &Self) -> bool {
        // Clones of one parse (the route's memo, the maps keyed by workspace: every
        // request's look-ups) share their text: equal without comparing it.
        Arc::ptr_eq(&self.text, &other.text) || self.folded() == other.folded()
    }
}

impl Eq for RepoRef {}

impl std::hash::Hash for RepoRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.folded().hash(state);
    }
}

impl PartialOrd for RepoRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RepoRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded().cmp(other.folded())
    }
}

impl RepoRef {
    /// Longest owner GitHub accepts.
    pub const MAX_OWNER: usize = 39;
    /// Longest repository name GitHub accepts.
    pub const MAX_REPO: usize = 100;

    /// Validates an owner and a repository name given separately (e.g. two URL segments).
    pub fn new(owner: &str, repo: &str) -> Result<Self> {
        validate_owner(owner)?;
        let repo = repo.strip_suffix(".git").unwrap_or(repo);
        validate_repo(repo)?;
        let half = owner.len() + 1 + repo.len();
        let mut text = String::with_capacity(2 * half);
        for part in [owner, "/", repo, owner, "/", repo] {
            text.push_str(part);
        }
        text[half..].make_ascii_lowercase();
        Ok(Self {
            text: Arc::from(text),
            // Validated: at most MAX_OWNER (39) bytes.
            owner_len: u8::try_from(owner.len()).unwrap_or(u8::MAX),
        })
    }

    /// Parses `owner/repo` (optionally `owner/repo.git`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.split_once('/') {
            Some((owner, repo)) => Self::new(owner, repo),
            None => Err(Error::InvalidRepo {
                shown: shown(s),
                why: "expected owner/repo",
            }),
        }
    }

    /// The owner (user or organisation).
    pub fn owner(&self) -> &str {
        &self.spelled()[..usize::from(self.owner_len)]
    }

    /// The repository name, without any `.git` suffix.
    pub fn repo(&self) -> &str {
        &self.spelled()[usize::from(self.owner_len) + 1..]
    }

    /// The owner in lowercase: the same for every spelling of it.
    pub fn canonical_owner(&self) -> &str {
        &self.folded()[..usize::from(self.owner_len)]
    }

    /// The repository name in lowercase: the same for every spelling of it.
    pub fn canonical_repo(&self) -> &str {
        &self.folded()[usize::from(self.owner_len) + 1..]
    }

    /// The clone URL under a git base such as `https://github.com`.
    pub fn clone_url(&self, git_base: &str) -> String {
        format!(
            "{}/{}/{}.git",
            git_base.trim_end_matches('/'),
            self.owner(),
            self.repo()
        )
    }

    /// `owner/repo` as first given, as `Display` writes it (without a copy).
    pub fn as_str(&self) -> &str {
        self.spelled()
    }

    /// `owner/repo` as first given.
    fn spelled(&self) -> &str {
        &self.text[..self.text.len() / 2]
    }

    /// `owner/repo` in lowercase.
    fn folded(&self) -> &str {
        &self.text[self.text.len() / 2..]
    }
}

fn validate_owner(owner: &str) -> Result<()> {
    let err = |why| {
        Err(Error::InvalidOwner {
            shown: shown(owner),
            why,
        })
    };
    if owner.is_empty() {
        return err("must not be empty");
    }
    if owner.len() > RepoRef::MAX_OWNER {
        return err("must be at most 39 characters");
    }
    if !owner
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return err("may contain only ASCII letters, digits and '-'");
    }
    if owner.starts_with('-') || owner.ends_with('-') {
        return err("must not start or end with '-'");
    }
    Ok(())
}

fn validate_repo(repo: &str) -> Result<()> {
    let err = |why| {
        Err(Error::InvalidRepo {
            shown: shown(repo),
            why,
        })
    };
    if repo.is_empty() {
        return err("must not be empty");
    }
    if repo.len() > RepoRef::MAX_REPO {
        return err("must be at most 100 characters");
    }
    if !repo
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return err("may contain only ASCII letters, digits, '.', '_' and '-'");
    }
    if repo == "." || repo == ".." {
        return err("must not be '.' or '..'");
    }
    // One `.git` suffix is stripped before this check; a name still ending in it
    // would display as something that parses to a different repository.
    if repo.ends_with(".git") {
        return err("must not end in .git twice");
    }
    Ok(())
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spelled())
    }
}

impl std::str::FromStr for RepoRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RepoRef {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<RepoRef> for String {
    fn from(r: RepoRef) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_github_shaped_names() {
        let r = RepoRef::parse("acme-corp/hello.world_2").expect("valid");
        assert_eq!((r.owner(), r.repo()), ("acme-corp", "hello.world_2"));
        assert_eq!(r.to_string(), "acme-corp/hello.world_2");
        RepoRef::new(&"a".repeat(39), &"b".repeat(100)).expect("limits are inclusive");
        RepoRef::new("a", ".github").expect("leading dot in repo is fine");
    }

    #[test]
    fn a_clone_shares_both_spellings() {
        let r = RepoRef::new("Acme", "Hello.git").expect("valid");
        let c = r.clone();
        assert!(
            Arc::ptr_eq(&r.text, &c.text),
            "one allocation for all clones"
        );
        assert_eq!((c.owner(), c.repo()), ("Acme", "Hello"));
        assert_eq!((c.canonical_owner(), c.canonical_repo()), ("acme", "hello"));
        assert_eq!(c.to_string(), "Acme/Hello");
        assert_eq!(c.as_str(), "Acme/Hello");
        assert_eq!(
            format!("{c:?}"),
            r#"RepoRef { owner: "Acme", repo: "Hello" }"#
        );
    }

    #[test]
    fn git_suffix_is_stripped() {
        assert_eq!(
            RepoRef::parse("acme/hello.git").expect("valid").repo(),
            "hello"
        );
    }

    #[test]
    fn bad_owners_are_rejected() {
        for owner in [
            "", "-acme", "acme-", "ac_me", "ac.me", "a/b", "é", "a b", "a\0",
        ] {
            assert!(
                matches!(RepoRef::new(owner, "r"), Err(Error::InvalidOwner { .. })),
                "{owner:?}"
            );
        }
        assert!(RepoRef::new(&"a".repeat(40), "r").is_err());
        assert!(RepoRef::new(&"a".repeat(200), "r").is_err());
    }

    #[test]
    fn bad_repos_are_rejected() {
        for repo in [
            "",
            ".",
            "..",
            ".git",
            "a/b",
            "a b",
            "a%2Fb",
            "é",
            "a\0b",
            "..git",
            "x.git.git",
            ".git.git",
            "..git.git",
        ] {
            let got = RepoRef::new("acme", repo);
            // "..git" strips to "." which is rejected too.
            assert!(
                matches!(got, Err(Error::InvalidRepo { .. })),
                "{repo:?} → {got:?}"
            );
        }
        assert!(RepoRef::new("acme", &"r".repeat(101)).is_err());
    }

    #[test]
    fn every_accepted_name_survives_its_own_string_form() {
        // Found by the repo_ref fuzz target: "x.git.git" used to become "x.git".
        for (o, r) in [
            ("acme", "hello"),
            ("4", "a.git"),
            ("a", ".github"),
            ("a", "x.gitx"),
            ("a", "git"),
        ] {
            let parsed = RepoRef::new(o, r).expect("valid");
            assert_eq!(
                RepoRef::parse(&parsed.to_string()).expect("round trip"),
                parsed
            );
        }
    }

    #[test]
    fn spellings_that_differ_only_in_case_are_one_repository() {
        use std::collections::HashSet;
        let a = RepoRef::parse("Acme/Hello").expect("valid");
        let b = RepoRef::parse("acme/HELLO.git").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
        assert_eq!(HashSet::from([a.clone(), b.clone()]).len(), 1);
        assert_eq!(a.to_string(), "Acme/Hello", "the spelling given is shown");
        assert_eq!((a.canonical_owner(), a.canonical_repo()), ("acme", "hello"));
        assert_ne!(a, RepoRef::parse("acme/hello2").expect("valid"));
        let back: RepoRef = serde_json::from_str("\"Acme/Hello\"").expect("de");
        assert_eq!(back, b);
        assert_eq!(back.to_string(), "Acme/Hello");
    }

    #[test]
    fn parse_requires_a_slash() {
        assert!(RepoRef::parse("acme").is_err());
        assert!(RepoRef::parse("acme/hello/extra").is_err());
    }

    #[test]
    fn clone_url_joins_base() {
        let r = RepoRef::parse("acme/hello").expect("valid");
        assert_eq!(
            r.clone_url("https://github.com/"),
            "https://github.com/acme/hello.git"
        );
        assert_eq!(
            r.clone_url("http://127.0.0.1:9/git"),
            "http://127.0.0.1:9/git/acme/hello.git"
        );
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let r: RepoRef = serde_json::from_str("\"acme/hello\"").expect("valid");
        assert_eq!(serde_json::to_string(&r).expect("ser"), "\"acme/hello\"");
        assert!(serde_json::from_str::<RepoRef>("\"acme/..\"").is_err());
    }
}
