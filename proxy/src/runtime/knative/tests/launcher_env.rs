//! Settings of the proxy that reach a workspace's launcher through its pod's
//! environment: the operator's pre-stop command.

use super::config;
use crate::runtime::knative::objects;

#[test]
fn the_operators_pre_stop_command_reaches_the_workspace_container() {
    let mut cfg = config();
    let command = "git stash push -m 'before the stop'";
    cfg.launcher.pre_stop = Some(command.to_owned());
    let got = serde_json::to_value(objects::ksvc(&cfg, &super::spec())).expect("json");
    let pod = &got["spec"]["template"]["spec"];
    let pre_stop = |c: &serde_json::Value| {
        c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == "DCS_PRE_STOP")
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        pre_stop(&pod["containers"][0]),
        Some(serde_json::json!(command))
    );
    let without = serde_json::to_value(objects::ksvc(&config(), &super::spec())).expect("json");
    assert_eq!(
        pre_stop(&without["spec"]["template"]["spec"]["containers"][0]),
        None
    );
}
