//! The bundle as OpenSSL's hashed certificate folder (`SSL_CERT_DIR`), for libgit2 in
//! the transfer child. OpenSSL reads a certificate *file* whole when libgit2 starts —
//! every transfer, HTTPS or not, ~20 ms for ~170 roots with OpenSSL 3 — but a folder
//! only for the issuers a verification asks for, each in `<subject hash>.<n>`
//! ([`super::subject_hash`]). With the folder, `SSL_CERT_FILE` names an empty file
//! ([`EMPTY`]): it has to exist, or git2's start-up (`openssl-probe`) replaces it
//! with the system's bundle.
//!
//! The folder is named by its content (`hashed-<digest>`), so launchers of different
//! images sharing one volume never replace each other's; it is made once per volume
//! and bundle, after the first start is ready
//! ([`super::make_folder_for_next_start`]: that start's transfers read the file),
//! and checked (every file's content, and nothing more) before it is used. A
//! half-written folder never carries the final name: it is written under a
//! temporary one and renamed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::subject_hash::subject_hash;
use super::{pem_encode, Bundle, TrustError};

/// The empty certificate file named by `SSL_CERT_FILE` beside the folder.
pub const EMPTY: &str = "none.pem";

/// A complete folder of the bundle, and the empty file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// `<trust>/hashed-<digest>`.
    pub dir: PathBuf,
    /// `<trust>/none.pem`.
    pub empty: PathBuf,
}

/// The folder of `bundle` under `trust_dir` if it is there whole and unchanged:
/// every certificate's file with exactly its PEM (the volume is the workspace
/// user's: a certificate put there by hand must not be trusted by the next
/// transfer), and the empty file.
pub fn ready(bundle: &Bundle, trust_dir: &Path) -> Option<Folder> {
    let dir = dir_of(bundle, trust_dir);
    if !dir.is_dir() {
        // The usual answer on a volume's first start: nothing more to compute.
        return None;
    }
    let files = files_of(bundle);
    let empty = trust_dir.join(EMPTY);
    let whole = is_empty_file(&empty)
        && files
            .iter()
            .all(|(name, pem)| std::fs::read(dir.join(name)).is_ok_and(|b| b == pem.as_bytes()))
        && std::fs::read_dir(&dir).is_ok_and(|d| d.count() == files.len());
    whole.then_some(Folder { dir, empty })
}

/// Writes the folder of `bundle` under `trust_dir` (replacing an incomplete one)
/// and the empty file.
pub fn make(bundle: &Bundle, trust_dir: &Path) -> Result<Folder, TrustError> {
    let (dir, files) = (dir_of(bundle, trust_dir), files_of(bundle));
    let failed = |what: &Path, e: std::io::Error| {
        TrustError(format!(
            "writing the certificate folder {}: {e}",
            what.display()
        ))
    };
    let empty = empty_file(trust_dir)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = trust_dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir(&temp).map_err(|e| failed(&temp, e))?;
    let written = files
        .iter()
        .try_for_each(|(name, pem)| std::fs::write(temp.join(name), pem))
        .map_err(|e| failed(&temp, e));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(e);
    }
    if dir.exists() {
        // Incomplete (or another launcher just finished it): ours replaces it whole.
        let stale = temp.with_extension("stale");
        if std::fs::rename(&dir, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }
    if let Err(e) = std::fs::rename(&temp, &dir) {
        let _ = std::fs::remove_dir_all(&temp);
        if ready(bundle, trust_dir).is_none() {
            return Err(failed(&dir, e));
        }
    }
    Ok(Folder { dir, empty })
}

/// `<trust_dir>/none.pem` ([`EMPTY`]), made (with `trust_dir`) unless it is an empty
/// plain file already: what `SSL_CERT_FILE` names when OpenSSL is to read no file.
pub fn empty_file(trust_dir: &Path) -> Result<PathBuf, TrustError> {
    let empty = trust_dir.join(EMPTY);
    if !is_empty_file(&empty) {
        std::fs::create_dir_all(trust_dir)
            .and_then(|()| dcs_os::atomic::replace_atomic(&empty, b""))
            .map_err(|e| {
                TrustError(format!(
                    "writing the empty certificate file {}: {e}",
                    empty.display()
                ))
            })?;
    }
    Ok(empty)
}

/// Whether `path` is an empty plain file, not a symlink (which could later lead to
/// a file with certificates in it).
fn is_empty_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file() && m.len() == 0)
}

/// The folder's path: named by a digest of the bundle's certificates.
fn dir_of(bundle: &Bundle, trust_dir: &Path) -> PathBuf {
    let mut digest = Sha256::new();
    for der in bundle.certificates() {
        digest.update((der.len() as u64).to_be_bytes());
        digest.update(der);
    }
    let hex: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    trust_dir.join(format!("hashed-{hex}"))
}

/// The folder's files (name, PEM): `<hash>.<n>`, `n` counting certificates whose
/// subjects share a hash, in the bundle's order. A certificate whose subject does
/// not parse has no file (OpenSSL could not look it up either).
fn files_of(bundle: &Bundle) -> Vec<(String, String)> {
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut files = Vec::with_capacity(bundle.len());
    for der in bundle.certificates() {
        let Some(hash) = subject_hash(der) else {
            continue;
        };
        let n = seen.entry(hash).or_default();
        let mut pem = String::new();
        pem_encode(der, &mut pem);
        files.push((format!("{hash:08x}.{n}"), pem));
        *n += 1;
    }
    files
}

#[cfg(test)]
mod tests;
