//! The clock's rules, with the time injected.

use dcs_model::env::IdlePolicy;

use super::work::{Foreground, Terminals};
use super::*;

const T0: u64 = 1_800_000_000_000;
const S: u64 = 1000;

fn policy(busy_max_secs: u64) -> IdlePolicy {
    IdlePolicy {
        idle_timeout_secs: 60,
        warning_secs: 10,
        busy_max_secs,
        ..IdlePolicy::default()
    }
}

#[test]
fn input_moves_the_stop_and_the_warning() {
    let clock = Activity::new(policy(3600), T0);
    let r = clock.report(T0 + 5 * S, None);
    assert_eq!(r.stop_at, Some(T0 / S + 60));
    assert_eq!(r.warn_at, Some(T0 / S + 50));
    assert_eq!(r.last_input, None);
    assert!(r
        .reason_not_stopping
        .as_deref()
        .is_some_and(|s| s.contains("55 s")));

    clock.input("key", T0 + 30 * S);
    let r = clock.report(T0 + 31 * S, None);
    assert_eq!(r.stop_at, Some(T0 / S + 90));
    let last = r.last_input.expect("input");
    assert_eq!((last.at, last.kind.as_str()), (T0 / S + 30, "key"));

    let r = clock.report(T0 + 90 * S, None);
    assert_eq!(r.stop_at, Some(T0 / S + 90));
    assert_eq!(r.reason_not_stopping, None, "due: nothing holds it");
}

#[test]
fn an_older_input_never_moves_the_clock_back() {
    let clock = Activity::new(policy(3600), T0);
    clock.input("key", T0 + 30 * S);
    clock.input("pointer", T0 + 20 * S);
    let last = clock.report(T0 + 31 * S, None).last_input.expect("input");
    assert_eq!(last.kind, "key");
}

#[test]
fn a_busy_terminal_holds_the_workspace_up_to_the_busy_limit() {
    let clock = Activity::new(policy(600), T0);
    let term = Terminals::open(&clock, 4242);
    assert_eq!(clock.report(T0, None).open_connections, 1);
    // Printing every second for a long time, nobody typing.
    let mut now = T0;
    while now < T0 + 500 * S {
        now += S;
        term.output(now);
    }
    let r = clock.report(now, None);
    assert_eq!(r.stop_at, None, "work holds it: {r:?}");
    assert_eq!(r.active_work.len(), 1);
    assert!(r.active_work[0].detail.contains("4242"), "{r:?}");
    assert!(r.reason_not_stopping.is_some());

    // Past the busy limit (10 min after the last input) work no longer holds it.
    while now < T0 + 700 * S {
        now += S;
        term.output(now);
    }
    let r = clock.report(now, None);
    assert_eq!(r.stop_at, Some(T0 / S + 600), "{r:?}");
    assert_eq!(r.reason_not_stopping, None);

    // Input starts a new busy period.
    clock.input("terminal", now);
    assert_eq!(clock.report(now + S, None).stop_at, None);
    drop(term);
    assert_eq!(clock.report(now, None).open_connections, 0);
}

#[test]
fn work_that_ended_leaves_a_full_idle_period() {
    let clock = Activity::new(policy(600), T0);
    let term = Terminals::open(&clock, 1);
    term.output(T0 + 100 * S);
    let r = clock.report(T0 + 200 * S, None);
    assert!(r.active_work.is_empty());
    assert_eq!(r.stop_at, Some(T0 / S + 160), "{r:?}");
}

#[test]
fn with_the_policy_off_work_never_holds() {
    let clock = Activity::new(policy(0), T0);
    let term = Terminals::open(&clock, 1);
    let mut now = T0;
    while now < T0 + 120 * S {
        now += S;
        term.output(now);
    }
    let r = clock.report(now, None);
    assert!(r.active_work.is_empty(), "{r:?}");
    assert_eq!(r.stop_at, Some(T0 / S + 60));
    assert_eq!(
        clock.keepalive(1, now),
        Err(BeyondBusyMax { busy_max_s: 0 })
    );
}

#[test]
fn cpu_of_the_foreground_job_is_work_when_it_grows() {
    let clock = Activity::new(policy(600), T0);
    let term = Terminals::open(&clock, 1);
    let fg = |ticks| {
        Some(Foreground {
            pgrp: 77,
            comm: "cargo".into(),
            ticks,
        })
    };
    term.cpu(fg(100), T0 + 100 * S);
    assert!(
        clock.report(T0 + 100 * S, None).active_work.is_empty(),
        "a first sample says nothing"
    );
    term.cpu(fg(100), T0 + 102 * S);
    assert!(
        clock.report(T0 + 102 * S, None).active_work.is_empty(),
        "idle job"
    );
    term.cpu(fg(180), T0 + 104 * S);
    let r = clock.report(T0 + 104 * S, None);
    assert_eq!(r.stop_at, None);
    assert!(r.active_work[0].detail.contains("cargo"), "{r:?}");
    term.cpu(None, T0 + 106 * S);
    term.cpu(fg(500), T0 + 108 * S);
    assert_eq!(
        clock.report(T0 + 120 * S, None).stop_at,
        Some(T0 / S + 104 + 60),
        "a new job's first sample is no work"
    );
}

#[test]
fn keepalives_hold_and_are_bounded() {
    let clock = Activity::new(policy(7200), T0);
    assert_eq!(
        clock.keepalive(7201, T0),
        Err(BeyondBusyMax { busy_max_s: 7200 })
    );
    clock.keepalive(3600, T0).expect("within the limit");
    let r = clock.report(T0 + 1000 * S, None);
    assert_eq!(r.keepalive_until, Some(T0 / S + 3600));
    assert_eq!(r.stop_at, Some(T0 / S + 3600));
    assert!(r
        .reason_not_stopping
        .as_deref()
        .is_some_and(|s| s.contains("keep-alive")));
    clock.keepalive(0, T0 + 1000 * S).expect("ends it");
    assert_eq!(clock.report(T0 + 1000 * S, None).stop_at, Some(T0 / S + 60));
}

#[test]
fn renewed_keepalives_hold_no_longer_than_the_busy_limit_past_the_last_input() {
    let clock = Activity::new(policy(7200), T0);
    clock.input("key", T0);
    // A script renews an hour's keep-alive every hour, nobody types.
    for hour in 0..4 {
        clock
            .keepalive(3600, T0 + hour * 3600 * S)
            .expect("within the limit");
    }
    let r = clock.report(T0 + 3 * 3600 * S + S, None);
    assert_eq!(r.keepalive_until, None, "past the limit: {r:?}");
    assert!(
        r.stop_at.is_some_and(|at| at <= T0 / S + 7200),
        "due since the limit at the latest: {r:?}"
    );
    let r = clock.report(T0 + 3600 * S, None);
    assert_eq!(r.keepalive_until, Some(T0 / S + 7200), "shown as it holds");
    // Someone types: the limit counts from then.
    clock.input("key", T0 + 3 * 3600 * S + 2 * S);
    clock
        .keepalive(3600, T0 + 3 * 3600 * S + 2 * S)
        .expect("within the limit");
    let r = clock.report(T0 + 3 * 3600 * S + 3 * S, None);
    assert_eq!(r.stop_at, Some(T0 / S + 4 * 3600 + 2));
}

#[test]
fn the_start_holds_and_the_idle_time_counts_from_its_end() {
    let clock = Activity::new(policy(0), T0);
    let r = clock.report(T0 + 500 * S, Some("checking out the repository"));
    assert_eq!(r.stop_at, None);
    assert_eq!(r.active_work[0].what, "start");
    assert_eq!(clock.report(T0 + 501 * S, None).stop_at, Some(T0 / S + 560));
}

#[test]
fn a_requested_stop_is_due_at_once_until_someone_comes_back() {
    let clock = Activity::new(policy(7200), T0);
    clock.input("key", T0 + 10 * S);
    // Held by a keep-alive and a busy terminal: an asked-for stop is due all the same.
    clock
        .keepalive(3600, T0 + 10 * S)
        .expect("within the limit");
    let term = Terminals::open(&clock, 4242);
    term.output(T0 + 19 * S);
    clock.stop_requested(T0 + 20 * S);
    let r = clock.report(T0 + 21 * S, None);
    assert_eq!(
        (r.stop_at, r.warn_at, r.stop_requested_at),
        (Some(T0 / S + 20), Some(T0 / S + 20), Some(T0 / S + 20)),
        "{r:?}"
    );
    assert_eq!(r.reason_not_stopping, None, "due");
    // Input from before the ask (a late beacon of the click on Stop now) changes
    // nothing; input after it does: the clock runs as before.
    clock.input("pointer", T0 + 19 * S);
    assert_eq!(
        clock.report(T0 + 22 * S, None).stop_requested_at,
        Some(T0 / S + 20)
    );
    clock.input("request", T0 + 30 * S);
    let r = clock.report(T0 + 31 * S, None);
    assert_eq!(r.stop_requested_at, None);
    assert_eq!(
        r.stop_at,
        Some(T0 / S + 3610),
        "the keep-alive holds it again: {r:?}"
    );
    drop(term);
    // A keep-alive after an ask cancels it too.
    clock.stop_requested(T0 + 40 * S);
    assert_eq!(clock.report(T0 + 41 * S, None).stop_at, Some(T0 / S + 40));
    clock.keepalive(600, T0 + 42 * S).expect("within the limit");
    let r = clock.report(T0 + 43 * S, None);
    assert_eq!((r.stop_requested_at, r.stop_at), (None, Some(T0 / S + 642)));
}

#[test]
fn an_upload_being_received_holds_the_workspace_up_to_the_busy_limit() {
    let clock = Activity::new(policy(600), T0);
    let upload = clock.receiving();
    let r = clock.report(T0 + 300 * S, None);
    assert_eq!(r.stop_at, None, "{:?}", r.reason_not_stopping);
    assert!(r.active_work.iter().any(|w| w.what == "upload"));
    assert!(
        clock.report(T0 + 700 * S, None).stop_at.is_some(),
        "no longer than the busy limit"
    );
    drop(upload);
    assert!(clock.report(T0 + 300 * S, None).active_work.is_empty());

    // An upload that ended counts as work seen then: a full idle timeout follows.
    let now = now_ms();
    let clock = Activity::new(policy(3600), now - 1000 * S);
    drop(clock.receiving());
    let stop_at = clock.report(now_ms(), None).stop_at.expect("a stop time");
    assert!(stop_at >= now / S + 59, "{stop_at} vs {}", now / S);
}
