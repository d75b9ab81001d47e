//! Locating the workspace binaries (`dcs-proxy`, `dcs-launcher`) that the
//! end-to-end tests start as real processes, and what a test needs to start a
//! launcher by hand ([`launcher_contract`]) and read its phase ([`ready_phase`]).
//!
//! Integration tests run from `target/<profile>/deps/`; the binaries built by
//! `cargo build --bins` sit in its parent, `target/<profile>/`. The
//! `DCS_BIN_DIR` environment variable overrides that directory.

use std::path::PathBuf;

use anyhow::{bail, Context};

/// Environment variable naming the directory that holds the binaries.
pub const BIN_DIR_ENV: &str = "DCS_BIN_DIR";

/// Directory holding the workspace binaries: `$DCS_BIN_DIR` if set, else the
/// cargo profile directory the running test executable was built into.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    let mut dir = exe
        .parent()
        .with_context(|| format!("{} has no parent directory", exe.display()))?
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    Ok(dir)
}

/// Path of the workspace binary `name` (e.g. `"dcs-proxy"`); fails naming
/// `make build` when it does not exist.
pub fn bin_path(name: &str) -> anyhow::Result<PathBuf> {
    let dir = bin_dir()?;
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "binary `{name}` not found at {}: run `make build` (`cargo build --bins`) \
             first (or set {BIN_DIR_ENV} to the directory holding it)",
            path.display()
        );
    }
    Ok(path)
}

/// Hands `env` to a launcher started by `cmd` as its whole contract: the `DCS_*`
/// and `K_*` variables of the test's own environment are removed first.
pub fn launcher_contract(cmd: &mut std::process::Command, env: &dcs_model::LauncherEnv) {
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|k| k.starts_with("DCS_") || k.starts_with("K_"))
        {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.to_vars());
}

/// The `phase` of a launcher's `/_dcs/ready` at `addr` (`host:port`), `None` while
/// it does not answer (a blocking read of at most 10 s).
pub fn ready_phase(addr: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(addr).ok()?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        conn,
        "GET /_dcs/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).ok()?;
    let body = answer.split("\r\n\r\n").nth(1)?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["phase"].as_str().map(str::to_owned)
}
