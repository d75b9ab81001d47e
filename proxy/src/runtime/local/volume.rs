//! The local runtime's measure of a user's workspace volume: disk usage under
//! their workspaces directory, bounded.

/// Most directory entries [`crate::runtime::Runtime::volume`] visits before giving up on a figure.
pub const MAX_WALK: usize = 200_000;

/// Disk usage under `dir` in bytes (allocated blocks, as `du` counts them), not
/// following symlinks; `None` if the walk met more than `max_entries` entries.
/// Unreadable directories count as empty.
pub fn disk_usage(dir: &std::path::Path, max_entries: usize) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > max_entries {
                return None;
            }
            // `DirEntry::metadata` does not traverse symlinks.
            let Ok(meta) = entry.metadata() else { continue };
            total = total.saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_files_and_stops_at_the_cap_without_following_links() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("alice");
        std::fs::create_dir_all(root.join("acme/hello")).expect("mkdir");
        std::fs::write(root.join("acme/hello/big"), vec![1u8; 64 * 1024]).expect("write");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(outside.join("huge"), vec![1u8; 1024 * 1024]).expect("write");
        std::os::unix::fs::symlink(&outside, root.join("link")).expect("symlink");
        let used = disk_usage(&root, MAX_WALK).expect("under the cap");
        assert!(used >= 64 * 1024, "{used}");
        assert!(
            used < 1024 * 1024,
            "the symlinked directory is not counted: {used}"
        );
        assert_eq!(disk_usage(&root, 2), None, "capped");
        assert_eq!(disk_usage(&tmp.path().join("absent"), 10), Some(0));
    }
}
