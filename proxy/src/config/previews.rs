//! Port previews and what never reaches a workspace: how previews are isolated from
//! the proxy's origin (sandboxed, or on their own subdomain) and which credentials
//! stop at the edge.

use clap::Args;

/// Flags for previews and stripped credentials.
#[derive(Debug, Clone, Default, Args)]
pub struct PreviewArgs {}

/// Validated preview settings.
#[derive(Debug, Clone, Default)]
pub struct Previews {}

impl PreviewArgs {
    /// The preview settings, adding every problem to `problems`.
    pub fn validate(&self, _problems: &mut Vec<String>) -> Previews {
        Previews {}
    }
}
