//! A root filesystem made read-only for bubblewrap without writing to it: its entries
//! bound one by one ([`mirror`]), the folders that hold mount points recreated level by
//! level, and mount paths resolved through the root's symbolic links ([`resolve`]), as
//! runc resolves them inside a container's root.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

/// `path` (absolute, in the container) with the root's symbolic links resolved, as
/// far as it exists in the root.
pub fn resolve(root: &Path, path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    let mut rest: Vec<OsString> = normal(Path::new(path));
    rest.reverse();
    let mut hops = 0;
    while let Some(name) = rest.pop() {
        if name == ".." {
            out.pop();
            continue;
        }
        let candidate = out.join(&name);
        let on_host = inside(root, &candidate);
        match std::fs::read_link(&on_host) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                let mut more = normal(&target);
                more.reverse();
                rest.extend(more);
            }
            _ => out = candidate,
        }
    }
    out
}

/// The components of `path` that name something (`..` kept, `.` and `/` dropped).
fn normal(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// The host path of the container path `path` in `root`.
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Arguments recreating the root's folder `dir` read-only: each entry bound (or
/// linked), except the mount points, and the folders holding mount points recreated
/// and mirrored the same way.
pub fn mirror(
    root: &Path,
    dir: &Path,
    points: &[PathBuf],
    args: &mut Vec<OsString>,
) -> anyhow::Result<()> {
    let host = inside(root, dir);
    let mut names: Vec<OsString> = std::fs::read_dir(&host)
        .with_context(|| format!("reading {}", host.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if points.contains(&path) || (dir == Path::new("/") && name == super::STAMP) {
            continue;
        }
        let on_host = inside(root, &path);
        let meta = std::fs::symlink_metadata(&on_host)?;
        if meta.is_symlink() {
            args.extend([
                OsString::from("--symlink"),
                std::fs::read_link(&on_host)?.into(),
                path.into(),
            ]);
        } else if meta.is_dir() && points.iter().any(|p| p.starts_with(&path)) {
            args.extend([OsString::from("--dir"), path.clone().into()]);
            mirror(root, &path, points, args)?;
        } else if meta.is_dir() || meta.is_file() {
            args.extend([OsString::from("--ro-bind"), on_host.into(), path.into()]);
        }
        // Devices, sockets and pipes are left out: the container gets its own /dev.
    }
    Ok(())
}
