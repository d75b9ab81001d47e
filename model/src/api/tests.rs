//! Tests of [`super`]: api.

use super::*;

fn fields(req: CreateInstance) -> Vec<String> {
    req.validate(&Bounds::default())
        .expect_err("invalid")
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn a_full_valid_request_passes() {
    let json = r#"{"repo":"acme/hello","base_image":"mcr.microsoft.com/devcontainers/python:1-3.12",
        "vscode_version":"1.96.0","storage":"20Gi","cpu_request":"500m","cpu_limit":"2",
        "memory_request":"1Gi","memory_limit":"4Gi","env":{"FOO":"bar"}}"#;
    let req: CreateInstance = serde_json::from_str(json).expect("parses");
    let ok = req.validate(&Bounds::default()).expect("valid");
    assert_eq!(ok.spec.ide_version.as_deref(), Some("1.96.0"));
    assert_eq!(ok.spec.resources.cpu_limit.expect("cpu").value(), 2.0);
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(serde_json::from_str::<CreateInstance>(r#"{"reppo":"a/b"}"#).is_err());
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let req = CreateInstance {
        user_id: Some("../x".into()),
        repo: Some("nope".into()),
        base_image: Some("Ubuntu:LATEST!".into()),
        ide: Some("emacs".into()),
        ide_version: Some("1 0".into()),
        storage: Some("10TB".into()),
        cpu_request: Some("4".into()),
        cpu_limit: Some("2".into()),
        memory_limit: Some("1Ti".into()),
        env: Some(BTreeMap::from([
            ("1BAD".into(), "x".into()),
            ("DCS_REPO".into(), "x".into()),
            ("PORT".into(), "1".into()),
        ])),
        ..Default::default()
    };
    let got = fields(req);
    for want in [
        "user_id",
        "repo",
        "base_image",
        "ide",
        "ide_version",
        "storage",
        "cpu_request",
        "memory_limit",
        "env.1BAD",
        "env.DCS_REPO",
        "env.PORT",
    ] {
        assert!(got.iter().any(|f| f == want), "{want} missing from {got:?}");
    }
}

#[test]
fn bounds_are_enforced() {
    let req = CreateInstance {
        cpu_limit: Some("64".into()),
        ..Default::default()
    };
    let errs = req.validate(&Bounds::default()).expect_err("too big");
    assert!(errs[0].message.contains("maximum of 8 cores"), "{errs:?}");
}

#[test]
fn zero_sizes_are_refused_with_their_field() {
    for zero in ["0", "0Gi", "0.0", "0e3", "0m"] {
        let req = CreateInstance {
            storage: Some(zero.into()),
            cpu_request: Some(zero.into()),
            cpu_limit: Some(zero.into()),
            memory_request: Some(zero.into()),
            memory_limit: Some(zero.into()),
            ..Default::default()
        };
        let errs = req.validate(&Bounds::default()).expect_err("zero");
        let got: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            got,
            [
                "storage",
                "cpu_request",
                "cpu_limit",
                "memory_request",
                "memory_limit"
            ],
            "{zero}: {errs:?}"
        );
        assert!(errs[0].message.contains("more than 0"), "{errs:?}");
    }
    let negative = CreateInstance {
        storage: Some("-1Gi".into()),
        ..Default::default()
    };
    assert_eq!(fields(negative), ["storage"]);
    let tiny = CreateInstance {
        storage: Some("1Ki".into()),
        cpu_request: Some("1m".into()),
        ..Default::default()
    };
    assert!(tiny.validate(&Bounds::default()).is_ok());
}

#[test]
fn a_beacon_sent_late_dates_its_input_back_at_most_a_minute() {
    let beacon = |json: &str| -> ActivityBeacon { serde_json::from_str(json).expect("beacon") };
    let now = 1_800_000_000_000;
    assert_eq!(beacon(r#"{"kind":"key"}"#).input_at(now), now);
    assert_eq!(
        beacon(r#"{"kind":"key","ago_ms":20000}"#).input_at(now),
        now - 20_000
    );
    assert_eq!(
        beacon(r#"{"kind":"key","ago_ms":99999999}"#).input_at(now),
        now - ActivityBeacon::MAX_AGO_MS,
        "never further back than a minute"
    );
    assert!(serde_json::from_str::<ActivityBeacon>(r#"{"kind":"key","ago_ms":-1}"#).is_err());
    assert_eq!(
        serde_json::to_string(&beacon(r#"{"kind":"key"}"#)).expect("json"),
        r#"{"kind":"key"}"#
    );
}
