//! The checkout folder as spelled on disk. Owners and repositories are
//! case-insensitive (`Acme/Hello` and `acme/hello` are one workspace), and the
//! folder is named as the workspace was first opened. A later start spelled
//! otherwise — after a delete, which keeps the files, or from another runtime's
//! record — must find that folder, not clone a second copy beside it while the
//! user's work sits unseen in the first. [`as_on_disk`] takes the spelling of the
//! folder that is there, so the checkout, its expected `origin` and the IDE's folder
//! all agree with it.

use std::path::Path;

use dcs_model::{LauncherEnv, RepoRef};

/// `env` with its repository spelled as the folder already on the volume is, when
/// the folder named as given is missing and exactly one spelling of it is there.
/// Links are never followed (only real folders count); anything unreadable or
/// ambiguous leaves `env` as it was. Blocking: reads the volume's folders.
pub fn as_on_disk(mut env: LauncherEnv) -> LauncherEnv {
    let Some(repo) = env.repo.clone() else {
        return env;
    };
    if env.checkout_dir().symlink_metadata().is_ok() {
        return env;
    }
    let Some(owner) = folder_spelled(&env.workspaces_dir, repo.owner()) else {
        return env;
    };
    let Some(name) = folder_spelled(&env.workspaces_dir.join(&owner), repo.repo()) else {
        return env;
    };
    if let Ok(found) = RepoRef::new(&owner, &name) {
        if (found.owner(), found.repo()) != (repo.owner(), repo.repo()) {
            tracing::info!(
                given = %format_args!("{}/{}", repo.owner(), repo.repo()),
                on_disk = %format_args!("{owner}/{name}"),
                "the workspace's folder is spelled otherwise on disk; using it"
            );
        }
        env.repo = Some(found);
    }
    env
}

/// The one entry of folder `dir` that is a real folder named `name` up to ASCII
/// case: `name` itself when that exists, else the single other spelling; `None` when
/// there is none, several, or `dir` cannot be read.
fn folder_spelled(dir: &Path, name: &str) -> Option<String> {
    if dir.join(name).symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Some(name.to_owned());
    }
    let mut found = None;
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let Some(spelled) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !spelled.eq_ignore_ascii_case(name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if found.replace(spelled).is_some() {
            return None;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_for(dir: &Path, repo: &str) -> LauncherEnv {
        let mut env = LauncherEnv::new(RepoRef::parse(repo).expect("repo"));
        env.workspaces_dir = dir.to_path_buf();
        env
    }

    fn spelled(env: &LauncherEnv) -> String {
        let repo = env.repo.as_ref().expect("repo");
        format!("{}/{}", repo.owner(), repo.repo())
    }

    #[test]
    fn an_existing_folder_keeps_its_spelling_for_every_later_spelling() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("Acme/Hello")).expect("mkdir");
        let env = as_on_disk(env_for(dir.path(), "acme/hello"));
        assert_eq!(spelled(&env), "Acme/Hello");
        assert_eq!(env.checkout_dir(), dir.path().join("Acme/Hello"));
        // As given when that folder is there, or when nothing is.
        assert_eq!(
            spelled(&as_on_disk(env_for(dir.path(), "Acme/Hello"))),
            "Acme/Hello"
        );
        assert_eq!(
            spelled(&as_on_disk(env_for(dir.path(), "acme/other"))),
            "acme/other"
        );
    }

    #[test]
    fn links_and_several_spellings_change_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("bob/hello")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path().join("bob"), dir.path().join("Acme")).expect("link");
        assert_eq!(
            spelled(&as_on_disk(env_for(dir.path(), "acme/hello"))),
            "acme/hello"
        );
        std::fs::create_dir_all(dir.path().join("Team/Hello")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("TEAM/hello")).expect("mkdir");
        assert_eq!(
            spelled(&as_on_disk(env_for(dir.path(), "team/hello"))),
            "team/hello"
        );
    }
}
