//! The generated Knative workspace container in a root without glibc: Debian's
//! `busybox-static` (`/bin/sh` and the applets) and `musl` (the loader
//! `/lib/ld-musl-x86_64.so.1`), built by `make rootfs`, run under bubblewrap as uid
//! 1000 with no capabilities (see `dcs_e2e::rootfs`).
//!
//! - The `none` IDE works: the static launcher clones over HTTPS (the private CA given
//!   as the extra CA Secret), answers `/_dcs/ready`, stops cleanly.
//! - The glibc-only kinds (code-server, openvscode) fail at once with a message
//!   naming the image's libc and the kinds that work there; nothing is downloaded
//!   (the mirror gets no request) and nothing is installed.

use std::time::Duration;

use dcs_e2e::rootfs::scene::{Scene, README};

const START: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_musl_root_runs_none_and_refuses_glibc_only_kinds_naming_those_that_work(
) -> anyhow::Result<()> {
    let mut scene = Scene::new("musl")?;
    let root = scene.root().to_path_buf();
    assert!(
        !root.join("lib64/ld-linux-x86-64.so.2").exists()
            && root.join("lib/ld-musl-x86_64.so.1").exists(),
        "the musl root must have musl's loader and not glibc's"
    );
    let git_base = scene.git().base_url();

    let none = scene.start("none", &git_base).await?;
    none.ready(START).await?;
    let readme = scene.volume("workspaces").join("acme/hello/README.md");
    assert_eq!(std::fs::read_to_string(readme)?, README);
    let log = none.container.log();
    assert_eq!(none.stop().await?, Some(0), "a clean stop:\n{log}");

    scene.with_code_server()?;
    for kind in ["code-server", "openvscode"] {
        let mut ide = scene.start(kind, &git_base).await?;
        // Under Knative (the container has `K_SERVICE`) a failed start ends the
        // launcher with status 1 and the reason as its termination message, so
        // Knative reports the revision failed at once, with that reason
        // (`dcs_launcher::failed_start`). Read after the end, as the kubelet does:
        // nothing here depends on catching the launcher's last seconds.
        let status = ide.container.wait(START).await?;
        let log = ide.container.log();
        assert_eq!(status.code(), Some(1), "{kind}:\n{log}");
        let message = ide.termination_message()?;
        assert!(
            message.contains(&format!("{kind} needs glibc"))
                && message.contains("busybox and musl (Debian packages) uses musl")
                && message.contains("the IDE kinds that work on this image: vscode, none"),
            "{kind}: termination message {message:?}\n{log}"
        );
        assert_eq!(
            scene.release_requests(),
            0,
            "{kind}: nothing was downloaded"
        );
        assert!(
            !log.contains("installing"),
            "{kind}: nothing was installed:\n{log}"
        );
        assert!(
            log.contains("ending so Knative reports it"),
            "{kind}:\n{log}"
        );
    }
    Ok(())
}
