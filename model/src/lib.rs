//! Pure domain types for devcontainer-serverless. No I/O lives here.
//!
//! # Layout
//! - [`repo`]: [`RepoRef`], a validated `owner/repo` following GitHub's naming rules.
//! - [`user`]: [`UserId`], the stable key of a person (safe as a path segment).
//! - [`key`]: [`WorkspaceKey`], one workspace = (user, repo) or (user, instance id).
//! - [`instance`]: [`InstanceId`] and [`InstanceSpec`], what a workspace runs.
//! - [`names`]: Kubernetes-safe, deterministic, collision-free object names.
//! - [`quantity`]: Kubernetes resource quantities, validated and comparable.
//! - [`image`]: container image references (OCI distribution grammar).
//! - [`env`]: the launcher's `DCS_*` environment contract ([`LauncherEnv`]).
//! - [`api`]: management API request types and their validation.
//! - [`plumbing`]: the launcher's `/_dcs/` paths the proxy asks too.
//! - [`credentials`]: a user's own git credentials: API types and the stored form.
//! - [`devcontainer`]: a checkout's `devcontainer.json`: what applies, and [`devcontainer::Mode`].
//! - [`gallery`]: the extension gallery an operator points workspaces at.
//! - [`text`]: which characters of someone else's text must not reach a person as they are.
//! - [`error`]: the crate's single error type.

pub mod api;
pub mod credentials;
pub mod devcontainer;
pub mod env;
pub mod error;
pub mod gallery;
pub mod image;
pub mod instance;
pub mod key;
pub mod names;
pub mod plumbing;
pub mod quantity;
pub mod repo;
pub mod sharing;
pub mod text;
pub mod user;

pub use env::LauncherEnv;
pub use error::{Error, Result};
pub use image::ImageRef;
pub use instance::{InstanceId, InstanceSpec};
pub use key::{WorkspaceKey, WorkspaceKind};
pub use names::K8sName;
pub use quantity::Quantity;
pub use repo::RepoRef;
pub use sharing::Sharing;
pub use user::UserId;
