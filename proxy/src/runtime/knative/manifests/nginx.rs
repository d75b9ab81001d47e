//! `overlays/ingress-nginx`: for sites that keep ingress-nginx doing Authentik
//! forward auth. The proxy runs `--auth trusted-headers` (verifying
//! `X-authentik-jwt` with the provider's client secret) and accepts traffic only
//! from the `ingress-nginx` namespace. Annotations as Authentik documents them;
//! the `auth-snippet` needs the controller's `allow-snippet-annotations: "true"`
//! and `annotations-risk-level: Critical`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, ServiceBackendPort,
};

use super::base::{meta, network_policies};
use super::proxy::env_file;
use super::{
    doc, file, installable, yaml, File, KustomizePatch, PROXY_NAME, PROXY_NAMESPACE, PUBLIC_HOST,
};

/// The Authentik outpost Service (in namespace `authentik`) and port.
const OUTPOST_SERVICE: &str = "ak-outpost-authentik-embedded-outpost";
const OUTPOST_PORT: i32 = 9000;
/// Where the provider's client secret (the JWT key) is mounted.
const JWT_SECRET_DIR: &str = "/var/run/secrets/dcs/authentik";

/// Sign-in settings of this overlay.
const TRUSTED_HEADERS_ENV: &[(&str, &str)] = &[
    ("DCS_PROXY_AUTH", "trusted-headers"),
    (
        "DCS_PROXY_JWT_SECRET_FILE",
        "/var/run/secrets/dcs/authentik/client-secret",
    ),
    (
        "DCS_PROXY_JWT_ISSUER",
        "https://auth.example.com/application/o/ide/",
    ),
    (
        "DCS_PROXY_JWT_AUDIENCE",
        "REPLACE-with-the-provider-client-id",
    ),
];

fn ingress(name: &str, namespace: &str, path: &str, service: &str, port: i32) -> Ingress {
    Ingress {
        metadata: meta(name, Some(namespace), PROXY_NAME),
        spec: Some(IngressSpec {
            ingress_class_name: Some("nginx".into()),
            rules: Some(vec![IngressRule {
                host: Some(PUBLIC_HOST.into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(path.into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service.into(),
                                port: Some(ServiceBackendPort {
                                    number: Some(port),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    }
}

/// The protected Ingress (forward auth on every request) and the outpost's own
/// path on the same host.
fn ingresses() -> Vec<Ingress> {
    let mut proxy = ingress(PROXY_NAME, PROXY_NAMESPACE, "/", PROXY_NAME, 80);
    let signin = format!(
        "https://{PUBLIC_HOST}/outpost.goauthentik.io/start?rd=$scheme://{PUBLIC_HOST}$escaped_request_uri"
    );
    let auth_url = format!(
        "http://{OUTPOST_SERVICE}.authentik.svc.cluster.local:{OUTPOST_PORT}/outpost.goauthentik.io/auth/nginx"
    );
    let headers = "Set-Cookie,X-authentik-username,X-authentik-groups,X-authentik-entitlements,\
                   X-authentik-email,X-authentik-name,X-authentik-uid,X-authentik-jwt";
    let n = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
    proxy.metadata.annotations = Some(BTreeMap::from([
        (n("auth-url"), auth_url),
        (n("auth-signin"), signin),
        (n("auth-response-headers"), headers.to_owned()),
        (
            n("auth-snippet"),
            format!("proxy_set_header X-Forwarded-Host {PUBLIC_HOST};\n"),
        ),
        // WebSockets live as long as a workspace request may (1 h); the JWT header is big.
        (n("proxy-read-timeout"), "3600".into()),
        (n("proxy-send-timeout"), "3600".into()),
        (n("proxy-buffer-size"), "32k".into()),
        (n("proxy-body-size"), "0".into()),
        (
            "cert-manager.io/cluster-issuer".into(),
            "letsencrypt".into(),
        ),
    ]));
    if let Some(spec) = proxy.spec.as_mut() {
        spec.tls = Some(vec![IngressTLS {
            hosts: Some(vec![PUBLIC_HOST.into()]),
            secret_name: Some("dcs-tls".into()),
        }]);
    }
    let outpost = ingress(
        "dcs-outpost",
        "authentik",
        "/outpost.goauthentik.io",
        OUTPOST_SERVICE,
        OUTPOST_PORT,
    );
    vec![proxy, outpost]
}

/// Mounts the Secret `dcs-authentik-jwt` (key `client-secret`) into the proxy.
fn jwt_secret_patch() -> Deployment {
    Deployment {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: Some(DeploymentSpec {
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "proxy".into(),
                        volume_mounts: Some(vec![VolumeMount {
                            name: "authentik-jwt".into(),
                            mount_path: JWT_SECRET_DIR.into(),
                            read_only: Some(true),
                            ..VolumeMount::default()
                        }]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![Volume {
                        name: "authentik-jwt".into(),
                        secret: Some(SecretVolumeSource {
                            secret_name: Some("dcs-authentik-jwt".into()),
                            ..SecretVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// The proxy accepts traffic from ingress-nginx (plus any `dcs.dev/ingress=true`
/// namespace, as in the base).
fn network_policy_patch() -> NetworkPolicy {
    let mut np = network_policies().swap_remove(0);
    if let Some(rule) = np
        .spec
        .as_mut()
        .and_then(|s| s.ingress.as_mut())
        .and_then(|i| i.first_mut())
    {
        let from = rule.from.get_or_insert_with(Vec::new);
        from.push(super::base::from_namespaces(&["ingress-nginx"]));
    }
    np
}

/// The overlay's files.
pub fn files() -> Vec<File> {
    let mut k = installable(&["../../base", "ingress.yaml"]);
    k.patches = ["jwt-secret-patch.yaml", "network-policy-patch.yaml"]
        .iter()
        .map(|p| KustomizePatch { path: (*p).into() })
        .collect();
    vec![
        File {
            path: "overlays/ingress-nginx/kustomization.yaml",
            content: yaml(&[k]),
        },
        File {
            path: "overlays/ingress-nginx/proxy.env",
            content: env_file(TRUSTED_HEADERS_ENV),
        },
        File {
            path: "overlays/ingress-nginx/ingress.yaml",
            content: yaml(&ingresses()),
        },
        File {
            path: "overlays/ingress-nginx/jwt-secret-patch.yaml",
            content: file(vec![doc(&jwt_secret_patch())]),
        },
        File {
            path: "overlays/ingress-nginx/network-policy-patch.yaml",
            content: yaml(&[network_policy_patch()]),
        },
    ]
}
