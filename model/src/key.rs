//! [`WorkspaceKey`]: the identity of one workspace: whose it is and which one.
//!
//! A person gets one workspace per repository opened at `/github/<owner>/<repo>`
//! ([`WorkspaceKind::Repo`]); two people opening the same repository get two
//! workspaces. Instances made through the management API are keyed by their id
//! ([`WorkspaceKind::Instance`]); they may or may not hold a repository.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{names, InstanceId, K8sName, RepoRef, UserId};

/// One workspace: whose it is and which one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "KeyRepr", into = "KeyRepr")]
pub struct WorkspaceKey {
    /// The owner of the workspace.
    pub user: UserId,
    /// Which of the owner's workspaces.
    pub kind: WorkspaceKind,
}

/// Which of a user's workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkspaceKind {
    /// The workspace of a repository, opened at `/github/<owner>/<repo>`.
    Repo(RepoRef),
    /// An instance made through the management API, opened at `/instances/<id>`.
    Instance(InstanceId),
}

impl WorkspaceKey {
    /// The key of `user`'s workspace of `repo`.
    pub fn new(user: UserId, repo: RepoRef) -> Self {
        Self {
            user,
            kind: WorkspaceKind::Repo(repo),
        }
    }

    /// The key of `user`'s instance `id`.
    pub fn instance(user: UserId, id: InstanceId) -> Self {
        Self {
            user,
            kind: WorkspaceKind::Instance(id),
        }
    }

    /// The repository of a repository workspace (`None` for instances).
    pub fn repo(&self) -> Option<&RepoRef> {
        match &self.kind {
            WorkspaceKind::Repo(repo) => Some(repo),
            WorkspaceKind::Instance(_) => None,
        }
    }

    /// The Kubernetes-safe name of this workspace's objects (and local state file):
    /// `ws-<slug>-<hash>` for repository workspaces, the id for instances.
    pub fn name(&self) -> K8sName {
        names::workspace_name(self)
    }

    /// The public id of this workspace in the management API.
    pub fn id(&self) -> InstanceId {
        match &self.kind {
            WorkspaceKind::Repo(_) => InstanceId::from_name(&self.name()),
            WorkspaceKind::Instance(id) => id.clone(),
        }
    }
}

impl fmt::Display for WorkspaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            WorkspaceKind::Repo(repo) => write!(f, "{}:{repo}", self.user),
            WorkspaceKind::Instance(id) => write!(f, "{}:{id}", self.user),
        }
    }
}

/// The serialized form: `{"user": …, "repo": "o/r"}` or `{"user": …, "instance": "inst-…"}`
/// (the first is what records written before instances existed hold).
#[derive(Serialize, Deserialize)]
struct KeyRepr {
    user: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repo: Option<RepoRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<InstanceId>,
}

impl TryFrom<KeyRepr> for WorkspaceKey {
    type Error = &'static str;
    fn try_from(r: KeyRepr) -> Result<Self, Self::Error> {
        match (r.repo, r.instance) {
            (Some(repo), None) => Ok(Self::new(r.user, repo)),
            (None, Some(id)) => Ok(Self::instance(r.user, id)),
            _ => Err("a workspace key has exactly one of repo and instance"),
        }
    }
}

impl From<WorkspaceKey> for KeyRepr {
    fn from(k: WorkspaceKey) -> Self {
        let (repo, instance) = match k.kind {
            WorkspaceKind::Repo(repo) => (Some(repo), None),
            WorkspaceKind::Instance(id) => (None, Some(id)),
        };
        KeyRepr {
            user: k.user,
            repo,
            instance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId::new("alice").expect("user")
    }

    #[test]
    fn keys_serialize_in_the_record_format() {
        let repo = WorkspaceKey::new(user(), RepoRef::parse("acme/hello").expect("repo"));
        let json = serde_json::to_string(&repo).expect("serializes");
        assert_eq!(json, r#"{"user":"alice","repo":"acme/hello"}"#);
        assert_eq!(
            serde_json::from_str::<WorkspaceKey>(&json).expect("parses"),
            repo
        );
        let inst = WorkspaceKey::instance(user(), InstanceId::from_random([1; 8]));
        let json = serde_json::to_string(&inst).expect("serializes");
        assert_eq!(
            json,
            r#"{"user":"alice","instance":"inst-0101010101010101"}"#
        );
        assert_eq!(
            serde_json::from_str::<WorkspaceKey>(&json).expect("parses"),
            inst
        );
    }

    #[test]
    fn a_key_needs_exactly_one_kind() {
        for bad in [
            r#"{"user":"alice"}"#,
            r#"{"user":"alice","repo":"a/b","instance":"inst-1"}"#,
        ] {
            assert!(serde_json::from_str::<WorkspaceKey>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_names_for_repos_and_ids_for_instances() {
        let repo = WorkspaceKey::new(user(), RepoRef::parse("acme/hello").expect("repo"));
        assert_eq!(repo.id().as_str(), repo.name().as_str());
        let id = InstanceId::from_random([2; 8]);
        let inst = WorkspaceKey::instance(user(), id.clone());
        assert_eq!(inst.id(), id);
        assert_eq!(inst.name().as_str(), id.as_str());
    }
}
