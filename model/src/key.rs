//! [`WorkspaceKey`]: the identity of one workspace, the pair (user, repo).
//!
//! A person gets one workspace per repository; two people opening the same
//! repository get two workspaces.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{names, K8sName, RepoRef, UserId};

/// One workspace: whose it is and which repository it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkspaceKey {
    /// The owner of the workspace.
    pub user: UserId,
    /// The repository checked out in it.
    pub repo: RepoRef,
}

impl WorkspaceKey {
    /// Builds a key.
    pub fn new(user: UserId, repo: RepoRef) -> Self {
        Self { user, repo }
    }

    /// The Kubernetes-safe name of this workspace's objects (and local state file).
    pub fn name(&self) -> K8sName {
        names::workspace_name(self)
    }
}

impl fmt::Display for WorkspaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.user, self.repo)
    }
}
