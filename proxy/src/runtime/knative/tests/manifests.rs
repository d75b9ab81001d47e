//! `knative/`: matches `dcs-proxy manifests`, every object parses strictly into
//! its typed form, the HTTPRoute fits the Gateway API schema, and every setting
//! names a real flag with a valid value.

use std::collections::BTreeSet;
use std::path::Path;

use clap::{Args, Command, FromArgMatches};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::knative_dir;
use super::schema::{crd_schema, schema_errors, strict};
use crate::runtime::knative::config::KnativeArgs;
use crate::runtime::knative::manifests::{files, Kustomization, FIXED_ENV};

fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read knative/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn knative_dir_matches_dcs_proxy_manifests() {
    let dir = knative_dir();
    let generated = files();
    let mut stale = Vec::new();
    for f in &generated {
        let on_disk = std::fs::read_to_string(dir.join(f.path)).unwrap_or_default();
        if on_disk != f.content {
            stale.push(f.path);
        }
    }
    let mut present = BTreeSet::new();
    walk(&dir, &dir, &mut present);
    let wanted: BTreeSet<String> = generated.iter().map(|f| f.path.to_owned()).collect();
    let extra: Vec<_> = present.difference(&wanted).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "knative/ drifted from the generator: stale {stale:?}, extra {extra:?}; \
         run `make manifests` (dcs-proxy manifests --out-dir knative)"
    );
}

/// Parses `doc` as `T` and back; equal only if no field was unknown or misplaced.
fn round_trips<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    (back == *doc)
        .then_some(())
        .ok_or_else(|| format!("fields lost in a round trip:\n{doc:#}\nvs\n{back:#}"))
}

#[test]
fn every_object_in_knative_parses_strictly() {
    let mut route_schema = crd_schema(&super::reference(
        "gateway-api/gateway.networking.k8s.io_httproutes.yaml",
    ));
    strict(&mut route_schema);
    let mut kinds = BTreeSet::new();
    for f in files() {
        let path = knative_dir().join(f.path);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !f.path.ends_with(".yaml") {
            continue;
        }
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let result = match kind.as_str() {
                "Kustomization" => round_trips::<Kustomization>(&doc),
                "Namespace" => round_trips::<Namespace>(&doc),
                "ServiceAccount" => round_trips::<ServiceAccount>(&doc),
                "Role" => round_trips::<Role>(&doc),
                "RoleBinding" => round_trips::<RoleBinding>(&doc),
                "Deployment" => round_trips::<Deployment>(&doc),
                "Service" => round_trips::<Service>(&doc),
                "PodDisruptionBudget" => round_trips::<PodDisruptionBudget>(&doc),
                "NetworkPolicy" => round_trips::<NetworkPolicy>(&doc),
                "ConfigMap" => round_trips::<ConfigMap>(&doc),
                "Ingress" => round_trips::<Ingress>(&doc),
                "HTTPRoute" => {
                    let errors = schema_errors(&route_schema, &doc);
                    errors
                        .is_empty()
                        .then_some(())
                        .ok_or_else(|| format!("{errors:#?}"))
                }
                other => Err(format!("unexpected kind {other:?}")),
            };
            if let Err(e) = result {
                panic!("{}: {kind}: {e}", f.path);
            }
            kinds.insert(kind);
        }
    }
    for k in [
        "Namespace",
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "HTTPRoute",
        "Ingress",
    ] {
        assert!(kinds.contains(k), "no {k} shipped");
    }
}

/// `--long value` flags for the `KEY=value` lines of an env file, via the clap
/// definition of each flag's environment variable; unknown keys are returned.
fn env_to_flags(cmd: &Command, lines: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    let mut flags = Vec::new();
    let mut unknown = Vec::new();
    for (k, v) in lines {
        match cmd
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == k.as_str()))
        {
            Some(a) => flags.extend([format!("--{}", a.get_long().unwrap_or_default()), v.clone()]),
            None => unknown.push(k.clone()),
        }
    }
    (flags, unknown)
}

#[test]
fn proxy_settings_name_real_flags_with_valid_values() {
    let serve = crate::config::ServeArgs::augment_args(Command::new("serve"));
    let knative = KnativeArgs::augment_args(Command::new("knative"));
    for f in files().iter().filter(|f| f.path.ends_with("proxy.env")) {
        let lines: Vec<(String, String)> = f
            .content
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("KEY=value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let (flags, unknown) = env_to_flags(&knative, &lines);
        let unknown: Vec<(String, String)> = lines
            .iter()
            .filter(|(k, _)| unknown.contains(k))
            .cloned()
            .collect();
        let (_, not_serve) = env_to_flags(&serve, &unknown);
        // The lead adds --runtime knative and flattens KnativeArgs into ServeArgs;
        // until then only DCS_PROXY_RUNTIME's value is unknown to ServeArgs.
        assert!(
            not_serve.is_empty(),
            "{}: unknown settings {not_serve:?}",
            f.path
        );
        let mut argv = vec!["knative".to_owned()];
        argv.extend(flags);
        let parsed = KnativeArgs::from_arg_matches(
            &knative.clone().try_get_matches_from(argv).expect("parses"),
        )
        .expect("args");
        parsed
            .validate()
            .unwrap_or_else(|p| panic!("{}: {p:?}", f.path));
    }
    let fixed: Vec<(String, String)> = FIXED_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (_, unknown) = env_to_flags(&serve, &fixed);
    assert!(
        unknown.is_empty(),
        "the Deployment sets unknown variables {unknown:?}"
    );
}

#[test]
fn kustomizations_list_only_files_that_exist() {
    for f in files()
        .iter()
        .filter(|f| f.path.ends_with("kustomization.yaml"))
    {
        let k: Kustomization = serde_saphyr::from_str(&f.content).expect("kustomization");
        let dir = knative_dir()
            .join(f.path)
            .parent()
            .expect("dir")
            .to_path_buf();
        let referenced = k
            .resources
            .iter()
            .chain(k.patches.iter().map(|p| &p.path))
            .chain(k.config_map_generator.iter().flat_map(|g| g.envs.iter()));
        for r in referenced {
            assert!(dir.join(r).exists(), "{}: {r} does not exist", f.path);
        }
    }
}

/// The value of `key: "…"` in an upstream ConfigMap's `_example` block, split at `,`.
fn upstream_list(example: &str, key: &str) -> Vec<String> {
    let line = example
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("{key} is not in the upstream example"));
    line.trim_matches('"')
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// The shipped `data` of the `config-deployment` in `path`, if it ships one.
fn shipped_config_deployment(path: &str) -> Option<Value> {
    let text = std::fs::read_to_string(knative_dir().join(path)).expect("read");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("yaml");
    docs.into_iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "config-deployment")
        .map(|d| d["data"].clone())
}

#[test]
fn registry_less_images_are_resolved_where_knative_looks_or_skipped_by_the_kind_tree() {
    use crate::runtime::knative::config::{image_registry, DEFAULT_LAUNCHER_IMAGE};
    use crate::runtime::knative::manifests::{default_image_registries, KNATIVE_SKIPS, SKIP_KEY};

    // go-containerregistry's rule, as Knative's digest resolver applies it.
    for (image, registry) in [
        ("dcs-launcher:0.1.0", "index.docker.io"),
        ("library/ubuntu:24.04", "index.docker.io"),
        ("docker.io/library/ubuntu:24.04", "index.docker.io"),
        ("kind.local/dcs-launcher:0.1.0", "kind.local"),
        ("localhost:5000/dcs-launcher:0.1.0", "localhost:5000"),
        ("localhost/dcs-launcher", "localhost"),
        (
            "registry.example.com/team/dcs-launcher:0.1.0",
            "registry.example.com",
        ),
        (
            "mcr.microsoft.com/devcontainers/base:bookworm",
            "mcr.microsoft.com",
        ),
    ] {
        assert_eq!(image_registry(image), registry, "{image}");
    }
    // The key is Knative's, and the shipped value keeps Knative's defaults.
    let upstream = super::schema::load_yaml(&super::reference("knative/config-deployment.yaml"));
    let example = upstream["data"]["_example"].as_str().expect("_example");
    assert_eq!(upstream_list(example, SKIP_KEY), KNATIVE_SKIPS);

    // The default launcher image names no registry: Knative would look it up on
    // Docker Hub. The kind tree skips that; the default tree leaves the key alone.
    assert_eq!(image_registry(DEFAULT_LAUNCHER_IMAGE), "index.docker.io");
    let kind = shipped_config_deployment("overlays/kind/knative-config.yaml")
        .expect("the kind tree ships config-deployment");
    assert_eq!(kind.as_object().map(|m| m.len()), Some(1), "{kind}");
    let skipped: Vec<&str> = kind[SKIP_KEY].as_str().expect("value").split(',').collect();
    for registry in KNATIVE_SKIPS
        .iter()
        .map(|r| (*r).to_owned())
        .chain(default_image_registries())
    {
        assert!(
            skipped.contains(&registry.as_str()),
            "{registry} in {skipped:?}"
        );
    }
    assert_eq!(
        shipped_config_deployment("base/knative-config.yaml"),
        None,
        "production keeps digest resolution"
    );
    let k: Kustomization = serde_saphyr::from_str(
        &std::fs::read_to_string(knative_dir().join("overlays/kind/kustomization.yaml"))
            .expect("read"),
    )
    .expect("kustomization");
    assert!(
        k.resources.iter().any(|r| r == "knative-config.yaml"),
        "{:?}",
        k.resources
    );
}
