//! A team on one machine, sandboxed: the checkout step runs outside the sandboxes
//! (with the operator's token, able to reach every volume), so a link planted in
//! one user's volume must not point it at another's. Alice's `acme` is a link to
//! Bob's: her start is refused saying which link to replace, and Bob's checkout is
//! neither fetched into nor changed.

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};

fn git(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()?;
    anyhow::ensure!(out.status.success(), "git {args:?}: {out:?}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn a_link_to_another_users_volume_is_not_followed_by_the_checkout() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let ready = fx.proxy.url("/github/acme/hello/_dcs/ready");
    let resp = issuer.signed(client().get(&ready), &bob).send().await?;
    assert_eq!(resp.status(), 200, "bob's workspace: {}", fx.proxy.log());
    let bobs = fx.proxy.volume_of(&bob.uid).join("acme/hello");
    // Bob's own history step (after his start) fetches into his checkout: let it
    // end before his refs are taken as what must not change.
    let history_done = dcs_e2e::wait_until(
        std::time::Duration::from_secs(120),
        std::time::Duration::from_millis(50),
        || fx.proxy.log().contains("history step done"),
    )
    .await;
    assert!(history_done, "bob's history step: {}", fx.proxy.log());
    fx.repo
        .commit(&[("later.txt", "later\n")], "upstream moved on")?;
    let before = git(&bobs, &["for-each-ref"])?;

    // What alice's terminal can do in her own volume.
    let hers = fx.proxy.volume_of(&alice.uid);
    std::fs::create_dir_all(&hers)?;
    std::os::unix::fs::symlink(fx.proxy.volume_of(&bob.uid).join("acme"), hers.join("acme"))?;
    let resp = issuer.signed(client().get(&ready), &alice).send().await?;
    let code = resp.status();
    let text = resp.text().await?;
    assert_ne!(code, 200, "{text}\n{}", fx.proxy.log());
    assert!(text.contains("is a symbolic link"), "{code} {text}");
    assert_eq!(
        git(&bobs, &["for-each-ref"])?,
        before,
        "nothing fetched into bob's checkout: {}",
        fx.proxy.log()
    );
    assert!(!bobs.join("later.txt").exists());
    Ok(())
}
