//! Every builder's output, compared whole: what carries secrets and CAs (the
//! extra CA file, the git token's two containers, the hop and credentials Secrets).

use serde_json::json;

use super::{config, config_with, key, spec};
use crate::runtime::knative::objects::{self, credentials_secret_name, hop_secret_name};

#[test]
fn an_extra_ca_is_one_read_only_file_named_to_the_launcher() {
    let items = json!([{"key": "bundle.pem", "path": "ca.crt"}]);
    let cases = [
        (
            "--knative-extra-ca-secret",
            json!({"name": "extra-ca", "secret": {
                "secretName": "corp-ca", "items": items, "defaultMode": 0o444}}),
        ),
        (
            "--knative-extra-ca-configmap",
            json!({"name": "extra-ca", "configMap": {
                "name": "corp-ca", "items": items, "defaultMode": 0o444}}),
        ),
    ];
    for (flag, volume) in cases {
        let cfg = config_with(&[flag, "corp-ca", "--knative-extra-ca-key", "bundle.pem"]);
        let got = serde_json::to_value(objects::ksvc(&cfg, &spec())).expect("json");
        let pod = &got["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let has = |list: &serde_json::Value, item: serde_json::Value| {
            list.as_array().is_some_and(|l| l.contains(&item))
        };
        assert!(
            has(
                &container["env"],
                json!({"name": "DCS_EXTRA_CA_FILE", "value": "/var/run/secrets/dcs/ca/ca.crt"})
            ),
            "{flag}: {container}"
        );
        assert!(
            has(
                &container["volumeMounts"],
                json!({"mountPath": "/var/run/secrets/dcs/ca", "name": "extra-ca", "readOnly": true})
            ),
            "{flag}: {container}"
        );
        assert!(has(&pod["volumes"], volume), "{flag}: {}", pod["volumes"]);
    }
    let plain = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    let text = plain.to_string();
    assert!(
        !text.contains("extra-ca") && !text.contains("DCS_EXTRA_CA_FILE"),
        "{text}"
    );
}

#[test]
fn the_git_token_reaches_the_checkout_and_history_containers_only() {
    let ksvc = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    let pod = &ksvc["spec"]["template"]["spec"];
    let mounts_token = |c: &serde_json::Value| {
        c["volumeMounts"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["name"] == "git-token"))
    };
    let names_token = |c: &serde_json::Value| {
        c["env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["name"] == "DCS_GIT_TOKEN_FILE"))
    };
    let with_token: Vec<&str> = pod["initContainers"]
        .as_array()
        .into_iter()
        .chain(pod["containers"].as_array())
        .flatten()
        .filter(|c| mounts_token(c) || names_token(c))
        .filter_map(|c| c["name"].as_str())
        .collect();
    // `history` is a regular container beside the workspace's; never the workspace's.
    assert_eq!(with_token, ["checkout", "history"]);
}

#[test]
fn hop_and_credentials_secrets_are_golden() {
    use dcs_model::credentials::{CredentialFile, StoredCredential};

    let k = key();
    let hop = crate::hop::HopKey::from_bytes(&[b'h'; 32]).expect("key");
    let credential = hop.credential(&k.name());
    let got =
        serde_json::to_value(objects::hop_secret(&config(), &spec(), &credential)).expect("json");
    assert_eq!(
        got["metadata"]["name"],
        json!(hop_secret_name(&k).to_string())
    );
    assert_eq!(
        got["metadata"]["labels"]["app.kubernetes.io/name"],
        json!("dcs-hop")
    );
    assert_eq!(got["type"], json!("Opaque"));
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        credential.expose(),
    );
    assert_eq!(got["data"], json!({ "credential": encoded }));

    let mut stored = CredentialFile::default();
    stored
        .set(StoredCredential {
            host: "github.com".into(),
            username: "x-access-token".into(),
            token: "ghp_x".into(),
        })
        .expect("set");
    let secret = objects::credentials_secret(&config(), &k.user, &stored);
    let got = serde_json::to_value(&secret).expect("json");
    assert_eq!(
        got["metadata"]["name"],
        json!(credentials_secret_name(&k.user).to_string())
    );
    assert_eq!(
        got["metadata"]["labels"]["app.kubernetes.io/name"],
        json!("dcs-credentials")
    );
    assert_eq!(objects::secrets::credentials_of(&secret), stored);
}
