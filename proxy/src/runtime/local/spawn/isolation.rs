//! How launchers are kept apart: the hop secret, the sandbox and its way out.

use std::path::PathBuf;
use std::sync::Arc;

use crate::egress::Egress;
use crate::hop::HopKey;

use super::super::sandbox::System;

/// How launchers are kept apart: the hop secret, and the sandbox (if any).
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The proxy's hop secret; each launcher gets its workspace's credential.
    pub hop: HopKey,
    /// Run every launcher in a bubblewrap sandbox.
    pub sandbox: Option<SandboxConfig>,
    /// A sandboxed workspace's way out: the forward proxy served on its run
    /// folder's `egress.sock` (see [`super::super::egress_socket`]).
    pub egress: Option<Arc<Egress>>,
}

/// The sandbox's settings.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The `bwrap` executable.
    pub bwrap: PathBuf,
    /// util-linux's `setsid`, which starts `bwrap` in a session of its own.
    pub setsid: PathBuf,
    /// The host's system folders.
    pub system: System,
    /// Secret files to mask should they lie under a bound folder.
    pub hidden: Vec<PathBuf>,
}
