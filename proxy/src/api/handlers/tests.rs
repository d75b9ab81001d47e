//! Tests of [`super`]: handlers.

use dcs_model::api::InstanceKind;
use dcs_model::RepoRef;

use crate::runtime::Status;

use super::*;

#[test]
fn repo_workspaces_are_shown_at_their_github_url_without_a_token() {
    let key = WorkspaceKey::new(
        UserId::new("alice").expect("user"),
        RepoRef::parse("acme/hello").expect("repo"),
    );
    let v = view(&key, &Status::Running, &InstanceSpec::default());
    assert_eq!(v.kind, InstanceKind::Repo);
    assert_eq!(v.url, "/github/acme/hello/");
    assert_eq!(v.repo.as_deref(), Some("acme/hello"));
    assert_eq!(v.status, Phase::Running);
    assert!(v.instance_id.starts_with("ws-"));
}

#[test]
fn local_runtimes_warn_about_what_they_do_not_apply() {
    let req = dcs_model::api::CreateInstance {
        base_image: Some("ubuntu:24.04".into()),
        cpu_limit: Some("2".into()),
        env: Some(BTreeMap::from([("A".into(), "1".into())])),
        ..Default::default()
    }
    .validate(&dcs_model::api::Bounds::default())
    .expect("valid");
    let w = not_applied(false, &req.spec);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("base_image") && w[1].starts_with("cpu_limit"));
    assert!(not_applied(true, &req.spec).is_empty());
}

#[test]
fn instances_show_their_spec_but_not_env_values() {
    let id = InstanceId::from_random([3; 8]);
    let key = WorkspaceKey::instance(UserId::new("bob").expect("user"), id.clone());
    let spec = InstanceSpec {
        env: BTreeMap::from([("SECRET".into(), "hunter2".into())]),
        created_unix: 86_400,
        token_sha256: Some("00".repeat(32)),
        ..Default::default()
    };
    let v = view(
        &key,
        &Status::Failed {
            reason: "boom".into(),
        },
        &spec,
    );
    assert_eq!(v.url, format!("/instances/{id}/"));
    assert_eq!(v.env, ["SECRET"]);
    assert_eq!(v.created_at.as_deref(), Some("1970-01-02T00:00:00Z"));
    assert_eq!(
        (v.status, v.reason.as_deref()),
        (Phase::Failed, Some("boom"))
    );
    let json = serde_json::to_string(&v).expect("json");
    assert!(
        !json.contains("hunter2") && !json.contains("0000"),
        "{json}"
    );
}
