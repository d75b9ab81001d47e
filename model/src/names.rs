//! Kubernetes-safe names: DNS-1035 labels (`[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63 chars)
//! made of a readable slug and a hash of the exact input.
//!
//! The slug is for humans (`kubectl get ksvc`); the hash is what makes names unique:
//! 16 hex digits (64 bits) of SHA-256 over an unambiguous encoding of every part, so
//! distinct keys — including ones that differ only in case or punctuation — get
//! distinct names, and the same key always gets the same name.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::key::WorkspaceKind;
use crate::{UserId, WorkspaceKey};

/// Longest DNS-1035 label.
pub const MAX_LEN: usize = 63;
const HASH_HEX: usize = 16;

/// A name that is a valid DNS-1035 label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct K8sName(String);

impl K8sName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` is a DNS-1035 label.
    pub fn is_dns1035(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_LEN
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[b.len() - 1] != b'-'
    }
}

impl fmt::Display for K8sName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<prefix>-<slug>-<hash>` for arbitrary parts. `prefix` must be a short lowercase
/// word (it guarantees the leading letter).
pub fn safe_name(prefix: &str, parts: &[&str]) -> K8sName {
    debug_assert!(K8sName::is_dns1035(prefix) && prefix.len() <= 8);
    let mut hasher = Sha256::new();
    hasher.update(prefix.as_bytes());
    for part in parts {
        // Length-prefixing makes the encoding unambiguous: ("ab","c") ≠ ("a","bc").
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hash: String = digest
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();

    let budget = MAX_LEN - prefix.len() - 1 - HASH_HEX - 1;
    let slug = slug(&parts.join("-"), budget);
    let name = if slug.is_empty() {
        format!("{prefix}-{hash}")
    } else {
        format!("{prefix}-{slug}-{hash}")
    };
    debug_assert!(K8sName::is_dns1035(&name), "{name}");
    K8sName(name)
}

/// The name of a workspace's objects: `ws-<user>-<owner>-<repo>-<hash>` for a
/// repository workspace; an instance's id (already a DNS-1035 label) for an instance.
pub fn workspace_name(key: &WorkspaceKey) -> K8sName {
    match &key.kind {
        WorkspaceKind::Repo(repo) => {
            // The canonical (lowercase) spelling: one repository, one name.
            safe_name(
                "ws",
                &[
                    key.user.as_str(),
                    repo.canonical_owner(),
                    repo.canonical_repo(),
                ],
            )
        }
        WorkspaceKind::Instance(id) => K8sName(id.as_str().to_owned()),
    }
}

/// The name of a user's workspace volume: `home-<user>-<hash>`.
pub fn user_volume_name(user: &UserId) -> K8sName {
    safe_name("home", &[user.as_str()])
}

/// Lowercase, runs of anything else folded to one `-`, trimmed, at most `max` chars.
fn slug(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(max);
    for c in s.chars() {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::RepoRef;

    fn key(user: &str, repo: &str) -> WorkspaceKey {
        WorkspaceKey::new(
            UserId::new(user).expect("user"),
            RepoRef::parse(repo).expect("repo"),
        )
    }

    #[test]
    fn names_are_readable_and_deterministic() {
        let n = key("alice", "acme/hello").name();
        assert!(n.as_str().starts_with("ws-alice-acme-hello-"), "{n}");
        assert_eq!(n, key("alice", "acme/hello").name());
    }

    #[test]
    fn names_are_dns1035_even_for_extreme_inputs() {
        let long_user = "U".repeat(128);
        let long_owner = "O".repeat(39);
        let long_repo = "r.".repeat(50);
        for (u, r) in [
            ("alice", "acme/hello"),
            (long_user.as_str(), &format!("{long_owner}/{long_repo}")[..]),
            ("0", "a/_"),
            ("a@b.c", "A-b/.-_"),
        ] {
            let n = key(u, r).name();
            assert!(K8sName::is_dns1035(n.as_str()), "{n}");
            assert!(n.as_str().len() <= MAX_LEN);
        }
    }

    #[test]
    fn one_repository_has_one_name_whatever_its_case() {
        let name = key("alice", "acme/hello").name();
        assert_eq!(key("alice", "Acme/hello").name(), name);
        assert_eq!(key("alice", "ACME/HELLO").name(), name);
        // User ids are exact (they come from the identity provider).
        assert_ne!(key("Alice", "acme/hello").name(), name);
    }

    #[test]
    fn keys_that_slug_alike_get_distinct_names() {
        let keys = [
            key("alice", "acme/hello"),
            key("Alice", "acme/hello"),
            key("alice", "acme/hel.lo"),
            key("alice", "acme/hel-lo"),
            key("alice-acme", "x/hello"),
            key("alice", "acme-x/hello"),
        ];
        let names: HashSet<_> = keys.iter().map(WorkspaceKey::name).collect();
        assert_eq!(names.len(), keys.len());
    }

    #[test]
    fn part_boundaries_matter() {
        assert_ne!(safe_name("ws", &["ab", "c"]), safe_name("ws", &["a", "bc"]));
    }

    #[test]
    fn dns1035_checker_agrees_with_the_rules() {
        for ok in ["a", "ws-a-1", "a1"] {
            assert!(K8sName::is_dns1035(ok));
        }
        for bad in ["", "1a", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!K8sName::is_dns1035(bad), "{bad}");
        }
    }

    #[test]
    fn user_volume_names_are_safe() {
        let n = user_volume_name(&UserId::new("alice@example.com").expect("user"));
        assert!(n.as_str().starts_with("home-alice-example-com-"), "{n}");
    }
}
