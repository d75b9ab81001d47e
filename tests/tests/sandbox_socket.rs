//! A team on one machine, sandboxed: each launcher's socket is named in a run
//! folder its sandbox writes, so Alice's terminal can put a link there in its
//! place. The proxy (which can reach every socket of its OS user: a container
//! engine's, other users' launchers) must not follow it: the link is refused and
//! nothing connects to what it points at.

use std::time::Duration;

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use dcs_model::{RepoRef, UserId, WorkspaceKey};

#[tokio::test]
async fn a_link_in_place_of_the_launchers_socket_is_not_followed() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    // The reaper asks each launcher's clock every 6 s, over a connection of its
    // own, and says (at debug) why it could not.
    let timeout = ["--idle-timeout".to_owned(), "60s".to_owned()];
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &timeout)?;
    let ready = fx.proxy.url("/github/acme/hello/_dcs/ready");
    let resp = issuer.signed(client().get(&ready), &alice).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let key = WorkspaceKey::new(UserId::new(&alice.uid)?, RepoRef::parse("acme/hello")?);
    let socket = fx
        .proxy
        .data_dir
        .join("run")
        .join(key.name().as_str())
        .join("launcher.sock");
    assert!(socket.exists(), "{}", socket.display());

    // A socket of the host's, outside every sandbox.
    let host_dir = tempfile::tempdir()?;
    let host = host_dir.path().join("engine.sock");
    let listener = std::os::unix::net::UnixListener::bind(&host)?;
    listener.set_nonblocking(true)?;
    // What Alice's terminal can do in her run folder.
    std::fs::remove_file(&socket)?;
    std::os::unix::fs::symlink(&host, &socket)?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !fx.proxy.log().contains("is a symbolic link") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the proxy never said it refused the link: {}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("something connected to the host's socket: {other:?}"),
    }
    Ok(())
}
