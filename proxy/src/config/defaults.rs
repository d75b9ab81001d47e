//! Defaults that depend on the machine: where the launcher binary and the data
//! directory are when no flag names them; and paths from flags made absolute.

use std::path::PathBuf;

/// Whether `path` is a file someone may execute.
pub(super) fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The launcher beside this executable, else the first on `PATH`, else the bare name.
pub(super) fn default_launcher_bin() -> PathBuf {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("dcs-launcher")));
    match sibling {
        Some(p) if is_executable(&p) => p,
        _ => std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("dcs-launcher"))
                    .find(|p| is_executable(p))
            })
            .unwrap_or_else(|| PathBuf::from("dcs-launcher")),
    }
}

/// `$XDG_DATA_HOME/dcs`, else `~/.local/share/dcs`.
pub(super) fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("dcs");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/dcs")
}

/// `path` made absolute against the folder the proxy was started in (where a
/// relative flag was meant from): a launcher starts in its workspace's folder, so a
/// path it is handed (its own binary, its volume, a token or CA file) would
/// otherwise name something else there, or nothing.
pub(super) fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// [`absolute`], except that a bare program name (`code-server`) stays one, to be
/// looked up on `PATH` as a shell would.
pub(super) fn absolute_unless_bare(program: PathBuf) -> PathBuf {
    if program.components().count() == 1 && program.is_relative() {
        return program;
    }
    absolute(program)
}
