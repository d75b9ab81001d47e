//! A team on one machine, sandboxed: a workspace runs code its user chose (an
//! extension, a build script). Started in the proxy's session, that code had the
//! proxy's controlling terminal (an operator's shell, tmux or ssh session) at
//! `/dev/tty`, and could type into it (`TIOCSTI`). Each sandbox is a session of its
//! own: nothing in it shares the proxy's, and a stop still ends all of it.

use std::time::Duration;

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};

/// The session id of `pid` (field 6 of `/proc/<pid>/stat`).
fn session(pid: u32) -> anyhow::Result<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').ok_or_else(|| anyhow::anyhow!("{stat}"))? + 1..];
    let field = rest.split_whitespace().nth(3);
    Ok(field.ok_or_else(|| anyhow::anyhow!("{stat}"))?.parse()?)
}

#[tokio::test]
async fn a_sandbox_is_a_session_of_its_own() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let ready = fx.proxy.url("/github/acme/hello/_dcs/ready");
    let resp = issuer.signed(client().get(&ready), &alice).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let proxy = fx
        .proxy
        .pid()
        .ok_or_else(|| anyhow::anyhow!("no proxy pid"))?;
    let launchers = fx.proxy.launcher_pids_of(&alice.uid);
    assert_eq!(launchers.len(), 1, "{launchers:?}");
    let (theirs, ours) = (session(launchers[0])?, session(proxy)?);
    assert_ne!(theirs, ours, "the sandbox shares the proxy's session");

    // Stopped as one still: nothing of its session is left.
    let (_, list) =
        dcs_e2e::api::call(issuer.signed(client().get(fx.proxy.url("/api/instances")), &alice))
            .await?;
    let id = list["instances"][0]["instance_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no workspace in {list}"))?
        .to_owned();
    let gone = issuer
        .signed(
            client().delete(fx.proxy.url(&format!("/api/instances/{id}"))),
            &alice,
        )
        .send()
        .await?;
    assert_eq!(gone.status(), 204, "{}", fx.proxy.log());
    let in_session = || -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| session(*pid).is_ok_and(|s| s == theirs))
            .collect()
    };
    let left =
        dcs_e2e::procs::wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
            in_session().is_empty()
        })
        .await;
    assert!(left, "left in the sandbox's session: {:?}", in_session());
    Ok(())
}
