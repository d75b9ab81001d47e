//! The launcher's view of process groups: the shared primitives of
//! [`dcs_os::group`] and [`dcs_os::proc`], with a failed signal logged rather than
//! returned (every caller here would only ignore it).
//!
//! The IDE is started as the leader of its own group, so its pty and file-watcher
//! children share the group id and are found (and stopped) with it.

use nix::sys::signal::Signal;
use tracing::debug;

pub use dcs_os::group::{exists, is_empty, members};
pub use dcs_os::proc::{stat, Stat};

/// Sends `signal` to every process of group `pgid`. A group with no process left is
/// not an error; groups 0 and 1 are never signalled. Other failures are logged.
pub fn signal(pgid: u32, signal: Signal) {
    if let Err(error) = dcs_os::group::signal(pgid, signal) {
        debug!(pgid, %error, ?signal, "signalling the process group failed");
    }
}
