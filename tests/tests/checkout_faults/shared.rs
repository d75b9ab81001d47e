//! Two starts sharing one checkout folder: which requests cloned, and whether the
//! checkout is still shallow.

use std::path::Path;

use dcs_e2e::git_server::Negotiation;
use dcs_e2e::GitServer;

/// The upload-pack requests the server saw that cloned (wanted objects, had none),
/// and what every upload-pack request asked for (for a failure message). A fetch
/// into the shared checkout (the other start's, or the background one completing a
/// shallow clone's history) is not a clone.
pub fn clones(git: &GitServer) -> (usize, Vec<Negotiation>) {
    let requests = git.requests();
    let clones = requests.iter().filter(|r| r.is_clone()).count();
    let asked = requests.into_iter().filter_map(|r| r.negotiation).collect();
    (clones, asked)
}

/// Whether the checkout at `dir` is shallow (as the launcher and git see it).
pub fn shallow(dir: &Path) -> bool {
    std::fs::metadata(dir.join(".git/shallow")).is_ok_and(|m| m.len() > 0)
}
