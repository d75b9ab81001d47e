//! `overlays/ingress-nginx`: for sites that keep ingress-nginx doing Authentik
//! forward auth. The proxy runs `--auth trusted-headers` (verifying
//! `X-authentik-jwt` with the provider's client secret) and accepts traffic only
//! from the `ingress-nginx` namespace. Annotations as Authentik documents them,
//! with three changes:
//! - `Set-Cookie` is not in `auth-response-headers`: that list is what the ingress
//!   copies onto the request to the proxy, so the outpost's session cookie would
//!   travel in a request header (the proxy removes one anyway). The browser gets
//!   the outpost's cookies from the ingress itself (`auth-always-set-cookie`, and
//!   the sign-in redirect);
//! - the sign-in return URL `rd` is the scheme, the public host and the path, never
//!   the query: an instance link's `?tkn=<token>` must not reach the sign-in
//!   service. The path is `$uri` (decoded, normalized) escaped by a
//!   `configuration-snippet` (`set_escape_uri`, as the controller escapes
//!   `$escaped_request_uri`): unescaped, a decoded path could end `rd` early or
//!   put a line break into the redirect. After signing in the user is back at the
//!   path without the query: an instance's page then asks for the link again,
//!   which now opens (signed in, the token is exchanged for the instance cookie);
//! - `X-authentik-jwt` is copied too (what `--auth trusted-headers` verifies).
//!
//! The snippets need the controller's `allow-snippet-annotations: "true"` and
//! `annotations-risk-level: Critical`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyIngressRule,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::base::meta;
use super::policies::{from_namespaces, proxy_policy};
use super::proxy::{env_file, SECRET_MODE};
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

/// The nginx variable holding the request's path, escaped for a query parameter.
const RETURN_PATH: &str = "$dcs_return_path";

/// The protected Ingress (forward auth on every request) and the outpost's own
/// path on the same host.
fn ingresses() -> Vec<Ingress> {
    let mut proxy = ingress(PROXY_NAME, PROXY_NAMESPACE, "/", PROXY_NAME, 80);
    let signin = format!(
        "https://{PUBLIC_HOST}/outpost.goauthentik.io/start?rd=$scheme://{PUBLIC_HOST}{RETURN_PATH}"
    );
    let auth_url = format!(
        "http://{OUTPOST_SERVICE}.authentik.svc.cluster.local:{OUTPOST_PORT}/outpost.goauthentik.io/auth/nginx"
    );
    let headers = "X-authentik-username,X-authentik-groups,X-authentik-entitlements,\
                   X-authentik-email,X-authentik-name,X-authentik-uid,X-authentik-jwt";
    let n = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
    proxy.metadata.annotations = Some(BTreeMap::from([
        (n("auth-url"), auth_url),
        (n("auth-signin"), signin),
        (n("auth-response-headers"), headers.to_owned()),
        (n("auth-always-set-cookie"), "true".into()),
        (
            n("auth-snippet"),
            format!("proxy_set_header X-Forwarded-Host {PUBLIC_HOST};\n"),
        ),
        (
            n("configuration-snippet"),
            format!("set_escape_uri {RETURN_PATH} $uri;\n"),
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
                            // Group-readable: the group is the pod's fsGroup (the base).
                            default_mode: Some(SECRET_MODE),
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

/// The proxy accepts traffic on its public port from ingress-nginx (plus any
/// `dcs.dev/ingress=true` namespace, as in the base); its other rules are the
/// base's (the patch replaces the whole list). The workspaces' policies, egress
/// included, come from the base unchanged.
fn network_policy_patch() -> NetworkPolicy {
    let mut np = proxy_policy();
    let http = Some(IntOrString::String("http".into()));
    let public =
        |rule: &&mut NetworkPolicyIngressRule| rule.ports.iter().flatten().any(|p| p.port == http);
    if let Some(rule) = np
        .spec
        .as_mut()
        .and_then(|s| s.ingress.as_mut())
        .and_then(|i| i.iter_mut().find(public))
    {
        let from = rule.from.get_or_insert_with(Vec::new);
        from.push(from_namespaces(&["ingress-nginx"]));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn annotation(key: &str) -> String {
        let proxy = ingresses().swap_remove(0);
        let annotations = proxy.metadata.annotations.unwrap_or_default();
        annotations
            .get(&format!("nginx.ingress.kubernetes.io/{key}"))
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn the_outposts_set_cookie_is_never_copied_onto_the_request() {
        let copied = annotation("auth-response-headers").to_ascii_lowercase();
        assert!(copied.contains("x-authentik-jwt"), "{copied}");
        assert!(!copied.contains("set-cookie"), "{copied}");
        assert_eq!(annotation("auth-always-set-cookie"), "true");
    }

    #[test]
    fn the_sign_in_return_url_has_no_query() {
        let signin = annotation("auth-signin");
        let (_, rd) = signin.split_once("?rd=").unwrap_or_default();
        assert_eq!(rd, format!("$scheme://{PUBLIC_HOST}{RETURN_PATH}"));
        for query in ["request_uri", "args", "arg_", "query_string", "$uri"] {
            assert!(!rd.contains(query), "{query} in {signin}");
        }
        // The path it carries is `$uri` (no query), escaped for a query parameter.
        assert_eq!(
            annotation("configuration-snippet"),
            format!("set_escape_uri {RETURN_PATH} $uri;\n")
        );
    }
}
