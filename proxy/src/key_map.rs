//! [`KeyMap`]: the map from a workspace to what this proxy knows of it, for the maps
//! looked up on every request (its upstream, its activity, an idle stop's note) and
//! the progress pages' board.
//!
//! std's default hasher (SipHash-1-3) costs ~400 instructions per look-up of a
//! [`WorkspaceKey`] (three strings); foldhash, hashbrown's own default, costs a
//! fraction of that. It is seeded at random per process, so colliding keys cannot
//! be chosen from outside; and the keys are workspaces that passed routing, policy
//! and the repository check, whose number the quotas bound.

use std::collections::HashMap;

use dcs_model::WorkspaceKey;

/// A map keyed by workspace, hashed with foldhash.
pub type KeyMap<V> = HashMap<WorkspaceKey, V, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use dcs_model::{RepoRef, UserId};

    use super::*;

    #[test]
    fn workspaces_are_told_apart_by_user_and_repository() {
        let key = |user: &str, repo: &str| {
            WorkspaceKey::new(
                UserId::new(user).expect("user"),
                RepoRef::parse(repo).expect("repo"),
            )
        };
        let mut map = KeyMap::default();
        map.insert(key("alice", "acme/hello"), 1);
        map.insert(key("bob", "acme/hello"), 2);
        map.insert(key("alice", "acme/hell"), 3);
        map.insert(key("alice", "acmeh/ello"), 4);
        assert_eq!(map.len(), 4);
        assert_eq!(map.get(&key("alice", "acme/hello")), Some(&1));
        assert_eq!(map.get(&key("bob", "acme/hello")), Some(&2));
        assert_eq!(map.get(&key("alice", "acmeh/ello")), Some(&4));
        assert_eq!(map.get(&key("carol", "acme/hello")), None);
    }
}
