//! What an existing checkout's git folder must be before a fetch writes into it,
//! and the clean-up a fetch needs first. The fetch runs with the operator's token,
//! and in the checkout step outside the workspace (see [`super::links`]); libgit2
//! follows whatever the checkout says its repository is. A `.git` that is a
//! symbolic link, or a file (`gitdir: /elsewhere`, as a worktree or submodule has),
//! or a git folder with a `commondir` file (a linked worktree) would have it fetch
//! into another repository, someone else's on a machine several users share; a link
//! where the fetch writes (`objects/`, `objects/pack/`, anything in `refs/` or
//! `logs/`, `FETCH_HEAD`, `packed-refs`, `shallow`) would have it write, or append
//! its reflog lines, there. Such a checkout is refused, nothing touched, saying what
//! to replace. Links elsewhere in the git folder (`hooks`, say) are the user's
//! business: a fetch does not touch them.
//!
//! [`remove_pack_temporaries`]: a transfer killed mid-fetch (a git limit, a stop)
//! leaves libgit2's partial pack (`objects/pack/pack_git2_*`, as large as what had
//! arrived) behind for good; with the checkout lock held, before a fetch, they are
//! removed (those names only).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::info;

use crate::error::{Error, FailureKind, Result};

/// The prefix of libgit2's temporary pack files (`git_indexer`'s `mkstemp`).
pub const PACK_TEMPORARY: &str = "pack_git2_";

/// Top-level entries of the git folder a fetch writes (or appends) to.
const WRITTEN: [&str; 6] = [
    "objects",
    "refs",
    "logs",
    "FETCH_HEAD",
    "packed-refs",
    "shallow",
];

/// Refuses the existing checkout `target` if its `.git` is anything but a folder
/// (a symbolic link, a `gitdir:` file): before libgit2 opens it, which would follow
/// it. A missing `.git` is left to libgit2 (not a repository, or a bare one).
pub fn refuse_foreign_dot_git(target: &Path) -> Result<()> {
    let dot_git = target.join(".git");
    match fs::symlink_metadata(&dot_git) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("inspecting {}", dot_git.display()), e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(refused(&dot_git, "is a symbolic link", "a folder"))
        }
        Ok(meta) if meta.is_file() => Err(refused(
            &dot_git,
            "is a file naming a git folder elsewhere (a worktree's or submodule's `gitdir:`)",
            "the repository's own .git folder",
        )),
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(refused(&dot_git, "is not a folder", "a folder")),
    }
}

/// The git folder of `repo`, opened at the existing checkout `target`, refused
/// (see the module docs) unless it is `target/.git` (or `target`, bare), is not a
/// linked worktree, and has no link where the fetch writes. Blocking.
pub fn checked(target: &Path, repo: &git2::Repository) -> Result<PathBuf> {
    let git_dir = repo.path().to_path_buf();
    let canonical = |p: &Path| fs::canonicalize(p).ok();
    let own = [target.join(".git"), target.to_path_buf()]
        .iter()
        .any(|p| canonical(p).is_some_and(|p| Some(p) == canonical(&git_dir)));
    if !own {
        return Err(refused(
            &target.join(".git"),
            &format!("leads to a git folder elsewhere ({})", git_dir.display()),
            "the repository's own .git folder",
        ));
    }
    let commondir = git_dir.join("commondir");
    let shared = canonical(repo.commondir()) != canonical(&git_dir);
    if shared || repo.is_worktree() || fs::symlink_metadata(&commondir).is_ok() {
        return Err(refused(
            &commondir,
            "makes this a linked worktree of another repository",
            "a clone of its own",
        ));
    }
    for name in WRITTEN {
        first_link(&git_dir.join(name), name != "objects")?;
    }
    // The object folders (fan-out `00`…`ff`, `pack`, `info`), not the objects.
    let objects = git_dir.join("objects");
    match fs::read_dir(&objects) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| listing(&objects, e))?;
                let kind = entry.file_type().map_err(|e| listing(&objects, e))?;
                if kind.is_symlink() {
                    return Err(link(&entry.path()));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(listing(&objects, e)),
    }
    Ok(git_dir)
}

/// Refuses `path` if it is a symbolic link or (`deep`) a folder with one below it.
fn first_link(path: &Path, deep: bool) -> Result<()> {
    let mut todo = vec![path.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("inspecting {}", path.display()), e)),
        };
        if meta.file_type().is_symlink() {
            return Err(link(&path));
        }
        if deep && meta.is_dir() {
            for entry in fs::read_dir(&path).map_err(|e| listing(&path, e))? {
                todo.push(entry.map_err(|e| listing(&path, e))?.path());
            }
        }
    }
    Ok(())
}

/// Removes libgit2's temporary pack files from `git_dir/objects/pack` (a folder
/// [`checked`] found no link at): regular files named `pack_git2_*`, nothing else.
/// Call it only with the checkout lock held. Returns what it removed. Blocking.
pub fn remove_pack_temporaries(git_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let pack = git_dir.join("objects").join("pack");
    let entries = match fs::read_dir(&pack) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let temporary = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.len() > PACK_TEMPORARY.len() && n.starts_with(PACK_TEMPORARY));
        if !temporary || !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let size = entry.metadata().map_or(0, |m| m.len());
        match fs::remove_file(&path) {
            Ok(()) => {
                info!(path = %path.display(), size, "removed a partial pack an interrupted fetch left");
                removed.push(path);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

fn listing(dir: &Path, e: io::Error) -> Error {
    Error::io(format!("reading {}", dir.display()), e)
}

fn link(at: &Path) -> Error {
    refused(at, "is a symbolic link", "what it points at (a copy)")
}

fn refused(at: &Path, what: &str, instead: &str) -> Error {
    Error::Checkout {
        kind: FailureKind::Refused,
        message: format!(
            "{} {what}: the checkout fetches with the operator's git token and does not \
             write into a repository through it; nothing was changed. Replace it with {instead}",
            at.display()
        ),
    }
}

#[cfg(test)]
mod tests;
