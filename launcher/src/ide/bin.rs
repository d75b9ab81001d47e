//! Finding an IDE's executable: `DCS_IDE_BIN` as a path (used as is) or as a name
//! looked up on `PATH`; without it, the kind's release from [`super::install`].

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::IdeContext;
use crate::error::{Error, Result};

/// The executable to run for `kind`: `DCS_IDE_BIN` resolved, or else the kind's
/// release installed into the config volume (downloaded on first use).
pub async fn for_context(kind: &'static str, ctx: &IdeContext) -> Result<PathBuf> {
    crate::packages::prepare(kind).await?;
    match (&ctx.ide_bin, super::install::source(kind)) {
        (Some(wanted), _) => resolve(kind, wanted, std::env::var_os("PATH").as_deref()),
        (None, Some(source)) => super::install::ensure(source, ctx).await,
        (None, None) => Err(Error::IdeStart {
            kind,
            message: "no release to download; set DCS_IDE_BIN to its executable".into(),
        }),
    }
}

/// Resolves `wanted` (a path, or a bare name searched on `path_var`) to an existing
/// executable file.
pub fn resolve(kind: &'static str, wanted: &Path, path_var: Option<&OsStr>) -> Result<PathBuf> {
    let fail = |why: String| Error::IdeStart {
        kind,
        message: format!("DCS_IDE_BIN={}: {why}", wanted.display()),
    };
    if wanted.components().count() > 1 || wanted.is_absolute() {
        return if is_executable(wanted) {
            Ok(wanted.to_path_buf())
        } else {
            Err(fail("not an executable file".into()))
        };
    }
    let dirs = path_var.map(std::env::split_paths).into_iter().flatten();
    for dir in dirs {
        let candidate = dir.join(wanted);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(fail("not found on PATH".into()))
}

/// An existing regular file (after symlinks) with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_used_as_is_and_a_name_is_searched_on_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("code-server");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let plain = dir.path().join("README");
        std::fs::write(&plain, "x").expect("write");

        assert_eq!(resolve("code-server", &exe, None).expect("path"), exe);
        let path_var = std::env::join_paths(["/nonexistent", dir.path().to_str().expect("utf-8")])
            .expect("join");
        let found = resolve("code-server", Path::new("code-server"), Some(&path_var));
        assert_eq!(found.expect("on PATH"), exe);

        let err = resolve("code-server", &plain, None).expect_err("not executable");
        assert!(err.to_string().contains("not an executable file"), "{err}");
        let err = resolve("code-server", Path::new("nope"), Some(&path_var)).expect_err("missing");
        assert!(
            err.to_string()
                .contains("DCS_IDE_BIN=nope: not found on PATH"),
            "{err}"
        );
    }
}
