//! Settings of the proxy that reach a workspace's launcher through its pod's
//! environment: the operator's pre-stop command, the devcontainer mode, the
//! extension gallery.

use super::config;
use crate::runtime::knative::objects;

/// The value of the workspace container's variable `name`, if it has one.
fn env_var(ksvc: &serde_json::Value, name: &str) -> Option<serde_json::Value> {
    ksvc["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].clone())
}

#[test]
fn the_operators_pre_stop_command_reaches_the_workspace_container() {
    let mut cfg = config();
    let command = "git stash push -m 'before the stop'";
    cfg.launcher.pre_stop = Some(command.to_owned());
    let got = serde_json::to_value(objects::ksvc(&cfg, &super::spec())).expect("json");
    assert_eq!(
        env_var(&got, "DCS_PRE_STOP"),
        Some(serde_json::json!(command))
    );
    let without = serde_json::to_value(objects::ksvc(&config(), &super::spec())).expect("json");
    assert_eq!(env_var(&without, "DCS_PRE_STOP"), None);
}

#[test]
fn the_devcontainer_mode_reaches_every_workspace_container() {
    use dcs_model::devcontainer::Mode;
    let var = |ksvc: &serde_json::Value| env_var(ksvc, "DCS_DEVCONTAINER");
    let default = serde_json::to_value(objects::ksvc(&config(), &super::spec())).expect("json");
    assert_eq!(var(&default), Some(serde_json::json!("ask")));
    for mode in [Mode::Run, Mode::Off] {
        let mut cfg = config();
        cfg.launcher.devcontainer = mode;
        // A repository's workspace and an API instance alike.
        for spec in [super::spec(), super::instance_spec()] {
            let got = serde_json::to_value(objects::ksvc(&cfg, &spec)).expect("json");
            assert_eq!(
                var(&got),
                Some(serde_json::json!(mode.as_str())),
                "{:?}",
                spec.key
            );
        }
    }
}

#[test]
fn the_extension_gallery_reaches_every_workspace_container_when_set() {
    let var = |ksvc: &serde_json::Value| env_var(ksvc, "DCS_EXTENSIONS_GALLERY");
    let default = serde_json::to_value(objects::ksvc(&config(), &super::spec())).expect("json");
    assert_eq!(var(&default), None, "the IDE's own gallery unless set");
    let gallery = dcs_model::gallery::Gallery::parse("https://vsx.example.com").expect("gallery");
    let mut cfg = config();
    cfg.launcher.extensions_gallery = Some(gallery.clone());
    for spec in [super::spec(), super::instance_spec()] {
        let got = serde_json::to_value(objects::ksvc(&cfg, &spec)).expect("json");
        assert_eq!(
            var(&got),
            Some(serde_json::json!(gallery.json())),
            "{:?}",
            spec.key
        );
    }
}
