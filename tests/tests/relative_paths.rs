//! An operator's relative paths: `dcs-proxy serve --launcher-bin bin/dcs-launcher
//! --data-dir data`, run from a folder, opens a workspace as absolute paths do. A
//! launcher starts in its workspace's folder, where those paths named nothing: the
//! first open failed with `cannot start bin/dcs-launcher: No such file or directory`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dcs_e2e::{bin_path, client, GitServer, UpstreamRepo};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The proxy, stopped with SIGTERM (it stops its launchers) when dropped.
struct Stops(Child);

impl Drop for Stops {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn relative_launcher_and_data_paths_mean_from_where_the_proxy_started() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("git");
    UpstreamRepo::create(&root, "acme/hello", &[("README.md", "# hello\n")])?;
    let git = GitServer::start(&root)?;
    let here = tmp.path().join("ops");
    std::fs::create_dir_all(here.join("bin"))?;
    std::os::unix::fs::symlink(bin_path("dcs-launcher")?, here.join("bin/dcs-launcher"))?;
    let log = tmp.path().join("proxy.log");
    // A home of its own, as the harness gives every proxy (`ProxyBuilder`): the
    // workspace's shells read no start-up files of this machine's user.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home)?;
    let mut child = Command::new(bin_path("dcs-proxy")?)
        .current_dir(&here)
        .env("HOME", &home)
        .args(["serve", "--listen", "127.0.0.1:0", "--user", "alice"])
        .args(["--git-base", &git.base_url()])
        .args(["--launcher-bin", "bin/dcs-launcher", "--data-dir", "data"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let announced = dcs_e2e::proxy::listening_addr(&mut child)?;
    let proxy = Stops(child);
    let addr = announced.recv_timeout(Duration::from_secs(30))?.addr;

    // The workspace opens (the first answers may be "starting"), its files served.
    let url = format!("http://{addr}/github/acme/hello/_dcs/files/README.md");
    let deadline = Instant::now() + Duration::from_secs(90);
    let (status, body) = loop {
        let resp = client().get(&url).send().await?;
        let (status, body) = (resp.status(), resp.text().await?);
        if status == 200 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status, 200, "{body}\n{}", said());
    assert_eq!(body, "# hello\n");
    // The volume is where `data` meant: under the folder the proxy started in.
    let checkout = here.join("data/workspaces/alice/acme/hello/README.md");
    assert!(checkout.is_file(), "no {}\n{}", checkout.display(), said());
    drop(proxy);
    Ok(())
}
