//! Support for the IDE end-to-end tests: the code-server `make ide-deps` installed,
//! the screenshot folders, and finding the IDE process a launcher supervises.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::browser::{repo_root, required};

/// The code-server executable (`DCS_TEST_CODE_SERVER`, default
/// `.cache/bin/code-server`); the test fails naming `make code-server` without it.
pub fn code_server() -> PathBuf {
    required(
        "DCS_TEST_CODE_SERVER",
        repo_root().join(".cache/bin/code-server"),
        "code-server",
        "code-server",
    )
}

/// `target/<profile>/ide-screenshots/<test>`, created.
pub fn screenshot_dir(test: &str) -> anyhow::Result<PathBuf> {
    let dir = crate::bin_dir()?.join("ide-screenshots").join(test);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes code-server's user settings (`settings.json`, the JSON `settings`) in the
/// volume `volume` before the IDE first starts there; returns their folder.
pub fn code_server_settings(volume: &Path, settings: &str) -> anyhow::Result<PathBuf> {
    let user = volume.join(".dcs/code-server/data/User");
    std::fs::create_dir_all(&user)?;
    std::fs::write(user.join("settings.json"), settings)?;
    Ok(user)
}

/// The IDE process `launcher` supervises: its child that leads its own process
/// group (the launcher starts the IDE with `process_group(0)`).
pub fn ide_pid_of(launcher: u32) -> Option<u32> {
    crate::procs::group_leader_child_of(launcher)
}

/// A folder of this run's own for the script's screenshots, in the test's: that one
/// outlives runs and is shared by the copies `make test-stress` runs at once, so an
/// old file, or another copy's, could pass for this run's. [`publish`] moves them up
/// once the test passed; a failed run's stay in it.
pub fn run_shots(test: &str) -> anyhow::Result<PathBuf> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let run = format!("run-{}-{nanos}", std::process::id());
    let dir = screenshot_dir(test)?.join(run);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Moves a passed run's screenshots up to its test's folder.
pub fn publish(run: &Path) -> anyhow::Result<()> {
    let up = run.parent().context("the test's folder")?;
    for entry in std::fs::read_dir(run)? {
        let entry = entry?;
        std::fs::rename(entry.path(), up.join(entry.file_name()))?;
    }
    Ok(std::fs::remove_dir(run)?)
}
