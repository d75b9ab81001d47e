//! Work nobody waits for runs at a lower CPU priority, so it never slows what the
//! user does wait for.
//!
//! Once a workspace is ready, two jobs start that the user does not wait for: the
//! rest of a shallow first clone's history (a transfer child of its own,
//! [`crate::checkout::run::complete_history`]) and the hashed certificate folder the
//! next start reads ([`crate::trust::make_folder_for_next_start`]). They used to run
//! at the priority of the IDE's start and of the first requests through the workspace,
//! and on a machine with few cores they competed with them for the CPU. Both now run
//! at [`NICE`]: the scheduler gives them what the workspace leaves over, and they
//! still finish on an idle machine as fast as before.
//!
//! Linux applies `nice` to the calling thread and hands it down to threads and
//! processes started after, and an unprivileged process cannot raise it again: a
//! transfer child lowers itself first thing ([`BACKGROUND_ENV`]), and the folder is
//! made on a thread of its own ([`spawn_blocking`]), never on a pooled thread that
//! would stay lowered for others' work.

use tracing::warn;

/// How much lower background work runs (`nice` 10: about a tenth of the CPU share of
/// a default-priority task when both want it).
pub const NICE: i32 = 10;

/// Set in a transfer child's environment when nobody waits for it: it lowers its
/// own priority before it starts ([`lower_this_thread`]).
pub const BACKGROUND_ENV: &str = "DCS_TRANSFER_BACKGROUND";

/// Lowers the calling thread's priority by [`NICE`] (and that of every thread or
/// process it starts afterwards); a failure is logged, the work still runs.
pub fn lower_this_thread() {
    if let Err(error) = rustix::process::nice(NICE) {
        warn!(%error, "cannot lower the priority of background work");
    }
}

/// Whether this process was started as background work ([`BACKGROUND_ENV`]).
pub fn asked_by_env() -> bool {
    std::env::var_os(BACKGROUND_ENV).is_some_and(|v| v == "1")
}

/// Runs `work` at the lower priority on a thread of its own (named `name`), waited
/// for by a task of the runtime's blocking pool: the runtime's shutdown waits for it
/// as for any blocking task (so a stop does not cut a folder half made), and no
/// pooled thread is ever lowered. A thread that cannot be started is logged and
/// `work` is dropped: nothing depends on background work.
pub fn spawn_blocking(
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                lower_this_thread();
                work();
            });
        match started {
            Ok(thread) => {
                let _ = thread.join();
            }
            Err(error) => warn!(%error, name, "cannot start background work"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's nice value (its own `stat`: Linux keeps it per thread).
    fn nice_of_this_thread() -> i32 {
        let tid = nix::unistd::gettid().as_raw().unsigned_abs();
        dcs_os::proc::stat(tid).expect("stat").nice
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn background_work_runs_lower_and_leaves_every_other_thread_as_it_was() {
        let before = nice_of_this_thread();
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_blocking("test-background", move || {
            let own = nice_of_this_thread();
            let child = std::thread::spawn(nice_of_this_thread)
                .join()
                .expect("join");
            tx.send((own, child)).expect("send");
        })
        .await
        .expect("waited for");
        let (own, started_by_it) = rx.recv().expect("the work ran");
        assert_eq!(own, (before + NICE).min(19));
        assert_eq!(started_by_it, own, "what it starts inherits the priority");
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the caller keeps its priority"
        );
        // The blocking pool's threads stay as they were.
        let pooled = tokio::task::spawn_blocking(nice_of_this_thread)
            .await
            .expect("pooled");
        assert_eq!(pooled, before);
    }
}
