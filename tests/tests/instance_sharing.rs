//! An instance's link opens for its owner, and, where the operator allows others
//! to open instances (`--dangerous-allow-shared-instances`), for admins and whom
//! the owner shared it with, nobody else: a second user holding the link gets 404
//! until it is shared (`PATCH /api/instances/{id}`, or `shared_with` on create),
//! and again once it no longer is. Without the flag only the owner opens it: an
//! admin is told why not (its pages would run with their sign-in), and sharing is
//! refused rather than recorded to no effect.

use std::time::Duration;

use dcs_e2e::api::{call, open_link, wait_running};
use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

/// The operator's leave for others than the owner to open instances.
const SHARED: &str = "--dangerous-allow-shared-instances";

/// `name`, a member of `group`.
fn member(name: &str, group: &str) -> FakeUser {
    FakeUser {
        groups: vec![group.into()],
        ..FakeUser::new(name)
    }
}

fn json_body(req: RequestBuilder, body: &Value) -> RequestBuilder {
    req.header("content-type", "application/json")
        .body(body.to_string())
}

/// `who` creates an instance with `body`: the status and answer.
async fn create(
    fx: &Fixture,
    issuer: &JwtIssuer,
    who: &FakeUser,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let req = json_body(client().post(fx.proxy.url("/api/instances")), body);
    call(issuer.signed(req, who)).await
}

/// The id and access token of a `201` answer to a create.
fn made(code: u16, created: &Value) -> (String, String) {
    assert_eq!(code, 201, "{created}");
    let field = |name: &str| created[name].as_str().expect(name).to_owned();
    (field("instance_id"), field("access_token"))
}

#[tokio::test]
async fn a_link_opens_only_for_its_owner_admins_and_whom_it_is_shared_with() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let bob = FakeUser::new("bob");
    let carol = member("carol", "team-x");
    let root = member("root", "dcs-admins");
    let fx = Fixture::trusted_headers(
        &issuer,
        &alice.uid,
        &["--admin-group".into(), "dcs-admins".into(), SHARED.into()],
    )?;
    let http = client();
    let as_ = |req: RequestBuilder, who: &FakeUser| issuer.signed(req, who);

    let (code, created) = create(&fx, &issuer, &alice, &json!({})).await?;
    let (id, token) = made(code, &created);
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
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[SHARED.into()])?;
    let http = client();
    let body = json!({"shared_with": {"users": [bob.uid], "groups": ["reviewers"]}});
    let (code, created) = create(&fx, &issuer, &alice, &body).await?;
    let (id, token) = made(code, &created);
    assert_eq!(created["shared_with"]["groups"], json!(["reviewers"]));
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(
        || issuer.signed(http.get(&status), &alice),
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(open_link(&fx, &issuer, &bob, &id, &token).await?, 200);
    Ok(())
}

#[tokio::test]
async fn without_the_operators_leave_only_the_owner_opens_an_instance() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let bob = FakeUser::new("bob");
    let root = member("root", "dcs-admins");
    let admins = ["--admin-group".to_owned(), "dcs-admins".to_owned()];
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &admins)?;
    let http = client();
    let as_ = |req: RequestBuilder, who: &FakeUser| issuer.signed(req, who);

    // Sharing is refused, on create and after, and says why; nothing is made.
    let shared = json!({"shared_with": {"users": [bob.uid]}});
    let (code, err) = create(&fx, &issuer, &alice, &shared).await?;
    assert_eq!(code, 403, "{err}");
    let why = err["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        why.contains("--dangerous-allow-shared-instances") && why.contains("sign-in"),
        "{err}"
    );
    let (code, created) = create(&fx, &issuer, &alice, &json!({})).await?;
    let (id, token) = made(code, &created);
    let (_, list) = call(as_(http.get(fx.proxy.url("/api/instances")), &alice)).await?;
    assert_eq!(
        list["instances"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let url = fx.proxy.url(&format!("/api/instances/{id}"));
    let (code, err) = call(as_(json_body(http.patch(&url), &shared), &alice)).await?;
    assert_eq!(code, 403, "{err}");
    let nobody = json!({"shared_with": {"users": [], "groups": []}});
    let (code, view) = call(as_(json_body(http.patch(&url), &nobody), &alice)).await?;
    assert_eq!(code, 200, "sharing with nobody is always fine: {view}");

    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(|| as_(http.get(&status), &alice), Duration::from_secs(60)).await?;
    assert_eq!(open_link(&fx, &issuer, &alice, &id, &token).await?, 200);
    // An admin holding the link is refused and told why; anyone else learns nothing.
    assert_eq!(open_link(&fx, &issuer, &root, &id, &token).await?, 403);
    let page = as_(http.get(fx.proxy.url(&format!("/instances/{id}/"))), &root)
        .header("accept", "application/json")
        .send()
        .await?;
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await?
            .contains("--dangerous-allow-shared-instances"),
        "the refusal names the operator's flag"
    );
    assert_eq!(open_link(&fx, &issuer, &bob, &id, &token).await?, 404);
    // The admin still acts on it through the API.
    let (code, seen) = call(as_(http.get(&url), &root)).await?;
    assert_eq!(code, 200, "{seen}");
    Ok(())
}

/// Removing a share is not undone by a connection opened before: bob's open
/// WebSocket (a terminal, the IDE) into alice's instance is closed when she stops
/// sharing it, and he cannot open another.
#[tokio::test]
async fn a_removed_share_closes_the_connections_it_admitted() -> anyhow::Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[SHARED.into()])?;
    let http = client();
    let body = json!({"shared_with": {"users": [bob.uid]}});
    let (code, created) = create(&fx, &issuer, &alice, &body).await?;
    let (id, token) = made(code, &created);
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(
        || issuer.signed(http.get(&status), &alice),
        Duration::from_secs(60),
    )
    .await?;

    // Bob exchanges the link for the instance's cookie and opens a WebSocket.
    let link = fx.proxy.url(&format!("/instances/{id}/?tkn={token}"));
    let exchange = issuer.signed(http.get(link), &bob).send().await?;
    assert_eq!(exchange.status(), 303);
    let cookie = exchange.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let socket = || async {
        let url = format!("ws://{}/instances/{id}/_dcs/ws-echo", fx.proxy.addr);
        let mut req = url.into_client_request()?;
        for (name, value) in issuer.headers(&bob) {
            req.headers_mut().insert(name, value.parse()?);
        }
        req.headers_mut().insert("cookie", cookie.parse()?);
        let origin = format!("http://{}", fx.proxy.addr);
        req.headers_mut().insert("origin", origin.parse()?);
        let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
        anyhow::Ok(tokio_tungstenite::client_async(req, stream).await)
    };
    let (mut ws, _) = socket().await??;
    ws.send(Message::text("hello")).await?;
    let echoed = tokio::time::timeout(Duration::from_secs(60), ws.next()).await?;
    assert!(
        matches!(&echoed, Some(Ok(Message::Text(t))) if t.as_str() == "hello"),
        "{echoed:?}"
    );

    // Alice stops sharing: bob's open socket ends, and a new one is refused.
    let unshare = json_body(
        http.patch(fx.proxy.url(&format!("/api/instances/{id}"))),
        &json!({"shared_with": {"users": []}}),
    );
    let (code, view) = call(issuer.signed(unshare, &alice)).await?;
    assert_eq!(code, 200, "{view}");
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "bob's socket stayed open after the share was removed"
    );
    match socket().await? {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 404, "it no longer exists for bob")
        }
        other => panic!("bob opened another socket: {:?}", other.map(|r| r.1)),
    }
    Ok(())
}
