//! `.tar.gz` extraction in pure Rust (no `tar` needed in the image). Entries that
//! would land outside the target folder (absolute paths, `..`) are refused by the
//! `tar` crate's `unpack_in`; permissions (the executable bit) are kept.

use std::fs::File;
use std::io;
use std::path::Path;

use flate2::read::GzDecoder;

/// Unpacks `archive` into `into` (created).
pub fn tar_gz(archive: &Path, into: &Path) -> io::Result<()> {
    std::fs::create_dir_all(into)?;
    let mut tar = tar::Archive::new(GzDecoder::new(File::open(archive)?));
    tar.set_preserve_permissions(true);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !entry.unpack_in(into)? {
            let path = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the archive entry {path:?} points outside the install folder"),
            ));
        }
    }
    Ok(())
}
