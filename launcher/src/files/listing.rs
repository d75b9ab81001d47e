//! Directory listings: reading a directory into sorted [`Entry`] values and rendering
//! them as the JSON form of the file API. A listing holds at most [`MAX_ENTRIES`]
//! (the first the filesystem lists, sorted) and counts the rest without reading
//! them: a folder of a million files (a cache, a dataset) is one click away, and
//! its whole listing would take the launcher's memory with it.
//!
//! A name is bytes, not necessarily UTF-8: each entry has it twice, lossily decoded
//! for people (`name`) and percent-encoded from its bytes as a link (`href`), which
//! reaches that very file.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::page::encode_segment;
use crate::error::{Error, Result};

/// What a directory entry is. Symbolic links are reported as such, not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A directory (sorted first).
    Dir,
    /// A regular file (or anything that is neither a directory nor a link).
    File,
    /// A symbolic link.
    Symlink,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The entry's name, for people (lossily decoded if it is not UTF-8).
    pub name: String,
    /// The link to the entry relative to its folder's listing: the name's bytes
    /// percent-encoded, with a `/` after a directory's ([`href`]).
    pub href: String,
    /// What it is.
    pub kind: Kind,
    /// Size in bytes (of the link itself for symbolic links).
    pub size: u64,
    /// Last modification, unix seconds, when the filesystem knows it.
    pub modified: Option<u64>,
}

/// Marks the temporary files of uploads in progress; they are not listed.
pub const UPLOAD_MARK: &str = ".dcs-upload-";

/// The most entries a listing holds.
pub const MAX_ENTRIES: usize = 10_000;
/// The most entries counted past those held.
pub const MAX_COUNTED: usize = 1_000_000;

/// A directory's entries, at most [`MAX_ENTRIES`].
#[derive(Debug, Default)]
pub struct Listing {
    /// Directories first, then everything else, each group by name.
    pub entries: Vec<Entry>,
    /// How many more the directory has (counted up to [`MAX_COUNTED`]).
    pub more: usize,
}

/// Reads `dir` (see [`Listing`]).
pub async fn read_dir(dir: &Path, shown: &str) -> Result<Listing> {
    let io = |e| Error::io(format!("listing {shown}"), e);
    let mut reader = tokio::fs::read_dir(dir).await.map_err(io)?;
    let mut entries = Vec::new();
    let mut more = 0;
    while let Some(entry) = reader.next_entry().await.map_err(io)? {
        let raw = entry.file_name();
        let name = raw.to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(UPLOAD_MARK) {
            continue;
        }
        if entries.len() == MAX_ENTRIES {
            more += 1;
            if more == MAX_COUNTED {
                break;
            }
            continue;
        }
        // DirEntry::metadata does not follow symbolic links.
        let Ok(meta) = entry.metadata().await else {
            continue; // vanished since read_dir saw it
        };
        let kind = if meta.is_symlink() {
            Kind::Symlink
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        entries.push(Entry {
            name,
            href: href(&raw, kind),
            kind,
            size: meta.len(),
            modified,
        });
    }
    // Two names may read the same once decoded (`caf\xE9`, `caf\xE8`): their links
    // order them.
    entries.sort_by(|a, b| {
        (a.kind != Kind::Dir, &a.name, &a.href).cmp(&(b.kind != Kind::Dir, &b.name, &b.href))
    });
    Ok(Listing { entries, more })
}

/// The relative link to an entry named `raw` (its bytes percent-encoded), ending in
/// `/` for a directory.
pub fn href(raw: &OsStr, kind: Kind) -> String {
    let mut out = encode_segment(raw.as_bytes());
    if kind == Kind::Dir {
        out.push('/');
    }
    out
}

/// The JSON listing: `{"path": "/sub/", "entries": [...], "more": 0}`, each entry
/// `{"name", "href", "kind", "size", "modified"}`.
pub fn to_json(shown: &str, listing: &Listing) -> serde_json::Value {
    serde_json::json!({ "path": shown, "entries": listing.entries, "more": listing.more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn directories_come_first_then_names_and_upload_temps_are_hidden() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.txt"), "bb").expect("write");
        std::fs::write(dir.path().join("a.txt"), "a").expect("write");
        std::fs::create_dir(dir.path().join("zdir")).expect("mkdir");
        std::fs::write(dir.path().join(".x.dcs-upload-1"), "").expect("write");
        std::os::unix::fs::symlink("a.txt", dir.path().join("link")).expect("symlink");

        let listing = read_dir(dir.path(), "/").await.expect("list");
        let entries = &listing.entries;
        let names: Vec<(&str, Kind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            names,
            [
                ("zdir", Kind::Dir),
                ("a.txt", Kind::File),
                ("b.txt", Kind::File),
                ("link", Kind::Symlink)
            ]
        );
        assert_eq!(entries[2].size, 2);
        assert!(entries[1].modified.is_some());
        let json = to_json("/", &listing);
        assert_eq!(json["entries"][0]["kind"], "dir");
        assert_eq!(json["entries"][0]["href"], "zdir/");
        assert_eq!(json["entries"][1]["href"], "a.txt");
        assert_eq!(json["path"], "/");
        assert_eq!(json["more"], 0);
    }

    #[tokio::test]
    async fn names_that_are_not_utf8_are_shown_lossily_and_linked_by_their_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        for raw in [&b"caf\xe9.txt"[..], b"caf\xe8.txt", b"caf\xc3\xa9.txt"] {
            std::fs::write(dir.path().join(OsStr::from_bytes(raw)), raw).expect("write");
        }
        std::fs::create_dir(dir.path().join(OsStr::from_bytes(b"d\xff"))).expect("mkdir");
        let listing = read_dir(dir.path(), "/").await.expect("list");
        let seen: Vec<(&str, &str)> = listing
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.href.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("d\u{fffd}", "d%FF/"),
                ("café.txt", "caf%C3%A9.txt"),
                ("caf\u{fffd}.txt", "caf%E8.txt"),
                ("caf\u{fffd}.txt", "caf%E9.txt"),
            ]
        );
        let json = to_json("/", &listing);
        assert_eq!(json["entries"][3]["href"], "caf%E9.txt");
        assert_eq!(json["entries"][3]["name"], "caf\u{fffd}.txt");
    }

    #[tokio::test]
    async fn a_huge_folder_is_listed_in_part_and_the_rest_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..MAX_ENTRIES + 7 {
            std::fs::File::create(dir.path().join(format!("f{i}"))).expect("create");
        }
        let listing = read_dir(dir.path(), "/").await.expect("list");
        assert_eq!(listing.entries.len(), MAX_ENTRIES);
        assert_eq!(listing.more, 7);
        let json = to_json("/", &listing);
        assert_eq!(json["more"], 7);
    }
}
