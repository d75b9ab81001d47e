//! The proxy can read every Secret it mounts, in the base and in every overlay
//! that patches its Deployment: the file's owner, group and mode as the kubelet
//! writes them, against the uid and groups the container runs with.

use serde_json::Value;

use super::hop_port::docs;

/// The kubelet's modes for an atomic-writer volume (Secret, projected): files are
/// `root`'s, `defaultMode` (else `0644`) or the item's `mode`; with an fsGroup the
/// group is the fsGroup and, the volume being read-only, `0440` is added
/// (`SetVolumeOwnership`, kubernetes pkg/volume/volume_linux.go: `roMask`).
#[derive(Debug)]
struct FileMode {
    key: String,
    gid: i64,
    mode: i64,
}

/// Strategic-merge-like: objects merge, lists of named things merge by name (by
/// `mountPath` for mounts), anything else is replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                let key = match k.as_str() {
                    "containers" | "initContainers" | "volumes" | "env" => Some("name"),
                    "volumeMounts" => Some("mountPath"),
                    _ => None,
                };
                match (b.get_mut(k), v, key) {
                    (Some(Value::Array(items)), Value::Array(new), Some(key)) => {
                        for n in new {
                            match items.iter_mut().find(|i| i[key] == n[key]) {
                                Some(existing) => merge(existing, n),
                                None => items.push(n.clone()),
                            }
                        }
                    }
                    (Some(existing), _, _) => merge(existing, v),
                    (None, _, _) => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// The proxy's pod spec in each shape it is installed: the base's, and the base's
/// with each overlay's patch of the Deployment.
fn proxy_pods() -> Vec<(String, Value)> {
    let deployments: Vec<(String, Value)> = docs()
        .into_iter()
        .filter(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["name"] == "dcs-proxy")
        .collect();
    let (_, base) = deployments
        .iter()
        .find(|(path, _)| path == "base/proxy.yaml")
        .expect("the base's Deployment");
    let mut out = vec![(
        "base/proxy.yaml".to_owned(),
        base["spec"]["template"]["spec"].clone(),
    )];
    for (path, patch) in deployments.iter().filter(|(p, _)| p != "base/proxy.yaml") {
        let mut merged = base.clone();
        merge(&mut merged, patch);
        out.push((path.clone(), merged["spec"]["template"]["spec"].clone()));
    }
    out
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// The files of a Secret or projected volume, as the kubelet writes them.
fn files_of(volume: &Value, fs_group: Option<i64>) -> Vec<FileMode> {
    let mut raw: Vec<(String, i64)> = Vec::new();
    let mut add = |source: &Value, default_mode: Option<i64>| {
        let default_mode = default_mode.unwrap_or(0o644);
        match source["items"].as_array() {
            Some(items) => raw.extend(items.iter().map(|i| {
                let key = i["key"].as_str().unwrap_or_default().to_owned();
                (key, int(&i["mode"]).unwrap_or(default_mode))
            })),
            None => raw.push(("(every key)".to_owned(), default_mode)),
        }
    };
    if volume["secret"].is_object() {
        add(&volume["secret"], int(&volume["secret"]["defaultMode"]));
    }
    if volume["projected"].is_object() {
        let default_mode = int(&volume["projected"]["defaultMode"]);
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for kind in ["secret", "configMap", "downwardAPI"] {
                if source[kind].is_object() {
                    add(&source[kind], default_mode);
                }
            }
        }
    }
    raw.into_iter()
        .map(|(key, mode)| match fs_group {
            Some(gid) => FileMode {
                key,
                gid,
                mode: mode | 0o440,
            },
            None => FileMode { key, gid: 0, mode },
        })
        .collect()
}

/// Whether a process of `uid` with `gids` reads a `root`-owned file.
fn readable(uid: i64, gids: &[i64], file: &FileMode) -> bool {
    if uid == 0 {
        file.mode & 0o400 != 0
    } else if gids.contains(&file.gid) {
        file.mode & 0o040 != 0
    } else {
        file.mode & 0o004 != 0
    }
}

#[test]
fn the_proxy_reads_every_secret_it_mounts() {
    let pods = proxy_pods();
    assert!(pods.len() >= 2, "the base and the ingress-nginx overlay");
    for (path, pod) in pods {
        let psc = &pod["securityContext"];
        let fs_group = int(&psc["fsGroup"]);
        let mut checked = Vec::new();
        let containers = pod["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(pod["initContainers"].as_array().into_iter().flatten());
        for c in containers {
            let csc = &c["securityContext"];
            let setting = |k: &str| int(&csc[k]).or_else(|| int(&psc[k]));
            let uid = setting("runAsUser")
                .unwrap_or_else(|| panic!("{path}: {} sets no runAsUser", c["name"]));
            let gids: Vec<i64> = setting("runAsGroup")
                .into_iter()
                .chain(fs_group)
                .chain(
                    psc["supplementalGroups"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(int),
                )
                .collect();
            for mount in c["volumeMounts"].as_array().into_iter().flatten() {
                let volume = pod["volumes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"] == mount["name"])
                    .unwrap_or_else(|| panic!("{path}: no volume for {mount}"));
                for file in files_of(volume, fs_group) {
                    assert!(
                        readable(uid, &gids, &file),
                        "{path}: container {} (uid {uid}, groups {gids:?}) cannot read {} \
                         of volume {}: {file:?} (owner root)",
                        c["name"],
                        file.key,
                        volume["name"],
                    );
                    let name = volume["name"].as_str().unwrap_or_default();
                    checked.push(format!("{name}/{}", file.key));
                }
            }
        }
        assert!(
            checked.iter().any(|v| v.starts_with("hop/")),
            "{path}: the hop secret is mounted: {checked:?}"
        );
    }
}

#[test]
fn the_kubelets_modes_are_modelled() {
    let secret = |mode: Option<i64>| serde_json::json!({"secret": {"defaultMode": mode}});
    // 0400 without an fsGroup: root:root, nobody else reads it (the crash-loop).
    let f = files_of(&secret(Some(0o400)), None);
    assert!(!readable(65532, &[65532], &f[0]));
    assert!(readable(0, &[], &f[0]));
    // With one: group read added, group the fsGroup.
    let f = files_of(&secret(Some(0o400)), Some(65532));
    assert!(readable(65532, &[65532], &f[0]));
    assert!(!readable(1000, &[1000], &f[0]));
    // The default 0644 is anyone's.
    assert!(readable(1000, &[], &files_of(&secret(None), None)[0]));
}
