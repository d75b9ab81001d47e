//! Support for the IDE end-to-end tests: the code-server `make ide-deps` installed,
//! the screenshot folder, and finding the IDE process a launcher supervises.

use std::path::PathBuf;

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

/// The IDE process `launcher` supervises: its child that leads its own process
/// group (the launcher starts the IDE with `process_group(0)`).
pub fn ide_pid_of(launcher: u32) -> Option<u32> {
    crate::procs::group_leader_child_of(launcher)
}
