//! Tests of [`super`]: the `--knative-*` flags and their validation.
use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: KnativeArgs,
}

fn args(extra: &[&str]) -> KnativeArgs {
    let mut argv = vec!["dcs-proxy"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("parses").args
}

#[test]
fn defaults_are_valid() {
    let cfg = args(&[]).validate().expect("valid");
    assert_eq!(cfg.namespace, "dcs-workspaces");
    assert_eq!(cfg.request_timeout_secs, 3600);
    assert_eq!(cfg.progress_deadline_secs, 1800);
    assert_eq!(cfg.volume_access, VolumeAccess::ReadWriteOnce);
    assert_eq!(cfg.launcher_image, DEFAULT_LAUNCHER_IMAGE);
}

#[test]
fn every_knative_problem_is_listed_at_once() {
    let problems = args(&[
        "--knative-namespace",
        "Bad_NS",
        "--knative-volume-size",
        "ten gigs",
        "--knative-cpu-limit",
        "1 core",
        "--knative-request-timeout",
        "5s",
        "--knative-run-as",
        "0",
        "--knative-storage-class=-x",
        "--knative-base-image",
        "",
    ])
    .validate()
    .expect_err("invalid");
    assert_eq!(problems.len(), 7, "{problems:#?}");
}

#[test]
fn an_extra_ca_comes_from_one_secret_or_one_configmap_with_a_valid_key() {
    assert_eq!(args(&[]).validate().expect("valid").extra_ca, None);
    let cfg = args(&["--knative-extra-ca-secret", "corp-ca"])
        .validate()
        .expect("valid");
    assert_eq!(
        cfg.extra_ca,
        Some(ExtraCa {
            source: CaSource::Secret("corp-ca".into()),
            key: "ca.crt".into(),
        })
    );
    let cfg = args(&[
        "--knative-extra-ca-configmap",
        "trust-bundle",
        "--knative-extra-ca-key",
        "trust-bundle.pem",
    ])
    .validate()
    .expect("valid");
    assert_eq!(
        cfg.extra_ca,
        Some(ExtraCa {
            source: CaSource::ConfigMap("trust-bundle".into()),
            key: "trust-bundle.pem".into(),
        })
    );
    let problems = args(&[
        "--knative-extra-ca-secret",
        "a",
        "--knative-extra-ca-configmap",
        "b",
    ])
    .validate()
    .expect_err("both");
    assert!(problems[0].contains("exclude each other"), "{problems:?}");
    let problems = args(&[
        "--knative-extra-ca-secret",
        "Bad_Name",
        "--knative-extra-ca-key",
        "../ca",
    ])
    .validate()
    .expect_err("bad");
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn flattens_into_serve_args_without_clashes() {
    use clap::{Args, Command};
    // ServeArgs flattens KnativeArgs; clap's debug assertions catch any clash.
    crate::config::ServeArgs::augment_args(Command::new("serve")).debug_assert();
}

#[test]
fn quantities_follow_kubernetes_syntax() {
    for ok in ["1", "500m", "1.5", "10Gi", "2k", "0.5Gi", ".5", "1e3"] {
        assert!(is_quantity(ok), "{ok}");
    }
    for bad in ["", "Gi", "1gi", "1 Gi", "-1", "1e3x"] {
        assert!(!is_quantity(bad), "{bad}");
    }
}

#[test]
fn the_ingress_is_a_host_and_port_or_refused() {
    assert_eq!(args(&[]).validate().expect("valid").ingress, None);
    let cfg = args(&[
        "--knative-ingress",
        "kourier-internal.kourier-system.svc:80",
    ])
    .validate()
    .expect("valid");
    assert_eq!(
        cfg.ingress.as_deref(),
        Some("kourier-internal.kourier-system.svc:80")
    );
    for bad in [
        "kourier-internal",
        "http://kourier:80",
        "u@kourier:80",
        ":80",
        "a b:80",
    ] {
        let problems = args(&["--knative-ingress", bad]).validate().expect_err(bad);
        assert!(
            problems.iter().any(|p| p.contains("--knative-ingress")),
            "{bad}: {problems:?}"
        );
    }
}
