//! The edge's own rules: which origins and hosts count as this proxy's own
//! (cross-site requests and DNS rebinding), and how much one user and everyone
//! together may start at once.

use clap::Args;

/// Flags for the edge rules.
#[derive(Debug, Clone, Default, Args)]
pub struct EdgeArgs {}

/// Validated edge rules.
#[derive(Debug, Clone, Default)]
pub struct Edge {}

impl EdgeArgs {
    /// The edge rules, adding every problem to `problems`.
    pub fn validate(&self, _problems: &mut Vec<String>) -> Edge {
        Edge {}
    }
}
