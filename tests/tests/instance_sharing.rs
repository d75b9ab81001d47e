//! An instance's link opens for its owner (and admins) and for whom the owner
//! shared it with, nobody else: a second user holding the link gets 404 until it is
//! shared (`PATCH /api/instances/{id}`, or `shared_with` on create), and again once
//! it no longer is.

use std::time::Duration;

use dcs_e2e::api::{call, open_link, wait_running};
use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

fn json_body(req: RequestBuilder, body: &Value) -> RequestBuilder {
    req.header("content-type", "application/json")
        .body(body.to_string())
}

#[tokio::test]
async fn a_link_opens_only_for_its_owner_admins_and_whom_it_is_shared_with() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let bob = FakeUser::new("bob");
    let carol = FakeUser {
        groups: vec!["team-x".into()],
        ..FakeUser::new("carol")
    };
    let root = FakeUser {
        groups: vec!["dcs-admins".into()],
        ..FakeUser::new("root")
    };
    let fx = Fixture::trusted_headers(
        &issuer,
        &alice.uid,
        &["--admin-group".into(), "dcs-admins".into()],
    )?;
    let http = client();
    let as_ = |req: RequestBuilder, who: &FakeUser| issuer.signed(req, who);

    let (code, created) = call(as_(
        json_body(http.post(fx.proxy.url("/api/instances")), &json!({})),
        &alice,
    ))
    .await?;
    assert_eq!(code, 201, "{created}");
    let id = created["instance_id"].as_str().expect("id").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    assert_eq!(created["shared_with"], json!({"users": [], "groups": []}));
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(|| as_(http.get(&status), &alice), Duration::from_secs(60)).await?;

    assert_eq!(open_link(&fx, &issuer, &alice, &id, &token).await?, 200);
    assert_eq!(
        open_link(&fx, &issuer, &root, &id, &token).await?,
        200,
        "admins"
    );
    assert_eq!(
        open_link(&fx, &issuer, &bob, &id, &token).await?,
        404,
        "someone else holding the link: it does not exist for them"
    );

    // Shared with bob by user id: he may open it; bob may not change the sharing.
    let patch = |who: &FakeUser, body: Value| {
        as_(
            json_body(
                http.patch(fx.proxy.url(&format!("/api/instances/{id}"))),
                &body,
            ),
            who,
        )
    };
    let (code, view) = call(patch(&alice, json!({"shared_with": {"users": [bob.uid]}}))).await?;
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["shared_with"]["users"], json!([bob.uid]));
    assert_eq!(open_link(&fx, &issuer, &bob, &id, &token).await?, 200);
    let (code, _) = call(patch(&bob, json!({"shared_with": {"users": [carol.uid]}}))).await?;
    assert_eq!(code, 404, "only the owner (or an admin) shares");

    // Shared with a group instead: bob is out again, carol (in team-x) is in.
    let (code, _) = call(patch(
        &alice,
        json!({"shared_with": {"groups": ["team-x"]}}),
    ))
    .await?;
    assert_eq!(code, 200);
    assert_eq!(open_link(&fx, &issuer, &bob, &id, &token).await?, 404);
    assert_eq!(open_link(&fx, &issuer, &carol, &id, &token).await?, 200);

    // Bad sharing is a 422 naming the field, and changes nothing.
    let (code, err) = call(patch(&alice, json!({"shared_with": {"groups": ["*"]}}))).await?;
    assert_eq!(code, 422, "{err}");
    assert_eq!(err["fields"][0]["field"], "shared_with.groups[0]");
    let (code, err) = call(patch(&alice, json!({"owner": "bob"}))).await?;
    assert_eq!(code, 422, "{err}");
    assert_eq!(open_link(&fx, &issuer, &carol, &id, &token).await?, 200);
    Ok(())
}

#[tokio::test]
async fn an_instance_can_be_shared_when_it_is_created() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let bob = FakeUser::new("bob");
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let http = client();
    let body = json!({"shared_with": {"users": [bob.uid], "groups": ["reviewers"]}});
    let (code, created) = call(issuer.signed(
        json_body(http.post(fx.proxy.url("/api/instances")), &body),
        &alice,
    ))
    .await?;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["shared_with"]["groups"], json!(["reviewers"]));
    let id = created["instance_id"].as_str().expect("id");
    let token = created["access_token"].as_str().expect("token");
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(
        || issuer.signed(http.get(&status), &alice),
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(open_link(&fx, &issuer, &bob, id, token).await?, 200);
    Ok(())
}
