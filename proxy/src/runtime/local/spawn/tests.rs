//! Plans: where the repo goes, what the launcher is told, how its secrets travel.

use std::time::Duration;

use dcs_model::{env, InstanceId, RepoRef, UserId};

use super::*;
use crate::hop::HopKey;
use crate::runtime::local::sandbox::System;

fn cfg() -> LocalConfig {
    LocalConfig {
        data_dir: "/data".into(),
        launcher_bin: "/bin/dcs-launcher".into(),
        git_base: "http://127.0.0.1:1".into(),
        git_token_file: Some("/secrets/token".into()),
        ide: "none".into(),
        ide_bin: None,
        stop_grace: Duration::from_secs(3),
        start_limit: Duration::from_secs(60),
        launcher_log: None,
        git: crate::config::GitLimits::default(),
        extra_ca_file: None,
        idle: dcs_model::env::IdlePolicy::default(),
        pre_stop: None,
        devcontainer: Default::default(),
        extensions_gallery: None,
    }
}

fn iso(sandboxed: bool) -> Isolation {
    Isolation {
        hop: HopKey::from_bytes(&[b'k'; 32]).expect("key"),
        sandbox: sandboxed.then(|| SandboxConfig {
            bwrap: "/usr/bin/bwrap".into(),
            setsid: "/usr/bin/setsid".into(),
            system: System::default(),
            hidden: vec!["/secrets/token".into()],
        }),
        egress: None,
    }
}

fn alice_hello() -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new("alice").expect("u"),
        RepoRef::parse("acme/hello").expect("r"),
    )
}

#[test]
fn plan_places_the_repo_in_the_users_volume_and_names_no_secret() {
    let cfg = cfg();
    let key = alice_hello();
    let plan = Plan::new(
        &cfg,
        &iso(false),
        &key,
        "/github/acme/hello",
        &InstanceSpec::default(),
    );
    assert_eq!(
        plan.env.checkout_dir(),
        PathBuf::from("/data/workspaces/alice/acme/hello")
    );
    let vars = plan.env.to_vars();
    assert!(
        vars.contains(&(env::DCS_GIT_TOKEN_FILE, "-".into())),
        "{vars:?}"
    );
    assert!(vars.contains(&(env::DCS_HOP_SECRET_FILE, "-".into())));
    assert!(vars.contains(&(env::DCS_BASE_PATH, "/github/acme/hello".into())));
    assert!(vars.contains(&(
        env::DCS_CREDENTIALS_FILE,
        "/data/workspaces/alice/.dcs/git-credentials.json".into()
    )));
    assert!(
        !vars.iter().any(|(_, v)| v.contains("/secrets/token")),
        "the token's path is never handed over: {vars:?}"
    );
    assert!(plan.log_path.starts_with("/data/logs"));
    let up = plan.upstream("127.0.0.1:4242".parse().expect("addr"));
    assert_eq!(up.authority, "127.0.0.1:4242");
    assert_eq!(up.socket, None);
    assert_eq!(up.hop.as_ref(), Some(&plan.hop));
}

#[test]
fn a_sandboxed_plan_listens_on_a_socket_and_never_gets_the_token() {
    let cfg = cfg();
    let key = alice_hello();
    let plan = Plan::new(
        &cfg,
        &iso(true),
        &key,
        "/github/acme/hello",
        &InstanceSpec::default(),
    );
    let run = PathBuf::from("/data/run").join(key.name().as_str());
    assert_eq!(plan.env.listen, Listen::Unix(run.join(SOCKET_NAME)));
    assert_eq!(plan.env.git_token_file, None);
    assert_eq!(
        plan.env.checkout_outcome_file,
        Some(run.join("checkout.json"))
    );
    assert_eq!(plan.addr_file, run.join("addr"));
    let spec = plan.sandbox.as_ref().expect("sandboxed");
    assert_eq!(spec.volume, PathBuf::from("/data/workspaces/alice"));
    assert_eq!(spec.run_dir, run);
    let up = plan.upstream(ON_SOCKET);
    assert_eq!(up.socket, Some(run.join(SOCKET_NAME)));
    let secrets = plan.stdin_secrets().expect("secrets");
    assert_eq!(
        secrets.git_token, None,
        "the checkout step gets it, not the launcher"
    );
    assert_eq!(secrets.hop.as_deref(), Some(plan.hop.expose()));
}

#[test]
fn each_workspace_gets_its_own_credential() {
    let cfg = cfg();
    let iso = iso(false);
    let other = WorkspaceKey::new(
        UserId::new("bob").expect("u"),
        RepoRef::parse("acme/hello").expect("r"),
    );
    let a = Plan::new(
        &cfg,
        &iso,
        &alice_hello(),
        "/github/acme/hello",
        &InstanceSpec::default(),
    );
    let b = Plan::new(
        &cfg,
        &iso,
        &other,
        "/github/acme/hello",
        &InstanceSpec::default(),
    );
    assert_ne!(a.hop, b.hop);
    assert_eq!(a.hop, iso.hop.credential(&alice_hello().name()));
}

#[test]
fn plan_of_an_instance_runs_its_recorded_spec() {
    let mut cfg = cfg();
    cfg.ide_bin = Some("/opt/code-server/bin/code-server".into());
    cfg.ide = "code-server".into();
    let id = InstanceId::parse("inst-0123456789abcdef").expect("id");
    let key = WorkspaceKey::instance(UserId::new("alice").expect("u"), id.clone());
    let spec = InstanceSpec {
        ide: Some("openvscode".into()),
        ide_version: Some("1.104.0".into()),
        env: [("FOO", "bar"), ("DCS_REPO", "evil/repo")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..InstanceSpec::default()
    };
    let iso = iso(false);
    let plan = Plan::new(&cfg, &iso, &key, "/instances/inst-0123456789abcdef", &spec);
    assert_eq!(
        plan.env.checkout_dir(),
        PathBuf::from("/data/workspaces/alice/_instances/inst-0123456789abcdef")
    );
    assert_eq!(plan.env.repo, None);
    assert_eq!(plan.env.instance, Some(id));
    assert_eq!(plan.env.ide, "openvscode");
    assert_eq!(plan.env.ide_version.as_deref(), Some("1.104.0"));
    assert_eq!(plan.env.ide_bin, None, "the installed IDE is another kind");
    assert_eq!(plan.extra_env, vec![("FOO".to_owned(), "bar".to_owned())]);

    // With a repository, the instance checks it out in the usual place.
    let with_repo = InstanceSpec {
        repo: Some(RepoRef::parse("acme/hello").expect("r")),
        ..InstanceSpec::default()
    };
    let plan = Plan::new(
        &cfg,
        &iso,
        &key,
        "/instances/inst-0123456789abcdef",
        &with_repo,
    );
    assert_eq!(
        plan.env.checkout_dir(),
        PathBuf::from("/data/workspaces/alice/acme/hello")
    );
    assert_eq!(plan.env.ide, "code-server");
    assert!(
        plan.env.ide_bin.is_some(),
        "the configured kind uses the installed IDE"
    );
}

#[test]
fn every_plan_hands_the_launcher_the_devcontainer_mode() {
    use dcs_model::devcontainer::Mode;
    let id = InstanceId::parse("inst-0123456789abcdef").expect("id");
    let instance = WorkspaceKey::instance(UserId::new("alice").expect("u"), id);
    for mode in [Mode::Ask, Mode::Run, Mode::Off] {
        let mut cfg = cfg();
        cfg.devcontainer = mode;
        for (key, base) in [
            (alice_hello(), "/github/acme/hello"),
            (instance.clone(), "/instances/inst-0123456789abcdef"),
        ] {
            for sandboxed in [false, true] {
                let plan = Plan::new(&cfg, &iso(sandboxed), &key, base, &InstanceSpec::default());
                let vars = plan.env.to_vars();
                assert!(
                    vars.contains(&(env::DCS_DEVCONTAINER, mode.as_str().to_owned())),
                    "{key:?} sandboxed={sandboxed}: {vars:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_published_address_is_read_from_a_regular_file_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = cfg();
    cfg.data_dir = dir.path().to_path_buf();
    let plan = Plan::new(
        &cfg,
        &iso(true),
        &alice_hello(),
        "/github/acme/hello",
        &InstanceSpec::default(),
    );
    let run = plan.addr_file.parent().expect("run folder");
    std::fs::create_dir_all(run).expect("mkdir");
    assert_eq!(plan.published_addr().await, None, "nothing published yet");
    std::fs::write(
        &plan.addr_file,
        format!("unix:{}\n", run.join(SOCKET_NAME).display()),
    )
    .expect("write");
    assert_eq!(plan.published_addr().await, Some(ON_SOCKET));

    // What the sandbox can put there instead: answered at once, never read through.
    std::fs::remove_file(&plan.addr_file).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &plan.addr_file).expect("symlink");
    let read = tokio::time::timeout(Duration::from_secs(10), plan.published_addr());
    assert_eq!(read.await.expect("at once"), None);
    std::fs::remove_file(&plan.addr_file).expect("rm");
    nix::unistd::mkfifo(&plan.addr_file, nix::sys::stat::Mode::S_IRWXU).expect("fifo");
    let read = tokio::time::timeout(Duration::from_secs(10), plan.published_addr());
    assert_eq!(read.await.expect("at once"), None);
}

#[test]
fn a_sandbox_with_a_way_out_names_its_socket_and_nothing_else_does() {
    let cfg = cfg();
    let egress = Some(std::sync::Arc::new(crate::egress::Egress::new(
        crate::egress::Policy::default(),
    )));
    let key = alice_hello();
    for (sandboxed, with_egress, named) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let mut iso = iso(sandboxed);
        if with_egress {
            iso.egress = egress.clone();
        }
        let plan = Plan::new(
            &cfg,
            &iso,
            &key,
            "/github/acme/hello",
            &InstanceSpec::default(),
        );
        let expected = named.then(|| run_dir(&cfg, &key).join("egress.sock"));
        assert_eq!(
            plan.env.egress_socket, expected,
            "sandboxed {sandboxed}, egress {with_egress}"
        );
        let vars = plan.env.to_vars();
        let listed = vars
            .iter()
            .any(|(k, _)| *k == dcs_model::env::DCS_EGRESS_SOCKET);
        assert_eq!(listed, named);
    }
}

#[test]
fn every_plan_hands_the_launcher_the_extension_gallery_when_set() {
    let mut cfg = cfg();
    let key = alice_hello();
    let plan = |cfg: &LocalConfig, sandboxed| {
        Plan::new(
            cfg,
            &iso(sandboxed),
            &key,
            "/github/acme/hello",
            &InstanceSpec::default(),
        )
    };
    assert_eq!(plan(&cfg, false).env.extensions_gallery, None);
    let gallery = dcs_model::gallery::Gallery::parse("https://vsx.example.com").expect("gallery");
    cfg.extensions_gallery = Some(gallery.clone());
    for sandboxed in [false, true] {
        let vars = plan(&cfg, sandboxed).env.to_vars();
        assert!(
            vars.contains(&(env::DCS_EXTENSIONS_GALLERY, gallery.json().to_owned())),
            "sandboxed {sandboxed}"
        );
    }
}
