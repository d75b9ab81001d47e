//! The management API end to end, against a real proxy (local runtime, `--ide
//! none`) and real launchers: create → status → open the `?tkn=` link (303 +
//! cookie) → the cookie reaches the workspace (and the token does not) → delete
//! revokes; tokens do not cross instances; the validation corpus; admins and
//! others (trusted headers with signed JWTs); `/github` workspaces in the list;
//! the OpenAPI document equals the route table.

use std::collections::BTreeSet;
use std::time::Duration;

use dcs_e2e::api::{call, error_fields, head_echo, status_json, wait_running};
use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

const START: Duration = Duration::from_secs(60);

fn post_json(fx: &Fixture, body: &Value) -> RequestBuilder {
    client()
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(body.to_string())
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
    assert_eq!(resp.status(), 403, "the cookie is revoked");
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
async fn bad_requests_get_the_right_status_and_name_the_field() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--max-memory").arg("4Gi"))?;
    // (body, field that must be named, words the message must contain)
    let invalid: &[(Value, &str, &str)] = &[
        (json!({"base_image": "Ubuntu:LATEST!"}), "base_image", ""),
        (json!({"base_image": ""}), "base_image", ""),
        (json!({"storage": "10TB"}), "storage", "quantity"),
        (json!({"cpu_request": "-1"}), "cpu_request", "quantity"),
        (json!({"cpu_limit": "64"}), "cpu_limit", "maximum of 8"),
        (
            json!({"memory_limit": "8Gi"}),
            "memory_limit",
            "maximum of 4Gi",
        ),
        (json!({"storage": "1Pi"}), "storage", "maximum"),
        (
            json!({"cpu_request": "2", "cpu_limit": "1"}),
            "cpu_request",
            "limit",
        ),
        (json!({"env": {"1BAD": "x"}}), "env.1BAD", "name"),
        (
            json!({"env": {"DCS_REPO": "x"}}),
            "env.DCS_REPO",
            "reserved",
        ),
        (json!({"env": {"A-B": "x"}}), "env.A-B", ""),
        (json!({"repo": "nope"}), "repo", ""),
        (json!({"ide": "emacs"}), "ide", "code-server"),
        (json!({"ide_version": "1 0"}), "ide_version", ""),
        (json!({"user_id": "../x"}), "user_id", ""),
        (json!({"reppo": "acme/hello"}), "reppo", "unknown field"),
        (
            json!({"cpu_limit": 2}),
            "cpu_limit",
            "invalid type: integer",
        ),
        (json!({"env": {"A": 1}}), "env.A", "string"),
        (json!({"env": ["A=1"]}), "env", "object"),
        (json!({"repo": ["acme/hello"]}), "repo", "invalid type"),
        (
            json!({"ide_version": "1", "vscode_version": "1"}),
            "vscode_version",
            "",
        ),
        (json!(["not", "an", "object"]), "body", "object"),
    ];
    for (body, field, words) in invalid {
        let (code, err) = call(post_json(&fx, body)).await?;
        assert_eq!(code, 422, "{body}: {err}");
        assert_eq!(err["error"], "validation_failed", "{body}: {err}");
        assert!(
            error_fields(&err).iter().any(|f| f == field),
            "{body}: {field} not named in {err}"
        );
        let messages = err["fields"].to_string();
        assert!(messages.contains(words), "{body}: {words:?} not in {err}");
    }
    // The alias is accepted.
    let (code, ok) = call(post_json(&fx, &json!({"vscode_version": "1.96.0"}))).await?;
    assert_eq!(code, 201, "{ok}");
    assert_eq!(ok["ide_version"], "1.96.0");

    let url = fx.proxy.url("/api/instances");
    let http = client();
    let raw = |ct: Option<&str>, body: Vec<u8>| {
        let mut r = http.post(&url).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r
    };
    for (req, want, what) in [
        (
            raw(Some("application/json"), b"{\"repo\":".to_vec()),
            400,
            "malformed",
        ),
        (
            raw(Some("application/json"), b"{'a':1}".to_vec()),
            400,
            "malformed",
        ),
        (raw(Some("application/json"), Vec::new()), 400, "empty"),
        (raw(Some("text/plain"), b"{}".to_vec()), 415, "wrong type"),
        (
            raw(Some("application/x-www-form-urlencoded"), b"a=1".to_vec()),
            415,
            "form",
        ),
        (raw(None, b"{}".to_vec()), 415, "no type"),
        (
            raw(
                Some("application/json"),
                format!("{{\"repo\":\"{}\"}}", "a".repeat(200_000)).into_bytes(),
            ),
            413,
            "oversized",
        ),
    ] {
        let (code, err) = call(req.header("accept", "text/html")).await?;
        assert_eq!(code, want, "{what}: {err}");
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {err}"
        );
    }
    // A chunked body over the limit, with no Content-Length: cut off while read.
    let chunks =
        futures_util::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096])));
    let (code, err) = call(
        http.post(&url)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks)),
    )
    .await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    // A dot segment under /api: a JSON 400 (raw, as a URL library would resolve it).
    let resp = dcs_e2e::raw_get(fx.proxy.addr, "/api/%2e%2e/instances").await?;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));

    // Routing: JSON 404 / 405 + Allow / 400, even for browsers.
    for (method, path, want) in [
        ("GET", "/api/nope", 404),
        ("GET", "/api", 404),
        ("GET", "/api/instances/inst-0000000000000000", 404),
        ("GET", "/api/instances/NOT_AN_ID", 404),
        ("DELETE", "/api/instances/inst-0000000000000000", 404),
        ("GET", "/api/status?instance_id=inst-0000000000000000", 404),
        ("GET", "/api/status", 400),
        ("GET", "/api/instances?color=blue", 400),
        ("GET", "/api/instances?user_id=..%2Fx", 400),
        ("PUT", "/api/instances", 405),
        ("PATCH", "/api/instances/inst-0000000000000000", 405),
    ] {
        let req = http
            .request(method.parse()?, fx.proxy.url(path))
            .header("accept", "text/html");
        let resp = req.send().await?;
        let allow = resp.headers().get("allow").cloned();
        let (code, err) = status_json(resp).await?;
        assert_eq!(code, want, "{method} {path}: {err}");
        assert!(err["error"].is_string(), "{method} {path}: {err}");
        if want == 405 {
            let allow = allow.expect("Allow on 405");
            assert!(allow.to_str()?.contains("GET"), "{allow:?}");
        }
    }
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

#[tokio::test]
async fn github_workspaces_are_listed_and_can_be_deleted() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());

    let (code, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200);
    let instances = list["instances"].as_array().expect("list");
    let repo = instances
        .iter()
        .find(|i| i["kind"] == "repo")
        .unwrap_or_else(|| panic!("no repo workspace in {list}"));
    assert_eq!(repo["url"], "/github/acme/hello/");
    assert_eq!(repo["repo"], "acme/hello");
    assert_eq!(repo["user_id"], "alice");
    assert!(repo.get("access_token").is_none());
    let id = repo["instance_id"].as_str().expect("id").to_owned();

    let (code, status) =
        call(http.get(fx.proxy.url(&format!("/api/status?instance_id={id}")))).await?;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["phase"], "running");
    assert!(
        status["last_activity"].is_string() && status["idle_stop_at"].is_string(),
        "{status}"
    );

    let resp = http
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    assert!(
        fx.wait_for_no_launcher(Duration::from_secs(15)).await,
        "its launcher stopped"
    );
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(list["instances"], json!([]), "{list}");
    assert!(fx.checkout().join("README.md").is_file(), "files are kept");

    // Opening it again starts it again, files as they were.
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    Ok(())
}

#[tokio::test]
async fn only_admins_act_for_other_users() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let admin = FakeUser {
        groups: vec!["developers".into(), "dcs-admins".into()],
        ..FakeUser::new("root")
    };
    let fx = Fixture::trusted_headers(
        &issuer,
        &alice.uid,
        &["--admin-group".into(), "ops,dcs-admins".into()],
    )?;
    let http = client();
    let as_user = |req: RequestBuilder, who: &FakeUser| issuer.signed(req, who);
    let create = |who: &FakeUser, body: Value| {
        as_user(
            http.post(fx.proxy.url("/api/instances"))
                .header("content-type", "application/json")
                .body(body.to_string()),
            who,
        )
    };

    // Not signed in: 401 JSON.
    let (code, err) = call(
        http.get(fx.proxy.url("/api/me"))
            .header("accept", "text/html"),
    )
    .await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (401, Some("unauthorized")),
        "{err}"
    );

    let (code, me) = call(as_user(http.get(fx.proxy.url("/api/me")), &alice)).await?;
    assert_eq!(code, 200);
    assert_eq!(
        (me["user_id"].as_str(), me["admin"].as_bool()),
        (Some(alice.uid.as_str()), Some(false))
    );
    assert_eq!(me["username"], "alice");
    let (_, me) = call(as_user(http.get(fx.proxy.url("/api/me")), &admin)).await?;
    assert_eq!(me["admin"], true, "{me}");

    let (code, err) = call(create(&alice, json!({"user_id": bob.uid}))).await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (403, Some("forbidden")),
        "{err}"
    );
    let (code, created) = call(create(&admin, json!({"user_id": bob.uid}))).await?;
    assert_eq!(code, 201, "{created} {}", fx.proxy.log());
    assert_eq!(created["user_id"], bob.uid.as_str());
    let id = created["instance_id"].as_str().expect("id").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    let one = format!("/api/instances/{id}");

    // Bob sees it as his; alice can neither list nor see it; the admin can.
    let (code, list) = call(as_user(http.get(fx.proxy.url("/api/instances")), &bob)).await?;
    assert_eq!(code, 200);
    assert!(list.to_string().contains(&id), "{list}");
    let by_user = format!("/api/instances?user_id={}", bob.uid);
    let (code, _) = call(as_user(http.get(fx.proxy.url(&by_user)), &alice)).await?;
    assert_eq!(code, 403);
    let (code, list) = call(as_user(http.get(fx.proxy.url(&by_user)), &admin)).await?;
    assert_eq!(code, 200);
    assert!(list.to_string().contains(&id), "{list}");
    let (code, _) = call(as_user(http.get(fx.proxy.url("/api/instances")), &alice)).await?;
    assert_eq!(code, 200);
    for (method, path) in [
        ("GET", one.clone()),
        ("DELETE", one.clone()),
        ("GET", format!("/api/status?instance_id={id}")),
    ] {
        let (code, err) = call(as_user(
            http.request(method.parse()?, fx.proxy.url(&path)),
            &alice,
        ))
        .await?;
        assert_eq!(
            code, 404,
            "{method} {path}: someone else's looks like nothing: {err}"
        );
    }
    let (code, _) = call(as_user(http.get(fx.proxy.url(&one)), &admin)).await?;
    assert_eq!(code, 200);
    let (code, _) = call(as_user(http.get(fx.proxy.url(&one)), &bob)).await?;
    assert_eq!(code, 200);

    // Volumes: another user's is for admins only.
    let (code, _) = call(as_user(
        http.get(fx.proxy.url(&format!("/api/workspaces/{}", bob.uid))),
        &alice,
    ))
    .await?;
    assert_eq!(code, 403);
    let (code, vol) = call(as_user(
        http.get(fx.proxy.url(&format!("/api/workspaces/{}", bob.uid))),
        &admin,
    ))
    .await?;
    // 503 (JSON) while the local runtime cannot describe volumes yet.
    assert!(code == 200 || code == 503, "{code}: {vol}");
    if code == 200 {
        assert_eq!(vol["user_id"], bob.uid.as_str());
        assert!(vol.to_string().contains(&id), "{vol}");
    }

    // The link still needs a signed-in caller: the token alone is not enough.
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    let cookie = set_cookie_pair(resp.headers()["set-cookie"].to_str()?);
    let ready = fx.proxy.url(&format!("/instances/{id}/_dcs/ready"));
    let resp = http.get(&ready).header("cookie", &cookie).send().await?;
    assert_eq!(resp.status(), 401);
    let resp = as_user(http.get(&ready), &bob)
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());

    // The admin deletes it for bob.
    let resp = as_user(http.delete(fx.proxy.url(&one)), &admin)
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    let (code, _) = call(as_user(http.get(fx.proxy.url(&one)), &bob)).await?;
    assert_eq!(code, 404);
    Ok(())
}
