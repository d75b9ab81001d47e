//! A preview link opens its host only in the browser it was made for: Bob cannot
//! sign Alice's browser into his preview host (and so run his page on the preview
//! domain, next to hers) by sending her the address his browser was sent to.

use dcs_e2e::{client, FakeOutpost, FakeUser, Fixture};
use reqwest::header::COOKIE;

use super::hosts::{enter, location, reaching, redeem, set_cookies, ticket, DOMAIN};

/// Whether `resp` signs its browser in to a preview host.
fn signs_in(resp: &reqwest::Response) -> bool {
    set_cookies(resp)
        .iter()
        .any(|c| c.starts_with("dcs_preview="))
}

#[tokio::test]
async fn a_preview_link_sent_to_someone_else_opens_nothing_for_them() -> anyhow::Result<()> {
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let outpost = FakeOutpost::start(vec![alice.clone(), bob.clone()])?;
    let fx = Fixture::new(|b| {
        outpost
            .signs_in(b.user(&alice.uid))
            .arg("--preview-domain")
            .arg(DOMAIN)
    })?;
    let (alice_session, bob_session) = (outpost.session_for("alice")?, outpost.session_for("bob")?);
    // Nothing is forwarded below: any port names a preview.
    let path = "/github/acme/hello/ports/9998/page";
    let as_alice = |url: &str| client().get(url).header(COOKIE, &alice_session);

    // The address bob's browser is sent to from the preview path, opened by alice's.
    let resp = client()
        .get(fx.proxy.url(path))
        .header(COOKIE, &bob_session)
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    let sent = reqwest::Url::parse(&location(&resp))?;
    let bobs_host = sent.host_str().unwrap_or_default().to_owned();
    let at_bobs = reaching(&bobs_host, fx.proxy.addr)?;
    let resp = at_bobs.get(sent.clone()).send().await?;
    assert!(
        !signs_in(&resp),
        "signed in to bob's host: {:?}",
        set_cookies(&resp)
    );
    // It only sends her back to the main origin, where she is herself: her own host.
    assert_eq!(resp.status(), 303);
    let back = location(&resp);
    assert!(back.starts_with(&fx.proxy.url(path)), "{back}");
    let mine = enter(&fx, &fx.proxy.url(path), as_alice).await?;
    assert_ne!(mine.host, bobs_host);

    // A ticket bob's browser got, sent to alice: refused in her browser, whatever
    // nonce it holds there, and still bob's to use.
    let bobs = ticket(&fx, path, Some(&bob_session)).await?;
    assert_eq!(bobs.host, bobs_host);
    let (her_nonce, _) = super::hosts::set_cookie(&resp);
    for cookie in [
        None,
        Some(her_nonce.as_str()),
        Some("dcs_preview_nonce=guess"),
    ] {
        let mut req = at_bobs.get(bobs.url.clone());
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), 403, "{cookie:?}: {}", fx.proxy.log());
        assert!(!signs_in(&resp), "{cookie:?}");
        assert!(resp.text().await?.contains("another browser"), "{cookie:?}");
    }
    redeem(&at_bobs, &bobs).await?;
    // Hers opens in hers.
    redeem(&reaching(&mine.host, fx.proxy.addr)?, &mine).await?;
    Ok(())
}
