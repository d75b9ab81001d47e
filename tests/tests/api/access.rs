//! Whose instances a caller sees and acts on: `/github` workspaces in the list,
//! admins acting for others, everybody else refused.

use super::*;

#[tokio::test]
async fn github_workspaces_are_listed_and_can_be_deleted() -> anyhow::Result<()> {
    // Where instances may be shared, a repository workspace still may not be.
    let fx = Fixture::new(|b| b.arg("--dangerous-allow-shared-instances"))?;
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

    // Everyone opening /github/acme/hello gets their own: sharing it is refused,
    // not recorded to no effect.
    let url = fx.proxy.url(&format!("/api/instances/{id}"));
    let share = |with: Value| {
        http.patch(&url)
            .header("content-type", "application/json")
            .body(json!({ "shared_with": with }).to_string())
    };
    let (code, err) = call(share(json!({"users": ["bob"]}))).await?;
    assert_eq!(
        (code, &err["error"]),
        (409, &json!("not_shareable")),
        "{err}"
    );
    assert!(err["message"]
        .as_str()
        .unwrap_or_default()
        .contains("POST /api/instances"));
    let (code, view) = call(share(json!({"users": [], "groups": []}))).await?;
    assert_eq!(code, 200, "sharing with nobody is always fine: {view}");

    let resp = http.delete(&url).send().await?;
    assert_eq!(resp.status(), 204);
    assert!(
        fx.wait_for_no_launcher(Duration::from_secs(60)).await,
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
    // Everyone's: for admins only, each with its owner; a bad ask is a 400.
    let everyone = fx.proxy.url("/api/instances?all=true");
    let (code, err) = call(as_user(http.get(&everyone), &alice)).await?;
    assert_eq!(
        (code, err["error"].as_str()),
        (403, Some("forbidden")),
        "{err}"
    );
    let (code, list) = call(as_user(http.get(&everyone), &admin)).await?;
    assert_eq!(code, 200, "{list}");
    let owners: Vec<(&str, &str)> = list["instances"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|i| Some((i["instance_id"].as_str()?, i["user_id"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(owners, [(id.as_str(), bob.uid.as_str())], "{list}");
    for bad in ["all=yes", &format!("all=true&user_id={}", bob.uid)] {
        let url = fx.proxy.url(&format!("/api/instances?{bad}"));
        let (code, err) = call(as_user(http.get(&url), &admin)).await?;
        assert_eq!(code, 400, "{bad}: {err}");
    }
    for (method, path) in [
        ("GET", one.clone()),
        ("DELETE", one.clone()),
        ("POST", format!("{one}/stop")),
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

    // The admin stops it for bob, then deletes it.
    let (code, stopped) = call(as_user(
        http.post(fx.proxy.url(&format!("{one}/stop"))),
        &admin,
    ))
    .await?;
    assert_eq!(
        (code, stopped["status"].as_str()),
        (200, Some("stopped")),
        "{stopped}"
    );
    assert!(
        fx.proxy.launcher_pids_of(&bob.uid).is_empty(),
        "bob's launcher is gone"
    );
    // The admin deletes it for bob.
    let resp = as_user(http.delete(fx.proxy.url(&one)), &admin)
        .send()
        .await?;
    assert_eq!(resp.status(), 204);
    let (code, _) = call(as_user(http.get(fx.proxy.url(&one)), &bob)).await?;
    assert_eq!(code, 404);
    Ok(())
}
