//! A preview host of an instance shared with someone (the operator allowing it)
//! stays theirs only while it is shared: once its owner stops sharing it, their
//! preview cookie opens nothing, though it has not expired.

use super::hosts::{reaching, redeem, DOMAIN};
use super::*;
use dcs_e2e::api::{call, wait_running};
use dcs_e2e::JwtIssuer;
use serde_json::json;

#[tokio::test]
async fn a_shared_instances_preview_closes_when_its_owner_stops_sharing_it() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let flags = [
        "--preview-domain".to_owned(),
        DOMAIN.to_owned(),
        "--dangerous-allow-shared-instances".to_owned(),
    ];
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &flags)?;
    let http = client();
    let body = json!({"repo": "acme/hello", "shared_with": {"users": [bob.uid]}});
    let create = issuer.signed(http.post(fx.proxy.url("/api/instances")), &alice);
    let (id, token) = create_instance(&fx, create, &body.to_string()).await?;
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(
        || issuer.signed(http.get(&status), &alice),
        std::time::Duration::from_secs(60),
    )
    .await?;

    // Alice's app runs in her instance (a sandbox: previews reach only its own
    // processes).
    let link = fx.proxy.url(&format!("/instances/{id}/?tkn={token}"));
    let resp = issuer.signed(http.get(&link), &alice).send().await?;
    let (hers, _) = hosts::set_cookie(&resp);
    let mut signed_in: Vec<(String, String)> = issuer
        .headers(&alice)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    signed_in.push(("cookie".to_owned(), hers));
    let prefix = format!("/instances/{id}");
    let app = head_echo_in_workspace(fx.proxy.addr, &prefix, &signed_in).await?;
    let echo = app.port();

    // Bob opens the link, then the preview: its own host, his cookie there.
    let resp = issuer.signed(http.get(&link), &bob).send().await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    let (access, _) = hosts::set_cookie(&resp);
    let path = fx.proxy.url(&format!("/instances/{id}/ports/{echo}/x"));
    let as_bob = |url: &str| issuer.signed(http.get(url), &bob).header(COOKIE, &access);
    let minted = hosts::enter(&fx, &path, as_bob).await?;
    let host = minted.host.clone();
    let at = reaching(&host, fx.proxy.addr)?;
    let preview = redeem(&at, &minted).await?;
    let page = format!("http://{host}:{}/x", fx.proxy.addr.port());
    let resp = at.get(&page).header(COOKIE, &preview).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());

    // Alice stops sharing it: bob's preview cookie opens nothing any more.
    let patch = http
        .patch(fx.proxy.url(&format!("/api/instances/{id}")))
        .header("content-type", "application/json")
        .body(json!({"shared_with": {}}).to_string());
    let (code, view) = call(issuer.signed(patch, &alice)).await?;
    assert_eq!(code, 200, "{view}");
    let resp = at.get(&page).header(COOKIE, &preview).send().await?;
    assert_eq!(resp.status(), 404, "{}", fx.proxy.log());
    Ok(())
}
