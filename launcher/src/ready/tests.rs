//! Tests of [`super`].

use super::*;

#[test]
fn a_held_report_ends_at_a_new_phase_or_the_end_and_progress_only_after_a_while() {
    assert_eq!(wait_of(None), Ok(Duration::ZERO));
    assert_eq!(
        wait_of(Some("a=1&wait=250")),
        Ok(Duration::from_millis(250))
    );
    assert_eq!(
        wait_of(Some("wait=99999999")),
        Ok(Duration::from_millis(dcs_model::env::READY_MAX_WAIT_MS))
    );
    assert!(wait_of(Some("wait=-1")).is_err());
    assert!(wait_of(Some("wait=1s")).is_err());

    let r = Readiness::new();
    let first = r.report(false);
    let soon = Duration::from_millis(1);
    assert!(!r.report(false).moved_on(&first, soon), "nothing changed");
    r.set_progress(Some(Progress {
        phase: Step::Clone,
        received_bytes: 1,
        objects_done: 0,
        objects_total: 0,
        objects_indexed: 0,
        note: None,
    }));
    assert!(!r.report(false).moved_on(&first, soon));
    assert!(r.report(false).moved_on(&first, PROGRESS_EVERY));
    r.set_phase(Phase::StartingIde);
    assert!(r.report(false).moved_on(&first, soon), "a new phase");
    r.set_phase(Phase::Ready);
    assert!(
        !r.report(false).moved_on(&r.report(false), soon),
        "up but not healthy: not yet"
    );
    assert!(r.report(true).is_final());
}

#[test]
fn progress_is_reported_while_the_checkout_runs() {
    let r = Readiness::new();
    r.set_progress(Some(Progress {
        phase: Step::Clone,
        received_bytes: 2048,
        objects_done: 3,
        objects_total: 10,
        objects_indexed: 1,
        note: None,
    }));
    let json = serde_json::to_value(r.report(false)).expect("serialise");
    assert_eq!(
        json["progress"],
        serde_json::json!({"phase": "clone", "received_bytes": 2048, "objects_done": 3,
                           "objects_total": 10, "objects_indexed": 1, "note": null})
    );
    r.set_progress(None);
    assert_eq!(r.report(false).progress, None);
}

#[test]
fn ready_only_when_phase_is_ready_and_the_ide_is_healthy() {
    let r = Readiness::new();
    assert_eq!(r.report(true).phase, Phase::Checkout);
    r.set_phase(Phase::Ready);
    assert!(r.report(true).ready);
    let unhealthy = r.report(false);
    assert_eq!(
        (unhealthy.phase, unhealthy.ready),
        (Phase::StartingIde, false)
    );
    assert_eq!(respond(&r.report(true), None).status(), StatusCode::OK);
    assert_eq!(
        respond(&r.report(false), None).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[test]
fn the_ide_install_reads_installing_ide_until_the_next_phase() {
    let r = Readiness::new();
    r.installing_ide();
    assert_eq!(
        r.report(false).phase,
        Phase::Checkout,
        "not while checking out"
    );
    r.set_phase(Phase::StartingIde);
    r.installing_ide();
    let json = serde_json::to_value(r.report(false)).expect("serialise");
    assert_eq!(json["phase"], "installing_ide");
    let back: ReadyReport = serde_json::from_value(json).expect("parse");
    assert_eq!(back, r.report(false));
    r.set_phase(Phase::Ready);
    let json = serde_json::to_value(r.report(false)).expect("serialise");
    assert_eq!(json["phase"], "starting_ide", "installed; an unhealthy IDE");
}

#[test]
fn failure_sticks_and_is_reported_with_its_kind() {
    let r = Readiness::new();
    r.warn("offline".into());
    r.fail(&Error::Checkout {
        kind: FailureKind::Refused,
        message: "nothing was changed".into(),
    });
    r.set_phase(Phase::Ready);
    let report = r.report(true);
    let json = serde_json::to_value(&report).expect("serialise");
    assert_eq!(
        json,
        serde_json::json!({
            "phase": "failed",
            "ready": false,
            "error": {"kind": "refused", "message": "nothing was changed"},
            "warning": "offline",
            "progress": null,
        })
    );
}
