//! A preview host's cookie remembers the access policy it was allowed under: after
//! a restart with a policy that denies the repository, it opens (and starts)
//! nothing; a navigation is sent back to the main origin, which decides again.

use dcs_e2e::{client, location, navigation, Fixture, ProxyBuilder};
use reqwest::header::{COOKIE, SET_COOKIE};

use super::hosts::{reaching, redeem, ticket, DOMAIN};

fn serve_with(b: ProxyBuilder, secret: &std::path::Path, policy: &std::path::Path) -> ProxyBuilder {
    b.arg("--preview-domain")
        .arg(DOMAIN)
        .arg("--preview-secret-file")
        .arg(secret.display().to_string())
        .arg("--policy")
        .arg(policy.display().to_string())
}

#[tokio::test]
async fn a_policy_change_closes_preview_hosts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (secret, allow, deny) = (
        dir.path().join("preview.key"),
        dir.path().join("allow.yaml"),
        dir.path().join("deny.yaml"),
    );
    std::fs::write(&secret, [7u8; 32])?;
    std::fs::write(&allow, "default: allow\n")?;
    std::fs::write(&deny, "default: deny\n")?;
    let mut fx = Fixture::new(|b| serve_with(b, &secret, &allow))?;
    // Nothing is forwarded (or started) below: any port names a preview.
    let path = "/github/acme/hello/ports/9998/page";
    let minted = ticket(&fx, path, None).await?;
    let cookie = redeem(&reaching(&minted.host, fx.proxy.addr)?, &minted).await?;
    assert!(fx.proxy.launcher_pids().is_empty(), "{}", fx.proxy.log());

    // The same key, a policy that denies acme/hello.
    assert!(fx.proxy.terminate());
    fx.proxy = serve_with(
        ProxyBuilder::new(&fx.proxy.data_dir.clone(), &fx.git.base_url()),
        &secret,
        &deny,
    )
    .start()?;
    let resp = client().get(fx.proxy.url(path)).send().await?;
    assert_eq!(
        resp.status(),
        403,
        "the main origin denies: {}",
        fx.proxy.log()
    );

    let at = reaching(&minted.host, fx.proxy.addr)?;
    let page = format!("http://{}:{}/page", minted.host, fx.proxy.addr.port());
    let resp = at.get(&page).header(COOKIE, &cookie).send().await?;
    assert_eq!(
        resp.status(),
        403,
        "a page's own request: {}",
        fx.proxy.log()
    );
    assert!(resp.headers().get(SET_COOKIE).is_none());
    // A navigation goes back to the main origin to be decided again: denied there.
    let resp = navigation(at.get(&page))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    // (The main origin the cookie names is the first proxy's address: the same path
    // on this one's.)
    let back = reqwest::Url::parse(&location(&resp))?;
    assert_eq!(back.path(), path, "{back}");
    let back = fx
        .proxy
        .url(&format!("{path}?{}", back.query().unwrap_or_default()));
    let resp = navigation(client().get(&back)).send().await?;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await?.contains("access policy"));
    assert!(
        fx.proxy.launcher_pids().is_empty(),
        "a denied preview starts nothing: {}",
        fx.proxy.log()
    );
    Ok(())
}
