//! `--auth trusted-headers` end to end: a verified token opens the caller's own
//! workspace, keyed by uid; another user can neither see nor reach it; a peer
//! outside `--trusted-proxies` is refused even with a valid token.

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;

fn fixture(issuer: &JwtIssuer, uid: &str, extra: &[&str]) -> anyhow::Result<Fixture> {
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    Fixture::trusted_headers(issuer, uid, &extra)
}

/// `req` as `user`, with the headers an ingress would add after forward auth.
fn signed(req: RequestBuilder, issuer: &JwtIssuer, user: &FakeUser) -> RequestBuilder {
    issuer.signed(req, user)
}

#[tokio::test]
async fn each_user_gets_their_own_workspace_and_cannot_reach_anothers() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let fx = fixture(&issuer, &alice.uid, &[])?;
    let secret_url = fx
        .proxy
        .url("/github/acme/hello/_dcs/files/alice-secret.txt");

    let resp = signed(client().put(&secret_url), &issuer, &alice)
        .body("alice's notes")
        .send()
        .await?;
    assert_eq!(resp.status(), 201, "{}", fx.proxy.log());
    let alice_file = fx
        .proxy
        .volume_of(&alice.uid)
        .join("acme/hello/alice-secret.txt");
    assert_eq!(std::fs::read_to_string(&alice_file)?, "alice's notes");

    // Bob opens the same repository: his own checkout, without alice's file.
    let resp = signed(
        client().get(fx.proxy.url("/github/acme/hello/")),
        &issuer,
        &bob,
    )
    .header("accept", "text/html")
    .send()
    .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let page = resp.text().await?;
    assert!(
        page.contains("README.md") && !page.contains("alice-secret"),
        "{page}"
    );
    let bob_checkout = fx.proxy.volume_of(&bob.uid).join("acme/hello");
    assert!(bob_checkout.join("README.md").is_file());
    assert!(!bob_checkout.join("alice-secret.txt").exists());
    let mut both = vec![alice.uid.clone(), bob.uid.clone()];
    both.sort();
    assert_eq!(fx.proxy.volumes(), both, "workspaces are keyed by uid");

    // Neither the file URL nor claiming alice's name in a header reaches it.
    let resp = client()
        .get(&secret_url)
        .header("x-authentik-uid", &bob.uid)
        .header("x-authentik-username", "alice")
        .header("x-authentik-jwt", issuer.token(&bob.uid, "bob"))
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        404,
        "the signed claims, not the header, say who"
    );
    let resp = signed(client().get(&secret_url), &issuer, &bob)
        .send()
        .await?;
    assert_eq!(resp.status(), 404);

    // Alice still sees it.
    let resp = signed(client().get(&secret_url), &issuer, &alice)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "alice's notes");
    Ok(())
}

#[tokio::test]
async fn a_peer_outside_the_trusted_proxies_is_refused_even_with_a_valid_token(
) -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let fx = fixture(&issuer, &alice.uid, &["--trusted-proxies", "10.0.0.0/8"])?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = signed(client().get(&url), &issuer, &alice).send().await?;
    assert_eq!(resp.status(), 401);
    assert!(fx.proxy.volumes().is_empty(), "no workspace was started");

    // The loopback peer is trusted when listed.
    let fx = fixture(
        &issuer,
        &alice.uid,
        &["--trusted-proxies", "10.0.0.0/8,127.0.0.0/8"],
    )?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = signed(client().get(&url), &issuer, &alice).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    Ok(())
}
