//! Sharing an instance: besides its owner (and the operator's admins), who may open
//! its link. Nobody else may, whatever link or cookie they hold: to them the
//! instance does not exist (404). The owner shares deliberately, by user id or by
//! group, on create or later (`PATCH /api/instances/{id}`).

use serde::{Deserialize, Serialize};

use crate::api::{FieldError, SharedWith};
use crate::UserId;

/// The validated sharing of an instance, recorded in its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sharing {
    /// People (stable user ids) who may open it.
    pub users: Vec<UserId>,
    /// Groups whose members may open it (names exactly as the identity provider sends them).
    pub groups: Vec<String>,
}

impl Sharing {
    /// The most users, and separately the most groups, one instance is shared with.
    pub const MAX: usize = 64;
    /// The longest group name accepted.
    pub const MAX_GROUP: usize = 256;

    /// Shared with nobody.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `user`, a member of `groups`, is one it is shared with.
    pub fn admits(&self, user: &UserId, groups: &[String]) -> bool {
        self.users.contains(user) || self.groups.iter().any(|g| groups.contains(g))
    }

    /// Validates a request's `shared_with`; problems are reported under `field`
    /// (`shared_with.users[1]`). Duplicates are dropped, order kept.
    pub fn from_request(req: &SharedWith, field: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |at: String, message: String| errors.push(FieldError { field: at, message });
        for (list, len) in [("users", req.users.len()), ("groups", req.groups.len())] {
            if len > Self::MAX {
                fail(
                    format!("{field}.{list}"),
                    format!("at most {} entries", Self::MAX),
                );
            }
        }
        let mut users: Vec<UserId> = Vec::new();
        for (i, u) in req.users.iter().enumerate() {
            match UserId::new(u) {
                Ok(u) if !users.contains(&u) => users.push(u),
                Ok(_) => {}
                Err(e) => fail(format!("{field}.users[{i}]"), e.to_string()),
            }
        }
        let mut groups: Vec<String> = Vec::new();
        for (i, g) in req.groups.iter().enumerate() {
            let problem = if g.trim().is_empty() {
                Some("a group name must not be empty")
            } else if g.len() > Self::MAX_GROUP {
                Some("a group name is at most 256 bytes")
            } else if g.chars().any(char::is_control) {
                Some("a group name has no control characters")
            } else if g == "*" {
                Some("'*' is not a group: name the groups to share with")
            } else {
                None
            };
            match problem {
                Some(why) => fail(format!("{field}.groups[{i}]"), why.to_owned()),
                None if !groups.contains(g) => groups.push(g.clone()),
                None => {}
            }
        }
        if errors.is_empty() {
            Ok(Self { users, groups })
        } else {
            Err(errors)
        }
    }

    /// As the API shows it.
    pub fn view(&self) -> SharedWith {
        SharedWith {
            users: self.users.iter().map(ToString::to_string).collect(),
            groups: self.groups.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(users: &[&str], groups: &[&str]) -> SharedWith {
        SharedWith {
            users: users.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn users_and_group_members_are_admitted_and_nobody_else() {
        let s = Sharing::from_request(&req(&["bob", "bob"], &["team-a"]), "shared_with")
            .expect("valid");
        assert_eq!(s.users.len(), 1, "duplicates dropped");
        let bob = UserId::new("bob").expect("u");
        let carol = UserId::new("carol").expect("u");
        assert!(s.admits(&bob, &[]));
        assert!(s.admits(&carol, &["team-a".into()]));
        assert!(!s.admits(&carol, &["team-b".into(), "Team-A".into()]));
        assert!(!Sharing::default().admits(&bob, &["team-a".into()]));
        assert_eq!(s.view(), req(&["bob"], &["team-a"]));
    }

    #[test]
    fn bad_entries_are_named_by_field() {
        let many: Vec<String> = (0..65).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let errs = Sharing::from_request(&req(&refs, &["", "*", "a\nb"]), "shared_with")
            .expect_err("invalid");
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"shared_with.users"), "{fields:?}");
        for f in [
            "shared_with.groups[0]",
            "shared_with.groups[1]",
            "shared_with.groups[2]",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        let errs = Sharing::from_request(&req(&["../root"], &[]), "shared_with").expect_err("bad");
        assert_eq!(errs[0].field, "shared_with.users[0]");
    }
}
