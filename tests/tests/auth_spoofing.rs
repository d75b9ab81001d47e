//! The spoofing corpus against `--auth trusted-headers`: every forged, stale,
//! oversized or injected identity is refused (401, or 400 where the HTTP parser
//! already refuses the bytes) and never reaches a workspace: no workspace is
//! started for anyone. Then a valid token works, proving the setup was right.
//! Also: outpost paths are not served outside `--auth authentik`, and
//! `--check-config` lists every sign-in problem at once.

use dcs_e2e::jwt::{alg_none, rs256_forgery, sign_with, with, Algorithm};
use dcs_e2e::{bin_path, client, raw_request, FakeUser, Fixture, JwtIssuer};
use serde_json::json;

#[tokio::test]
async fn every_forged_identity_is_refused_and_starts_nothing() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let (alice, mallory) = (FakeUser::new("alice"), FakeUser::new("mallory"));
    let mut fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let claims = issuer.claims(&alice.uid, "alice");
    let now = dcs_e2e::jwt::now();
    let long = "a".repeat(5 * 1024);
    let huge_token = issuer.sign(&with(claims.clone(), "pad", json!("x".repeat(17 * 1024))));
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("identity headers, no token", None),
        ("alg none", Some(alg_none(&claims))),
        ("RS256", Some(rs256_forgery(&claims))),
        (
            "HS384 with the right secret",
            Some(sign_with(Algorithm::HS384, &issuer.secret, &claims)),
        ),
        (
            "wrong secret",
            Some(sign_with(Algorithm::HS256, "guessed", &claims)),
        ),
        (
            "expired",
            Some(issuer.sign(&with(claims.clone(), "exp", json!(now - 300)))),
        ),
        (
            "wrong aud",
            Some(issuer.sign(&with(claims.clone(), "aud", json!("other-app")))),
        ),
        (
            "wrong iss",
            Some(issuer.sign(&with(claims.clone(), "iss", json!("https://evil.test/")))),
        ),
        (
            "sub is another user",
            Some(issuer.token(&mallory.uid, "mallory")),
        ),
        ("token over 16 KiB", Some(huge_token)),
        (
            "CR/LF in a signed claim",
            Some(issuer.sign(&with(
                claims.clone(),
                "preferred_username",
                json!("a\r\nX-Evil: 1"),
            ))),
        ),
        ("garbage", Some("e30.e30.e30".into())),
    ];
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    for (case, token) in tokens {
        let mut req = client()
            .get(&url)
            .header("x-authentik-uid", &alice.uid)
            .header("x-authentik-username", "alice");
        if let Some(t) = token {
            req = req.header("x-authentik-jwt", t);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), 401, "{case}");
    }

    // Header hygiene, with an otherwise valid token.
    let good = issuer.token(&alice.uid, "alice");
    // Identity comes from the token's claims only: other identity headers, however
    // dirty, are not read (so they cannot refuse a good token nor add to it)…
    let ignored: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("oversized username", vec![("x-authentik-username", &long)]),
        ("oversized groups", vec![("x-authentik-groups", &long)]),
    ];
    // …while the uid that must name the token's subject is checked.
    let refused: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("two uids", vec![("x-authentik-uid", &mallory.uid)]),
        ("no uid at all", vec![]),
    ];
    let send = |case: &'static str, extra: Vec<(&'static str, &str)>| {
        let mut req = client().get(&url).header("x-authentik-jwt", &good);
        if case != "no uid at all" {
            req = req.header("x-authentik-uid", &alice.uid);
        }
        for (n, v) in extra {
            req = req.header(n, v);
        }
        req
    };
    for (case, extra) in refused {
        assert_eq!(send(case, extra).send().await?.status(), 401, "{case}");
    }

    // Raw bytes a client library would refuse to send. Malformed heads are refused
    // (400 from the HTTP parser, or 401); a header that is merely not UTF-8 is one
    // of the identity headers the proxy never reads, so it changes nothing.
    let raw = |extra: &[u8]| {
        let mut req = format!(
            "GET /github/acme/hello/_dcs/files/README.md HTTP/1.1\r\nHost: {}\r\n\
             X-authentik-uid: {}\r\nX-authentik-jwt: {good}\r\n",
            fx.proxy.addr, alice.uid
        )
        .into_bytes();
        req.extend_from_slice(extra);
        req.extend_from_slice(b"Connection: close\r\n\r\n");
        req
    };
    let malformed: [&[u8]; 3] = [
        b"X-authentik-username: alice\rX-authentik-uid: victim\r\n",
        b"X-authentik-username: ali\x00ce\r\n",
        b"X-authentik-username: alice\r\n X-authentik-groups: admins\r\n",
    ];
    for extra in malformed {
        let resp = raw_request(fx.proxy.addr, &raw(extra)).await?;
        let shown = String::from_utf8_lossy(extra);
        assert!(
            matches!(resp.status, 400 | 401),
            "{shown:?}: {}",
            resp.status
        );
    }
    assert!(
        fx.proxy.volumes().is_empty(),
        "no forged request reached a workspace"
    );

    // What is ignored does not refuse a good token.
    for (case, extra) in ignored {
        assert_eq!(send(case, extra).send().await?.status(), 200, "{case}");
    }
    let latin1 = raw_request(fx.proxy.addr, &raw(b"X-authentik-name: \xe9l\xe8ve\r\n")).await?;
    assert_eq!(latin1.status, 200, "a non-UTF-8 identity header is ignored");

    // The same proxy serves a properly signed request.
    let resp = client()
        .get(&url)
        .header("x-authentik-uid", &alice.uid)
        .header("x-authentik-jwt", &good)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(fx.proxy.volumes(), std::slice::from_ref(&alice.uid));
    let log = fx.proxy.whole_log();
    assert!(!log.contains(&issuer.secret), "the secret is never logged");
    assert!(!log.contains(&good), "tokens are never logged");
    Ok(())
}

#[tokio::test]
async fn outpost_paths_are_not_served_outside_authentik_mode() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    for path in [
        "/outpost.goauthentik.io/start?rd=x",
        "/outpost.goauthentik.io/sign_out",
    ] {
        let resp = client().get(fx.proxy.url(path)).send().await?;
        assert_eq!(resp.status(), 404, "{path}");
    }
    Ok(())
}

#[test]
fn check_config_lists_every_sign_in_problem_and_allows_real_modes_off_loopback(
) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let check = |args: &[&str]| -> anyhow::Result<std::process::Output> {
        Ok(std::process::Command::new(bin_path("dcs-proxy")?)
            .args(["serve", "--listen", "0.0.0.0:0", "--check-config"])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--launcher-bin")
            .arg(bin_path("dcs-launcher")?)
            .args(args)
            .output()?)
    };
    let out = check(&["--auth", "none"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));

    let out = check(&[
        "--auth",
        "trusted-headers",
        "--trusted-proxies",
        "10.0.0.0/33",
    ])?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for flag in [
        "--jwt-secret-file",
        "--jwt-issuer",
        "--jwt-audience",
        "--trusted-proxies",
    ] {
        assert!(err.contains(flag), "{flag} missing from:\n{err}");
    }

    let out = check(&[
        "--auth",
        "authentik",
        "--authentik-outpost-url",
        "http://ak:9000",
        "--public-url",
        "https://ide.example.com",
    ])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    Ok(())
}
