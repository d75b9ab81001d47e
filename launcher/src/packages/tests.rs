//! Planning over fake images: which manager, which packages, which errors.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::*;

/// A fake image: commands on `PATH`, files that exist, `/etc/os-release`.
struct Image {
    commands: HashSet<&'static str>,
    files: HashSet<PathBuf>,
    os_release: &'static str,
}

impl Image {
    fn new(os_release: &'static str, commands: &[&'static str], files: &[&str]) -> Self {
        Self {
            commands: commands.iter().copied().collect(),
            files: files.iter().map(PathBuf::from).collect(),
            os_release,
        }
    }

    fn plan(&self, kind: &'static str) -> Result<Plan> {
        let on_path = |c: &str| self.commands.contains(c);
        let exists = |p: &Path| self.files.contains(p);
        plan(
            kind,
            &Probe {
                on_path: &on_path,
                exists: &exists,
                os_release: Some(self.os_release),
            },
        )
    }
}

const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
const ALPINE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nPRETTY_NAME=\"Alpine Linux v3.19\"\n";
const AMAZON: &str = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n";

#[test]
fn a_slim_debian_gets_only_what_is_missing_through_apt_get() {
    let image = Image::new(
        DEBIAN,
        &["apt-get", "sh"],
        &["/usr/lib/x86_64-linux-gnu/libstdc++.so.6"],
    );
    let Plan::Install {
        manager,
        packages,
        commands,
    } = image.plan("code-server").expect("plan")
    else {
        panic!("something is missing");
    };
    assert_eq!(manager, Manager::AptGet);
    assert_eq!(packages, ["git", "ca-certificates"]);
    assert_eq!(commands[0], ["apt-get", "update"]);
    assert_eq!(
        commands[1],
        [
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "git",
            "ca-certificates"
        ]
    );
}

#[test]
fn an_image_with_everything_needs_nothing() {
    let image = Image::new(
        DEBIAN,
        &["apt-get", "git"],
        &[
            "/etc/ssl/certs/ca-certificates.crt",
            "/usr/lib64/libstdc++.so.6",
        ],
    );
    assert_eq!(image.plan("openvscode").expect("plan"), Plan::Nothing);
    assert_eq!(
        Image::new(DEBIAN, &[], &[]).plan("none").expect("plan"),
        Plan::Nothing
    );
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
        let image = Image::new(AMAZON, &[cmd], &[]);
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
fn no_package_manager_is_an_error_naming_the_image_and_the_packages() {
    let err = Image::new(AMAZON, &["sh"], &[])
        .plan("vscode")
        .expect_err("no manager");
    let msg = err.to_string();
    assert!(
        msg.contains("Amazon Linux 2023") && msg.contains("git, ca-certificates"),
        "{msg}"
    );
    assert!(
        msg.contains("apt-get, apk, dnf, yum, microdnf, zypper"),
        "{msg}"
    );
}

#[test]
fn a_glibc_only_ide_on_alpine_names_the_kinds_that_work() {
    let alpine = Image::new(ALPINE, &["apk"], &["/lib/ld-musl-x86_64.so.1"]);
    for kind in ["code-server", "openvscode"] {
        let msg = alpine.plan(kind).expect_err("glibc only").to_string();
        assert!(
            msg.contains("needs glibc") && msg.contains("Alpine Linux v3.19"),
            "{msg}"
        );
        assert!(msg.contains("vscode, none"), "{msg}");
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
