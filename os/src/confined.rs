//! Files below a folder that a less-trusted party can write, read and written by
//! a process that can reach more than that party: the proxy keeping a user's git
//! credentials in their workspace volume, which the user's own processes change at
//! will (in local mode every user's volume belongs to the proxy's own OS user).
//!
//! The base folder is trusted: it is opened by path, links in it followed. Every
//! name below it is opened relative to its parent's descriptor, one component at a
//! time and never through a symbolic link (`O_NOFOLLOW`), so a link planted there
//! cannot point the reader at another user's files, at `/dev/zero` or at a FIFO:
//! - [`read_file`] takes a regular file only (`fstat` on the opened descriptor; a
//!   FIFO is opened `O_NONBLOCK`, so it is refused without blocking) and at most
//!   `cap` bytes, never allocating more;
//! - [`make_folders`] makes missing folders `0700` (`mkdirat`);
//! - [`first_link`] names the first link on a path others open by name;
//! - [`socket`] opens a unix socket named in such a folder without following a
//!   link, for connecting to the inode opened;
//! - [`write_private`] makes missing folders `0700` (`mkdirat`) and replaces the
//!   file atomically, owner-only, by a rename inside the folder's descriptor
//!   ([`crate::atomic`]): a link at the final name is replaced, never written
//!   through.
//!
//! What the other party did (a link, a FIFO, a folder where a file belongs, a file
//! over the cap, permissions taken away) is an [`is_refusal`] error of kind
//! `InvalidData`, telling it apart from the machine's own trouble (a full disk, an
//! I/O error); a missing file is `NotFound` as usual. *Does not protect against* a
//! hard link to someone else's file: making one needs a name for that file, which a
//! sandboxed user does not have.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};

/// Reads the regular file `rel` below the trusted folder `base`: at most `cap`
/// bytes, no component a symbolic link (see the module docs).
pub fn read_file(base: &Path, rel: &Path, cap: usize) -> io::Result<Vec<u8>> {
    let (folders, name) = split(rel)?;
    let (dir, shown) = walk(base, &folders, false)?;
    read_regular(dir, name, &shown.join(name), cap)
}

/// Replaces the file `rel` below the trusted folder `base` with `bytes`, owner-only
/// (`0600`) and durably, making missing folders on the way `0700`; no component
/// is followed if it is a symbolic link, and a link at the final name is replaced.
pub fn write_private(base: &Path, rel: &Path, bytes: &[u8]) -> io::Result<()> {
    let (folders, name) = split(rel)?;
    let (dir, shown) = walk(base, &folders, true)?;
    crate::atomic::replace_in(dir.as_fd(), name, bytes, 0o600, true)
        .map_err(|e| denied_is_refused(e, &shown.join(name)))
}

/// The unix socket `path` names, where its folder is trusted but the name in it is
/// not (a sandbox's run folder, which the sandbox writes): opened `O_PATH` without
/// following a link and checked to be a socket. Connect to the path returned
/// (`/proc/self/fd/<n>`, the opened inode itself, whatever the name holds by then)
/// while the descriptor lives. A link or anything else is a refusal; a missing
/// name is `NotFound`.
pub fn socket(path: &Path) -> io::Result<(OwnedFd, PathBuf)> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = open(path, flags, Mode::empty()).map_err(io::Error::from)?;
    let kind = SFlag::from_bits_truncate(fstat(&fd)?.st_mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFLNK {
        return Err(link_refused(path));
    }
    if kind != SFlag::S_IFSOCK {
        return Err(refused(path, "is not a socket"));
    }
    let through = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    Ok((fd, through))
}

/// Makes the folders of `rel` below the trusted folder `base` that are missing
/// (`0700`), refusing any that is a symbolic link or not a folder.
pub fn make_folders(base: &Path, rel: &Path) -> io::Result<()> {
    let (mut folders, last) = split(rel)?;
    folders.push(last);
    walk(base, &folders, true).map(drop)
}

/// The first of `rel`'s components below the trusted folder `base` that is a
/// symbolic link, as a path below `base`; `None` when there is none on the way (a
/// component that does not exist, or is no folder, ends the walk). For paths that
/// something else opens by name (libgit2): say which link to replace.
pub fn first_link(base: &Path, rel: &Path) -> io::Result<Option<PathBuf>> {
    let (mut names, last) = split(rel)?;
    names.push(last);
    match walk(base, &names, false) {
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => match e.get_ref().and_then(|r| r.downcast_ref::<Refused>()) {
            Some(Refused { path, link, .. }) => Ok(link.then(|| path.clone())),
            None => Err(e),
        },
    }
}

/// Whether `error` is this module's refusal of what the less-trusted party put in
/// its folder (a link, not a regular file or folder, over the cap, permissions
/// taken away), rather than the machine's own trouble.
pub fn is_refusal(error: &io::Error) -> bool {
    refused_path(error).is_some()
}

/// The path (below the base) of what a refusal refused: the file, or the folder on
/// the way that is a link or not a folder.
pub fn refused_path(error: &io::Error) -> Option<&Path> {
    let inner = error.get_ref()?.downcast_ref::<Refused>()?;
    Some(&inner.path)
}

/// The error inside an [`is_refusal`] `io::Error`.
#[derive(Debug)]
struct Refused {
    path: PathBuf,
    why: String,
    /// What was refused is a symbolic link.
    link: bool,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path.display(), self.why)
    }
}

impl std::error::Error for Refused {}

fn refused(shown: &Path, why: &str) -> io::Error {
    refusal(shown, why, false)
}

fn link_refused(shown: &Path) -> io::Error {
    refusal(shown, "is a symbolic link; it is not followed", true)
}

fn refusal(shown: &Path, why: &str, link: bool) -> io::Error {
    let refused = Refused {
        path: shown.to_path_buf(),
        why: why.to_owned(),
        link,
    };
    io::Error::new(io::ErrorKind::InvalidData, refused)
}

/// The folders and the file name of `rel`: plain names only.
fn split(rel: &Path) -> io::Result<(Vec<&OsStr>, &OsStr)> {
    let mut names = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(name) => names.push(name),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a relative path of plain names", rel.display()),
                ))
            }
        }
    }
    let name = names
        .pop()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    Ok((names, name))
}

/// Opens `base` (trusted), then each of `folders` below it without following links
/// (made `0700` if missing and `create`); the last one and its path below `base`.
fn walk(base: &Path, folders: &[&OsStr], create: bool) -> io::Result<(OwnedFd, PathBuf)> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir = open(base, flags, Mode::empty())?;
    let mut shown = PathBuf::new();
    for name in folders {
        shown.push(name);
        dir = open_folder(&dir, name, &shown, create)?;
    }
    Ok((dir, shown))
}

/// Opens the folder `name` in `parent`, refusing a link or anything but a folder;
/// made `0700` first if missing and `create`.
fn open_folder(parent: &OwnedFd, name: &OsStr, shown: &Path, create: bool) -> io::Result<OwnedFd> {
    let opened = match openat(parent, name, FOLDER, Mode::empty()) {
        Err(Errno::ENOENT) if create => {
            match mkdirat(parent, name, Mode::S_IRWXU) {
                // Made meanwhile: opened below like any other.
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(denied_is_refused(e.into(), shown)),
            }
            openat(parent, name, FOLDER, Mode::empty())
        }
        other => other,
    };
    opened.map_err(|e| match e {
        // `O_DIRECTORY | O_NOFOLLOW` answers ENOTDIR for a link too: say which.
        Errno::ENOTDIR | Errno::ELOOP if is_link(parent, name) => link_refused(shown),
        Errno::ENOTDIR | Errno::ELOOP => refused(shown, "is not a folder"),
        e => denied_is_refused(e.into(), shown),
    })
}

/// How a folder below the base is opened: never through a link.
const FOLDER: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Whether `name` in `parent` is a symbolic link (`O_DIRECTORY | O_NOFOLLOW`
/// answers a link and a file alike).
fn is_link(parent: &OwnedFd, name: &OsStr) -> bool {
    fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

/// Reads the regular file `name` in `dir`, at most `cap` bytes.
fn read_regular(dir: OwnedFd, name: &OsStr, shown: &Path, cap: usize) -> io::Result<Vec<u8>> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = openat(&dir, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP => link_refused(shown),
        // A unix socket.
        Errno::ENXIO => refused(shown, "is not a regular file"),
        e => denied_is_refused(e.into(), shown),
    })?;
    drop(dir);
    let mut file = File::from(fd);
    // `fstat` of what was opened: the name may have changed since.
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refused(shown, "is not a regular file"));
    }
    let too_large = || refused(shown, &format!("is larger than {cap} bytes"));
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if len > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // It grew since the `fstat`: still never past the cap.
        if bytes.len() + n > cap {
            return Err(too_large());
        }
        bytes.reserve_exact(n);
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// Failures only the other party can have caused below the base: permissions taken
/// away (its processes run as the same OS user as the writer, who gave them), a
/// folder where the file belongs.
fn denied_is_refused(error: io::Error, shown: &Path) -> io::Error {
    match error.kind() {
        io::ErrorKind::PermissionDenied => refused(
            shown,
            "cannot be opened: permission denied (its permissions were changed)",
        ),
        io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => {
            refused(shown, "is a folder, not a file")
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests;
