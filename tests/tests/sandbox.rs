//! A team on one machine: the local runtime with a multi-user sign-in runs each
//! workspace in a bubblewrap sandbox, for real. Alice's terminal can neither list
//! nor read Bob's files, nor connect to Bob's launcher or the proxy's port, nor read
//! the operator's git token; and both work normally otherwise: the clone (with the
//! token), the `none` IDE, previews — on the same port at once, each their own.
//! Their terminals are streams of one HTTP/2 connection to each launcher's socket
//! (`--websocket-streams always`), each stream checked on its own.

use dcs_e2e::{client, FakeUser, Fixture, GitServer, JwtIssuer};
use dcs_model::{RepoRef, UserId, WorkspaceKey};

#[path = "common/terminal.rs"]
mod terminal;
use terminal::Terminal;

const TERMINAL: &str = "/github/acme/hello/_dcs/terminal";

fn signed_in(issuer: &JwtIssuer, user: &FakeUser) -> Vec<(String, String)> {
    vec![
        ("x-authentik-uid".into(), user.uid.clone()),
        ("x-authentik-username".into(), user.username.clone()),
        (
            "x-authentik-jwt".into(),
            issuer.token(&user.uid, &user.username),
        ),
    ]
}

/// A free loopback port (the kernel's pick, released again).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn two_users_share_a_machine_and_neither_reaches_the_other() -> anyhow::Result<()> {
    let token = "ghp_operator_sandbox_0123456789abcdefXYZ";
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let secrets = tempfile::tempdir()?;
    let token_file = secrets.path().join("git-token");
    std::fs::write(&token_file, token)?;
    let jwt_secret = issuer.write_secret(secrets.path())?;
    let fx = Fixture::with_git(
        |root| GitServer::builder(root).require_token(token).start(),
        |b| {
            issuer
                .proxy_args(&jwt_secret)
                .into_iter()
                .fold(b.user(&alice.uid), |b, a| b.arg(a))
                .arg("--git-token-file")
                .arg(token_file.to_string_lossy())
                .arg("--websocket-streams")
                .arg("always")
        },
    )?;
    let as_user = |req: reqwest::RequestBuilder, user: &FakeUser| issuer.signed(req, user);

    // Both work: the clone (with the operator's token), files, the `none` IDE.
    for (user, file) in [(&alice, "alice-secret.txt"), (&bob, "bob-secret.txt")] {
        let url = fx
            .proxy
            .url(&format!("/github/acme/hello/_dcs/files/{file}"));
        let resp = as_user(client().put(&url), user)
            .body(format!("{} only", user.username))
            .send()
            .await?;
        assert_eq!(resp.status(), 201, "{}", fx.proxy.log());
        let page = as_user(client().get(fx.proxy.url("/github/acme/hello/")), user)
            .header("accept", "text/html")
            .send()
            .await?;
        assert_eq!(page.status(), 200);
        assert!(page.text().await?.contains("README.md"));
    }
    let bob_volume = fx.proxy.volume_of(&bob.uid);
    let bob_key = WorkspaceKey::new(UserId::new(&bob.uid)?, RepoRef::parse("acme/hello")?);
    let bob_socket = fx
        .proxy
        .data_dir
        .join("run")
        .join(bob_key.name().as_str())
        .join("launcher.sock");
    assert!(bob_socket.exists(), "{}", bob_socket.display());

    // Previews: the same port in both workspaces at once, each its own app.
    let port = free_port()?;
    let serve = format!("python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 &");
    let mut alices = Terminal::open(fx.proxy.addr, TERMINAL, &signed_in(&issuer, &alice)).await?;
    let mut bobs = Terminal::open(fx.proxy.addr, TERMINAL, &signed_in(&issuer, &bob)).await?;
    alices.run(&serve).await?;
    bobs.run(&serve).await?;
    for (user, mine, theirs) in [
        (&alice, "alice-secret.txt", "bob-secret.txt"),
        (&bob, "bob-secret.txt", "alice-secret.txt"),
    ] {
        let url = fx.proxy.url(&format!("/github/acme/hello/ports/{port}/"));
        let mut listing = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while !listing.contains(mine) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no preview: {listing}"
            );
            let resp = as_user(client().get(&url), user).send().await?;
            listing = resp.text().await?;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(!listing.contains(theirs), "{listing}");
    }

    // Alice cannot list or read Bob's files.
    let out = alices
        .run(&format!("ls {} 2>&1; echo rc=$?", bob_volume.display()))
        .await?;
    assert!(
        out.contains("No such file") && !out.contains("rc=0"),
        "{out}"
    );
    let out = alices
        .run(&format!(
            "cat {}/acme/hello/bob-secret.txt 2>&1; echo rc=$?",
            bob_volume.display()
        ))
        .await?;
    assert!(!out.contains("bob only") && !out.contains("rc=0"), "{out}");
    let out = alices
        .run(&format!("ls {}/workspaces", fx.proxy.data_dir.display()))
        .await?;
    assert!(out.contains(&alice.uid) && !out.contains(&bob.uid), "{out}");
    // Nor connect to Bob's launcher, or to the proxy's port.
    let connect = |target: String| {
        format!("python3 -c \"import socket; {target}\" >/dev/null 2>&1 && echo CONNECTED || echo REFUSED")
    };
    let out = alices
        .run(&connect(format!(
            "s = socket.socket(socket.AF_UNIX); s.connect('{}')",
            bob_socket.display()
        )))
        .await?;
    assert!(out.contains("REFUSED"), "{out}");
    let out = alices
        .run(&connect(format!(
            "socket.create_connection(('127.0.0.1', {}), 5)",
            fx.proxy.addr.port()
        )))
        .await?;
    assert!(out.contains("REFUSED"), "{out}");
    // Her workspace's processes are all there is in its PID namespace, under its launcher.
    let out = alices
        .run("cat /proc/1/comm; ls /proc | grep -c '^[0-9]'")
        .await?;
    assert!(out.contains("dcs-launcher"), "{out}");
    // Nor read the operator's token, anywhere.
    let (a, b) = token.split_at(token.len() / 2);
    alices
        .run(&format!("printf '%s%s\\n' '{a}' '{b}' > /tmp/needle"))
        .await?;
    let out = alices
        .run(
            "{ grep -rlsF -f /tmp/needle --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev \
             --exclude-dir=usr / ; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do \
             grep -lsaF -f /tmp/needle \"$f\"; done; } | grep -vx /tmp/needle; echo searched",
        )
        .await?;
    assert!(out.contains("searched"), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with('/')),
        "the token at: {out}"
    );

    // Bob's workspace works as ever.
    let out = bobs.run("cat README.md bob-secret.txt").await?;
    assert!(out.contains("# hello") && out.contains("bob only"), "{out}");
    alices.close().await;
    bobs.close().await;
    let metrics = fx.proxy.metrics().await?;
    let upgrades = dcs_e2e::metric(&metrics, "dcs_upgrades_total");
    let streams = dcs_e2e::metric(&metrics, "dcs_upgrade_streams_total");
    assert!(
        upgrades >= 2 && streams == upgrades,
        "{upgrades} upgrades, {streams} streams"
    );
    Ok(())
}
