//! The management API end to end, against a real proxy (local runtime, `--ide
//! none`) and real launchers: create → status → open the `?tkn=` link (303 +
//! cookie) → the cookie reaches the workspace (and the token does not) → delete
//! revokes; tokens do not cross instances; the validation corpus; admins and
//! others (trusted headers with signed JWTs); `/github` workspaces in the list;
//! the OpenAPI document equals the route table. The validation corpus is in
//! [`validation`], who may act for whom in [`access`], starting and stopping in
//! [`start_stop`], deleting in [`delete`].

use std::collections::BTreeSet;
use std::time::Duration;

use dcs_e2e::api::{call, error_fields, head_echo, status_json, wait_running};
use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

mod access;
mod delete;
mod start_stop;
mod validation;

const START: Duration = Duration::from_secs(60);

fn post_json(fx: &Fixture, body: &Value) -> RequestBuilder {
    client()
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// The one workspace in `GET /api/instances`: its id and status.
async fn the_only_one(fx: &Fixture) -> anyhow::Result<(String, String)> {
    let (_, list) = call(client().get(fx.proxy.url("/api/instances"))).await?;
    let one = &list["instances"][0];
    let id = one["instance_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no workspace in {list}"));
    Ok((
        id.to_owned(),
        one["status"].as_str().unwrap_or("").to_owned(),
    ))
}

fn set_cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn create_open_with_the_token_then_delete_revokes_it() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();

    let (code, me) = call(http.get(fx.proxy.url("/api/me"))).await?;
    assert_eq!(code, 200);
    assert_eq!(me["user_id"], "alice");
    assert_eq!(me["admin"], true, "--auth none: the local user is an admin");

    let resp = post_json(&fx, &json!({"env": {"GREETING": "hi"}, "cpu_limit": "1"}))
        .send()
        .await?;
    let location = resp.headers()["location"].to_str()?.to_owned();
    let (code, created) = status_json(resp).await?;
    assert_eq!(code, 201, "{created} {}", fx.proxy.log());
    let id = created["instance_id"].as_str().expect("id").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    assert!(id.starts_with("inst-"), "{id}");
    assert_eq!(location, format!("/api/instances/{id}"));
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["kind"], "instance");
    assert_eq!(created["user_id"], "alice");
    assert_eq!(created["url"], format!("/instances/{id}/"));
    assert_eq!(created["env"], json!(["GREETING"]), "names only, no values");
    // Where the runtime does not apply resources (local processes), it says so
    // (`applies_containers`); only about what was asked.
    let warnings = created["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .all(|w| w.as_str().unwrap_or("").starts_with("cpu_limit")),
        "only cpu_limit may be warned about: {created}"
    );

    let status = wait_running(
        || http.get(fx.proxy.url(&format!("/api/status?instance_id={id}"))),
        START,
    )
    .await?;
    assert_eq!(status["phase"], "running");
    assert_eq!(status["idle_timeout_seconds"], 1800);

    // The link: a cookie for the token, and the same URL without it.
    let resp = http
        .get(
            fx.proxy
                .url(&format!("/instances/{id}/?tkn={token}&folder=x")),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("/instances/{id}/?folder=x").as_str()
    );
    let set_cookie = resp.headers()["set-cookie"].to_str()?.to_owned();
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        &format!("Path=/instances/{id}/"),
    ] {
        assert!(set_cookie.contains(attr), "{attr} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http on loopback");
    let cookie = set_cookie_pair(&set_cookie);

    // Without a slash: exchanged too, then sent to the slash form.
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("/instances/{id}/").as_str()
    );
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 308);

    // The cookie opens the workspace.
    let ready = fx.proxy.url(&format!("/instances/{id}/_dcs/ready"));
    let resp = http.get(&ready).header("cookie", &cookie).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let body: Value = serde_json::from_str(&resp.text().await?)?;
    assert!(body.is_object(), "{body}");
    let resp = http.get(&ready).send().await?;
    assert_eq!(resp.status(), 403, "no cookie, no entry");
    assert!(resp.text().await?.contains("link you were given"));
    let resp = http
        .get(&ready)
        .header("cookie", format!("dcs_instance_token={}", "0".repeat(64)))
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "a wrong token");

    // What reaches the workspace: other cookies, never the token.
    let port = head_echo().await?;
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/ports/{port}/x?y=1")))
        .header("cookie", format!("theme=dark; {cookie}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(head.starts_with("GET /x?y=1 "), "{head}");
    assert!(head.contains("theme=dark"), "{head}");
    assert!(
        !head.contains(&token) && !head.contains("dcs_instance_token"),
        "{head}"
    );

    // Another instance: A's token and cookie do not open it.
    let (code, other) = call(post_json(&fx, &json!({}))).await?;
    assert_eq!(code, 201, "{other}");
    let other_id = other["instance_id"].as_str().expect("id").to_owned();
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{other_id}/?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{other_id}/_dcs/ready")))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 403);

    let (code, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200);
    let ids: BTreeSet<&str> = list["instances"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["instance_id"].as_str())
        .collect();
    assert!(
        ids.contains(id.as_str()) && ids.contains(other_id.as_str()),
        "{list}"
    );
    let (code, got) = call(http.get(fx.proxy.url(&location))).await?;
    assert_eq!(code, 200);
    assert_eq!(got["instance_id"], id.as_str());
    assert!(got.get("access_token").is_none(), "the token is shown once");

    // Delete: the record, the cookie and the token are gone; files stay.
    let resp = http.delete(fx.proxy.url(&location)).send().await?;
    assert_eq!(resp.status(), 204);
    let (code, err) = call(http.get(fx.proxy.url(&location))).await?;
    assert_eq!((code, err["error"].as_str()), (404, Some("not_found")));
    let resp = http.get(&ready).header("cookie", &cookie).send().await?;
    assert_eq!(
        resp.status(),
        404,
        "the cookie is revoked: the instance is gone"
    );
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "the token is revoked");
    let (code, _) = call(http.delete(fx.proxy.url(&location))).await?;
    assert_eq!(code, 404);
    assert!(fx.proxy.volume().is_dir(), "the user's volume is kept");

    assert!(
        !fx.proxy.log().contains(&token),
        "the token never appears in the proxy's log"
    );
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let (code, doc) = call(client().get(fx.proxy.url("/api/openapi.json"))).await?;
    assert_eq!(code, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = dcs_proxy::api::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    for schema in [
        "CreateInstance",
        "CreatedInstance",
        "ApiError",
        "Me",
        "InstanceStatus",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    Ok(())
}
