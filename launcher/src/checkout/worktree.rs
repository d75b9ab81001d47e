//! Writing a fresh clone's working tree with several threads.
//!
//! A first open waits for the clone's files to be written, and creating files is a
//! metadata operation that many volumes serve slowly one at a time (network and
//! cloud block storage, busy disks): on the development machine writing 583 small
//! files took 260–360 ms in one thread and 150–220 ms in four. So [`write`] lets
//! libgit2 check the tree out in parallel: the clone itself writes no files
//! ([`git2::build::CheckoutBuilder::dry_run`]), then [`write`] splits the tree's
//! paths into contiguous chunks, and worker threads, each with its own handle on
//! the repository, check chunks out with libgit2 (filters, symlinks, executable
//! bits and submodule folders exactly as a plain checkout) until none are left.
//! Every `.gitattributes` is written first, so each worker's filters see them.
//! The index is written once at the end, from the tree with each file's `lstat`
//! (what libgit2's own checkout records), so `git status` finds the files clean
//! without hashing them again.
//!
//! It only ever writes into the hidden partial clone, which is the launcher's own
//! until it is renamed into place: forcing the checkout there overwrites nothing of
//! the user's.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use dcs_os::mutex::lock;
use git2::build::CheckoutBuilder;
use git2::{IndexEntry, IndexTime, ObjectType, Oid, Repository, Tree};

/// At most this many worker threads.
const MAX_WORKERS: usize = 8;
/// Paths per chunk at least (fewer chunks only for small trees) and at most.
const CHUNK_MIN: usize = 16;
const CHUNK_MAX: usize = 512;

/// What [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Files (and submodule folders) written.
    pub files: usize,
    /// Threads that wrote them.
    pub workers: usize,
}

/// One path of the tree to be written.
#[derive(Debug, Clone)]
struct Item {
    path: Vec<u8>,
    id: Oid,
    mode: u32,
}

/// Writes the working tree and the index of the repository at `dir` (a fresh
/// clone whose checkout was skipped) from its `HEAD`, in parallel. Stops early,
/// with an error, once `cancel` is set. A repository without commits has nothing
/// to write.
pub fn write(dir: &Path, cancel: &AtomicBool) -> Result<Written, git2::Error> {
    let repo = Repository::open(dir)?;
    let tree = match repo.head() {
        Ok(head) => head.peel_to_tree()?,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
            return Ok(Written {
                files: 0,
                workers: 0,
            })
        }
        Err(e) => return Err(e),
    };
    let mut items = Vec::new();
    collect(&repo, &tree, &mut Vec::new(), &mut items)?;
    let (attributes, rest): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|item| item.path.rsplit(|b| *b == b'/').next() == Some(b".gitattributes"));
    if cancel.load(Ordering::Relaxed) {
        return Err(cancelled());
    }
    let mut entries = check_out(&repo, &tree, &attributes, dir)?;
    let chunks = chunks(&rest);
    let workers = workers().min(chunks.len());
    let tree_id = tree.id();
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<git2::Error>> = Mutex::new(None);
    let written: Mutex<Vec<IndexEntry>> = Mutex::new(Vec::with_capacity(rest.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let outcome = work(dir, tree_id, &chunks, &next, cancel, &failed);
                match outcome {
                    Ok(mut done) => lock(&written).append(&mut done),
                    Err(e) => {
                        lock(&failed).get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&failed).take() {
        return Err(e);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(cancelled());
    }
    entries.append(&mut lock(&written));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut index = repo.index()?;
    index.clear()?;
    for entry in &entries {
        index.add(entry)?;
    }
    index.write()?;
    Ok(Written {
        files: entries.len(),
        workers,
    })
}

/// Every blob and submodule under `tree`, depth first in the tree's order, with
/// `prefix` (ending in `/` unless empty) before its paths.
fn collect(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &mut Vec<u8>,
    out: &mut Vec<Item>,
) -> Result<(), git2::Error> {
    for entry in tree.iter() {
        let len = prefix.len();
        prefix.extend_from_slice(entry.name_bytes());
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                prefix.push(b'/');
                collect(repo, &sub, prefix, out)?;
            }
            _ => out.push(Item {
                path: prefix.clone(),
                id: entry.id(),
                mode: entry.filemode() as u32,
            }),
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Contiguous chunks of `items` (neighbours share folders): about four per
/// worker, within [`CHUNK_MIN`] and [`CHUNK_MAX`] paths.
fn chunks(items: &[Item]) -> Vec<&[Item]> {
    let size = (items.len() / (workers() * 4)).clamp(CHUNK_MIN, CHUNK_MAX);
    items.chunks(size).collect()
}

/// How many threads write: twice the cores (creating files mostly waits), at
/// most [`MAX_WORKERS`].
fn workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).clamp(1, MAX_WORKERS)
}

/// One worker: its own handle on the repository, chunks taken from `next` until
/// none are left, another worker failed, or `cancel` is set.
fn work(
    dir: &Path,
    tree: Oid,
    chunks: &[&[Item]],
    next: &AtomicUsize,
    cancel: &AtomicBool,
    failed: &Mutex<Option<git2::Error>>,
) -> Result<Vec<IndexEntry>, git2::Error> {
    let repo = Repository::open(dir)?;
    let tree = repo.find_tree(tree)?;
    let mut done = Vec::new();
    loop {
        if cancel.load(Ordering::Relaxed) || lock(failed).is_some() {
            return Ok(done);
        }
        let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return Ok(done);
        };
        done.append(&mut check_out(&repo, &tree, chunk, dir)?);
    }
}

/// Checks `items` of `tree` out into `dir` with libgit2 (the index untouched) and
/// returns their index entries.
fn check_out(
    repo: &Repository,
    tree: &Tree<'_>,
    items: &[Item],
    dir: &Path,
) -> Result<Vec<IndexEntry>, git2::Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut options = CheckoutBuilder::new();
    options
        .force()
        .update_index(false)
        .disable_pathspec_match(true);
    for item in items {
        options.path(item.path.clone());
    }
    repo.checkout_tree(tree.as_object(), Some(&mut options))?;
    items.iter().map(|item| entry(dir, item)).collect()
}

/// The index entry of `item` as written under `dir`: its id and mode from the
/// tree, times, device, inode, owner and size from `lstat` (truncated to 32 bits
/// as git stores them).
fn entry(dir: &Path, item: &Item) -> Result<IndexEntry, git2::Error> {
    let path = dir.join(std::ffi::OsStr::from_bytes(&item.path));
    let meta = std::fs::symlink_metadata(&path)
        .map_err(|e| git2::Error::from_str(&format!("checked out {} but {e}", path.display())))?;
    Ok(IndexEntry {
        ctime: IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32),
        mtime: IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32),
        dev: meta.dev() as u32,
        ino: meta.ino() as u32,
        mode: item.mode,
        uid: meta.uid(),
        gid: meta.gid(),
        file_size: meta.size() as u32,
        id: item.id,
        flags: 0,
        flags_extended: 0,
        path: item.path.clone(),
    })
}

fn cancelled() -> git2::Error {
    git2::Error::from_str("the checkout was cancelled")
}

#[cfg(test)]
mod tests;
