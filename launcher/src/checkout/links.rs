//! The checkout step's refusal to follow links below the workspaces folder. The
//! step (`dcs-launcher checkout`: Knative's init container, or on a machine several
//! users share the proxy's own step before the sandbox starts) runs outside the
//! workspace, with the operator's token; on a shared machine it can reach every
//! user's volume. A link the workspace's own code planted at the owner's folder, the
//! checkout or the config folder (`acme -> /other/volume/acme`) would have it clone
//! into, fetch into, or write the trust folder into someone else's files. Such a
//! path is refused, saying which link to replace; a launcher's own checkout, inside
//! the workspace, sees only what the workspace may see, and follows links as usual.
//!
//! The step checks before it takes the checkout lock (whose file lies in the owner's
//! folder), and its transfer child once more with the lock held, right before it
//! clones or opens the checkout ([`super::Job::confined`]); the child also refuses a
//! `.git` that leads elsewhere ([`super::gitdir`]).

use std::io;
use std::path::Path;

use dcs_model::LauncherEnv;

use crate::error::{Error, FailureKind, Result};

/// Refuses `env`'s checkout and config folders if a component of either, below
/// the workspaces folder, is a symbolic link ([`dcs_os::confined::first_link`]).
/// Missing components are fine (they are made as folders).
pub fn refuse_links(env: &LauncherEnv) -> Result<()> {
    for path in [env.checkout_dir(), env.config_dir()] {
        refuse_links_below(&env.workspaces_dir, &path)?;
    }
    Ok(())
}

/// Refuses `path` if a component of it below `base` is a symbolic link; a path
/// outside `base` is not looked at (a folder of its own, a mounted volume).
pub fn refuse_links_below(base: &Path, path: &Path) -> Result<()> {
    let Ok(below) = path.strip_prefix(base) else {
        return Ok(());
    };
    match dcs_os::confined::first_link(base, below) {
        Ok(Some(found)) => Err(link(&base.join(found))),
        Ok(None) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()), // no volume yet
        Err(e) => Err(Error::io(format!("inspecting {}", base.display()), e)),
    }
}

fn link(at: &Path) -> Error {
    Error::Checkout {
        kind: FailureKind::Refused,
        message: format!(
            "{} is a symbolic link: the checkout runs outside the workspace and does not \
             follow links there; nothing was changed. Replace it with a folder (move what \
             it points at into its place)",
            at.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcs_model::RepoRef;

    fn env(workspaces: &Path) -> LauncherEnv {
        let mut env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
        env.workspaces_dir = workspaces.to_path_buf();
        env
    }

    #[test]
    fn a_link_on_the_way_to_the_checkout_or_the_config_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let (ws, other) = (root.path().join("alice"), root.path().join("bob"));
        std::fs::create_dir_all(other.join("acme/hello")).expect("mkdir");
        std::fs::create_dir_all(&ws).expect("mkdir");
        assert!(refuse_links(&env(&ws)).is_ok(), "nothing there yet");

        std::os::unix::fs::symlink(other.join("acme"), ws.join("acme")).expect("symlink");
        let err = refuse_links(&env(&ws)).expect_err("the owner's folder is a link");
        assert_eq!(err.failure_kind(), FailureKind::Refused);
        assert!(err.to_string().contains("acme is a symbolic link"), "{err}");

        std::fs::remove_file(ws.join("acme")).expect("rm");
        std::fs::create_dir(ws.join("acme")).expect("mkdir");
        std::os::unix::fs::symlink(other.join("acme/hello"), ws.join("acme/hello"))
            .expect("symlink");
        assert!(
            refuse_links(&env(&ws)).is_err(),
            "the checkout itself is a link"
        );

        std::fs::remove_file(ws.join("acme/hello")).expect("rm");
        std::fs::create_dir(ws.join("acme/hello")).expect("mkdir");
        assert!(refuse_links(&env(&ws)).is_ok(), "folders all the way");
        std::os::unix::fs::symlink(other.join(".dcs"), ws.join(".dcs")).expect("symlink");
        assert!(
            refuse_links(&env(&ws)).is_err(),
            "the config folder is a link"
        );
    }
}
