//! Lifecycle commands as watched work, with real processes: one that only exists
//! (`sleep`) holds nothing; one printing, or one using CPU without a word, holds
//! the workspace and is named in the report; what a command left running once it
//! ended is not watched. The clock is read at real times, conditions waited for
//! with deadlines.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use dcs_model::api::ActiveWork;
use dcs_model::devcontainer::Command;
use dcs_model::env::IdlePolicy;
use tempfile::TempDir;

use super::*;
use crate::app::Drain;
use crate::devcontainer::log::Log;
use crate::devcontainer::run::{self, Ended, Job};
use crate::devcontainer::EnvChange;
use crate::fixtures::PATIENCE;

/// The lifecycle commands in `activity`'s report at `now`.
fn listed(activity: &Activity, now: u64) -> Vec<ActiveWork> {
    let report = activity.report(now, None);
    report
        .active_work
        .into_iter()
        .filter(|w| w.what == WHAT)
        .collect()
}

/// A folder to run in, with the log below it.
struct Place {
    tmp: TempDir,
    log: Arc<Log>,
}

impl Place {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let log = Arc::new(Log::new(tmp.path().to_path_buf(), "lifecycle.log".into()));
        Self { tmp, log }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.tmp.path().join(name)).unwrap_or_default()
    }

    /// Runs `command` under `header` in the background, watched by `activity`
    /// (aborting the task kills the command's leader).
    fn run(&self, activity: &Arc<Activity>, header: &str, command: Command) -> JoinHandle<Ended> {
        self.run_for(activity, header, command, None)
    }

    /// [`Self::run`] killed past `limit`, if any.
    fn run_for(
        &self,
        activity: &Arc<Activity>,
        header: &str,
        command: Command,
        limit: Option<Duration>,
    ) -> JoinHandle<Ended> {
        let (cwd, log, activity) = (
            self.tmp.path().to_path_buf(),
            self.log.clone(),
            activity.clone(),
        );
        let header = header.to_owned();
        tokio::spawn(async move {
            let env = EnvChange::default();
            let job = Job {
                cwd: &cwd,
                env: &env,
                log,
                drain: Drain::never(),
                activity,
                limit,
            };
            run::run(&header, "", &command, &job).await
        })
    }
}

/// Polls until `cond` holds, for at most [`PATIENCE`].
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn shell(line: &str) -> Command {
    Command::Shell(line.to_owned())
}

#[tokio::test]
async fn a_command_that_only_sleeps_is_no_work_after_its_first_sample() {
    let t0 = now_ms();
    let clock = Activity::new(IdlePolicy::default(), t0);
    let mut child = std::process::Command::new("sleep")
        .arg("600")
        .process_group(0)
        .spawn()
        .expect("sleep");
    let pgid = child.id();
    // Once it sleeps (loaded, in its nanosleep), it uses no CPU until it ends.
    until("asleep", || {
        let cpu = dcs_os::proc::cpu(pgid).is_some_and(|c| c.comm == "sleep");
        cpu && dcs_os::proc::stat(pgid).is_some_and(|s| s.state == 'S')
    })
    .await;
    let watched = Watched::new(&clock, pgid, "postStartCommand: sleep 600");
    for i in 0..5 {
        // Real samples of the group, each as if 2 s after the last.
        let now = t0 + i * 2_000;
        watched.shared.sample(now).await;
        assert_eq!(listed(&clock, now), Vec::new(), "sample {i}");
    }
    let report = clock.report(t0 + 8_000, None);
    assert!(report.stop_at.is_some(), "{report:?}");
    let reason = report.reason_not_stopping.unwrap_or_default();
    assert!(reason.starts_with("started recently"), "{reason}");
    drop(watched);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_command_polling_at_a_few_percent_of_a_core_is_no_work() {
    let clock = Activity::new(IdlePolicy::default(), now_ms());
    // Like a dev server's reloader polling files: 3 ms of CPU every 100 ms, ~3%.
    let poll = "while (1) { my $t = time; 1 while time - $t < 0.003; sleep 0.097 }";
    let child = Killed(
        std::process::Command::new("perl")
            .args(["-MTime::HiRes=time,sleep", "-e", poll])
            .process_group(0)
            .spawn()
            .expect("perl"),
    );
    let pgid = child.0.id();
    let ticks = || dcs_os::proc::cpu(pgid).map_or(0, |c| c.ticks);
    until("started", || {
        dcs_os::proc::cpu(pgid).is_some_and(|c| c.comm == "perl")
    })
    .await;
    let watched = Watched::new(&clock, pgid, "postStartCommand: reloader");
    watched.shared.sample(now_ms()).await;
    let first = ticks();
    // Real samples, 2 s apart as the sampler's, until it used CPU in several of them
    // (any CPU between two samples counted as work before).
    let deadline = Instant::now() + PATIENCE;
    let mut samples = 0;
    while samples < 3 || ticks() < first + 5 {
        assert!(Instant::now() < deadline, "it never used CPU");
        tokio::time::sleep(CPU_SAMPLE).await;
        let now = now_ms();
        watched.shared.sample(now).await;
        samples += 1;
        let used = ticks() - first;
        assert_eq!(
            listed(&clock, now),
            Vec::new(),
            "sample {samples}, {used} ticks"
        );
    }
}

/// A child process, killed when dropped (also when a test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_printing_command_is_work_named_by_its_step() {
    let clock = Activity::new(IdlePolicy::default(), now_ms());
    let place = Place::new();
    let header = "postStartCommand: for i in $(seq 1 300); do echo tick $i; sleep 0.2; done";
    let line = "for i in $(seq 1 300); do echo tick $i; sleep 0.2; done";
    let task = place.run(&clock, header, shell(line));
    until("listed as work", || !listed(&clock, now_ms()).is_empty()).await;
    let now = now_ms();
    let work = listed(&clock, now);
    assert_eq!(
        work,
        vec![ActiveWork {
            what: "devcontainer".into(),
            detail: header.into(),
        }]
    );
    let report = clock.report(now, None);
    assert_eq!(report.stop_at, None, "work holds it: {report:?}");
    let reason = report.reason_not_stopping.unwrap_or_default();
    assert!(
        reason.contains("devcontainer (postStartCommand: for i"),
        "{reason}"
    );
    task.abort();
}

#[tokio::test]
async fn a_command_using_cpu_without_a_word_is_work() {
    let clock = Activity::new(IdlePolicy::default(), now_ms());
    let place = Place::new();
    let header = "onCreateCommand (build): spin";
    // Prints nothing: only its CPU can show it works.
    let task = place.run(&clock, header, shell("while :; do :; done"));
    until("listed as work", || !listed(&clock, now_ms()).is_empty()).await;
    let work = listed(&clock, now_ms());
    assert_eq!(work.len(), 1, "{work:?}");
    assert_eq!(work[0].detail, header);
    let log = place.read("lifecycle.log");
    assert_eq!(log.lines().count(), 1, "nothing but the header: {log}");
    task.abort();
}

#[tokio::test]
async fn what_a_command_left_running_is_not_watched_once_it_ended() {
    // One second of idle timeout: work seen moves the stop by seconds.
    let policy = IdlePolicy {
        idle_timeout_secs: 1,
        ..IdlePolicy::default()
    };
    let clock = Activity::new(policy, now_ms());
    let place = Place::new();
    let line = "echo $$ > pgid; (while :; do echo bg; sleep 0.2; done) & echo started";
    let ended = place
        .run(&clock, "postStartCommand: a server", shell(line))
        .await
        .expect("ran");
    assert_eq!(ended, Ended::Exit(0));
    let pgid: u32 = place.read("pgid").trim().parse().expect("pgid");
    let before = clock.report(now_ms(), None);
    let printed = |place: &Place| place.read("lifecycle.log").matches("bg").count();
    let so_far = printed(&place);
    // It goes on printing into the log for two seconds more...
    until("printing on", || printed(&place) >= so_far + 10).await;
    let after = clock.report(now_ms(), None);
    let _ = dcs_os::group::signal(pgid, nix::sys::signal::Signal::SIGKILL);
    // ...which moved nothing.
    assert_eq!(after.active_work, Vec::new(), "{after:?}");
    assert_eq!(after.stop_at, before.stop_at, "{before:?}\n{after:?}");
    assert!(before.stop_at.is_some(), "{before:?}");
}

#[tokio::test]
async fn a_command_past_its_limit_is_killed_with_what_it_started() {
    let clock = Activity::new(IdlePolicy::default(), now_ms());
    let place = Place::new();
    let limit = Duration::from_millis(300);
    // The leader and a process it started in its group, both sleeping for good.
    let line = "sleep 600 & echo $! > bg; sleep 600";
    let ended = place
        .run_for(&clock, "install: a hung download", shell(line), Some(limit))
        .await
        .expect("ran");
    assert_eq!(ended, Ended::OverTime(limit));
    let bg: u32 = place.read("bg").trim().parse().expect("pid");
    until("its group gone", || {
        dcs_os::proc::stat(bg).is_none_or(|s| s.state == 'Z')
    })
    .await;
    let log = place.read("lifecycle.log");
    assert!(log.contains("killed: still running after 300 ms"), "{log}");
    assert_eq!(
        Ended::OverTime(crate::devcontainer::extensions::INSTALL_LIMIT).describe(),
        "killed: still running after 10 min"
    );
}
