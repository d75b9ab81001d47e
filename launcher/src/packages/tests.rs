//! Planning over fake images: the libc, which manager, which packages, and what a
//! root, a non-root and a local launcher each do about what is missing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::*;

/// A fake image: commands on `PATH`, files that exist, `/etc/os-release`.
struct Image {
    commands: HashSet<&'static str>,
    files: HashSet<PathBuf>,
    os_release: &'static str,
}

const GLIBC: &str = "/lib64/ld-linux-x86-64.so.2";
const MUSL: &str = "/lib/ld-musl-x86_64.so.1";
const LIBSTDCXX: &str = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
const ROOT: Privilege = Privilege::ContainerRoot;
const USER: Privilege = Privilege::ContainerUser { uid: 1000 };

impl Image {
    fn new(os_release: &'static str, commands: &[&'static str], files: &[&str]) -> Self {
        Self {
            commands: commands.iter().copied().collect(),
            files: files.iter().map(PathBuf::from).collect(),
            os_release,
        }
    }

    fn plan_as(&self, kind: &'static str, privilege: Privilege) -> Result<Plan> {
        let on_path = |c: &str| self.commands.contains(c);
        let exists = |p: &Path| self.files.contains(p);
        let probe = Probe {
            on_path: &on_path,
            exists: &exists,
            os_release: Some(self.os_release),
        };
        plan(kind, &probe, privilege, "x86_64")
    }

    fn plan(&self, kind: &'static str) -> Result<Plan> {
        self.plan_as(kind, ROOT)
    }

    fn libc(&self) -> Libc {
        let exists = |p: &Path| self.files.contains(p);
        let probe = Probe {
            on_path: &|_| false,
            exists: &exists,
            os_release: None,
        };
        libc(&probe, "x86_64")
    }
}

const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
const ALPINE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nPRETTY_NAME=\"Alpine Linux v3.19\"\n";
const AMAZON: &str = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n";

#[test]
fn the_libc_is_read_from_the_loaders_the_image_has() {
    assert_eq!(Image::new(DEBIAN, &[], &[GLIBC]).libc(), Libc::Glibc);
    // A glibc image with Debian's musl package installed is still a glibc image.
    assert_eq!(Image::new(DEBIAN, &[], &[GLIBC, MUSL]).libc(), Libc::Glibc);
    assert_eq!(Image::new(ALPINE, &[], &[MUSL]).libc(), Libc::Musl);
    assert_eq!(Image::new(ALPINE, &[], &[]).libc(), Libc::Static);
    let aarch64 = |files: &[&str]| {
        let image = Image::new(DEBIAN, &[], files);
        let exists = |p: &Path| image.files.contains(p);
        libc(
            &Probe {
                on_path: &|_| false,
                exists: &exists,
                os_release: None,
            },
            "aarch64",
        )
    };
    assert_eq!(aarch64(&["/lib/ld-linux-aarch64.so.1"]), Libc::Glibc);
    assert_eq!(aarch64(&["/lib/ld-musl-aarch64.so.1"]), Libc::Musl);
}

#[test]
fn a_slim_debian_as_root_gets_only_what_is_missing_through_apt_get() {
    let image = Image::new(DEBIAN, &["apt-get", "sh"], &[GLIBC, LIBSTDCXX]);
    let Plan::Install {
        manager,
        packages,
        commands,
    } = image.plan("code-server").expect("plan")
    else {
        panic!("git is missing");
    };
    assert_eq!(manager, Manager::AptGet);
    assert_eq!(packages, ["git"], "CA certificates come with the launcher");
    assert_eq!(commands[0], ["apt-get", "update"]);
    assert_eq!(
        commands[1],
        ["apt-get", "install", "-y", "--no-install-recommends", "git"]
    );
}

#[test]
fn an_image_with_everything_needs_nothing() {
    let image = Image::new(
        DEBIAN,
        &["apt-get", "git"],
        &[GLIBC, "/usr/lib64/libstdc++.so.6"],
    );
    assert_eq!(image.plan("openvscode").expect("plan"), Plan::Nothing);
    for privilege in [ROOT, USER, Privilege::Local] {
        let bare = Image::new(DEBIAN, &[], &[]);
        assert_eq!(
            bare.plan_as("none", privilege).expect("plan"),
            Plan::Nothing
        );
    }
}

#[test]
fn each_manager_is_detected_and_names_its_own_packages() {
    let cases = [
        ("apk", Manager::Apk, "libstdc++", "apk add --no-cache"),
        ("dnf", Manager::Dnf, "libstdc++", "dnf install -y"),
        (
            "microdnf",
            Manager::Microdnf,
            "libstdc++",
            "microdnf install -y",
        ),
        ("yum", Manager::Yum, "libstdc++", "yum install -y"),
        (
            "zypper",
            Manager::Zypper,
            "libstdc++6",
            "zypper --non-interactive install",
        ),
    ];
    for (cmd, manager, libstdcxx, line) in cases {
        let image = Image::new(AMAZON, &[cmd], &[GLIBC]);
        let Ok(Plan::Install {
            manager: m,
            packages,
            commands,
        }) = image.plan("code-server")
        else {
            panic!("{cmd}: an install plan");
        };
        assert_eq!(m, manager);
        assert!(packages.contains(&libstdcxx), "{cmd}: {packages:?}");
        assert!(
            commands
                .last()
                .expect("a command")
                .join(" ")
                .starts_with(line),
            "{cmd}"
        );
    }
}

#[test]
fn root_without_a_package_manager_names_the_image_and_what_it_lacks() {
    let err = Image::new(AMAZON, &["sh"], &[GLIBC])
        .plan("code-server")
        .expect_err("no manager");
    let msg = err.to_string();
    assert!(msg.contains("Amazon Linux 2023 lacks libstdc++6"), "{msg}");
    assert!(
        msg.contains("apt-get, apk, dnf, yum, microdnf, zypper"),
        "{msg}"
    );
    // Only git missing: a warning, the IDE starts.
    let only_git = Image::new(AMAZON, &["sh"], &[GLIBC, LIBSTDCXX]);
    assert_eq!(
        only_git.plan("code-server").expect("plan"),
        Plan::Lacking {
            packages: vec!["git"]
        }
    );
}

#[test]
fn a_non_root_container_installs_nothing_and_names_the_missing_piece() {
    let image = Image::new(DEBIAN, &["apt-get", "sh"], &[GLIBC]);
    let msg = image
        .plan_as("code-server", USER)
        .expect_err("libstdc++ is required")
        .to_string();
    assert!(
        msg.contains("Debian GNU/Linux 12 (bookworm) lacks libstdc++6")
            && msg.contains("runs as uid 1000")
            && msg.contains("`RUN apt-get install -y --no-install-recommends libstdc++6`")
            && msg.contains("`none`"),
        "{msg}"
    );
    // What is optional is only a warning; nothing is ever run.
    let with_cxx = Image::new(DEBIAN, &["apt-get"], &[GLIBC, LIBSTDCXX]);
    assert_eq!(
        with_cxx.plan_as("code-server", USER).expect("plan"),
        Plan::Lacking {
            packages: vec!["git"]
        }
    );
    assert_eq!(
        Image::new(DEBIAN, &[], &[])
            .plan_as("vscode", USER)
            .expect("plan"),
        Plan::Lacking {
            packages: vec!["git"]
        }
    );
}

#[test]
fn a_local_launcher_never_installs_and_only_warns() {
    let image = Image::new(DEBIAN, &["apt-get"], &[GLIBC]);
    assert_eq!(
        image
            .plan_as("code-server", Privilege::Local)
            .expect("plan"),
        Plan::Lacking {
            packages: vec!["git", "libstdc++6"]
        }
    );
}

#[test]
fn a_glibc_only_ide_without_glibc_fails_at_once_naming_the_kinds_that_work() {
    let alpine = Image::new(ALPINE, &["apk"], &[MUSL, "/usr/lib/libstdc++.so.6"]);
    let scratch = Image::new("ID=busybox\n", &["sh"], &[]);
    for privilege in [ROOT, USER, Privilege::Local] {
        for kind in ["code-server", "openvscode"] {
            let msg = alpine
                .plan_as(kind, privilege)
                .expect_err("glibc only")
                .to_string();
            assert!(
                msg.contains(&format!("{kind} needs glibc"))
                    && msg.contains("Alpine Linux v3.19 uses musl")
                    && msg.contains("the IDE kinds that work on this image: vscode, none"),
                "{msg}"
            );
            let msg = scratch
                .plan_as(kind, privilege)
                .expect_err("no libc")
                .to_string();
            assert!(
                msg.contains("busybox has no C library")
                    && msg.contains("the IDE kinds that work on this image: none."),
                "{msg}"
            );
        }
    }
    let vscode = alpine.plan("vscode").expect("vscode runs on musl");
    assert!(matches!(
        vscode,
        Plan::Install {
            manager: Manager::Apk,
            ..
        }
    ));
}

#[test]
fn the_image_name_falls_back_to_its_id_then_to_a_phrase() {
    assert_eq!(image_name(Some("ID=wolfi\n")), "wolfi");
    assert_eq!(image_name(None), "this image");
}

#[test]
fn this_test_process_is_local() {
    assert_eq!(Privilege::here(), Privilege::Local);
}
