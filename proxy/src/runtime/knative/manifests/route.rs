//! The Gateway API `HTTPRoute` of the default install (typed: k8s-openapi has no
//! Gateway API types; a test validates it against the upstream CRD schema).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::base::meta;
use super::{PROXY_NAME, PROXY_NAMESPACE, PUBLIC_HOST};

/// `gateway.networking.k8s.io/v1` `HTTPRoute` (the fields we use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// `gateway.networking.k8s.io/v1`.
    pub api_version: String,
    /// `HTTPRoute`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The route.
    pub spec: HttpRouteSpec,
}

/// `HTTPRoute.spec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteSpec {
    /// The Gateway(s) it attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// Hosts it serves.
    pub hostnames: Vec<String>,
    /// Its rules.
    pub rules: Vec<RouteRule>,
}

/// A Gateway reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace.
    pub namespace: String,
}

/// One rule: path matches → backends, with timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteRule {
    /// What it matches.
    pub matches: Vec<RouteMatch>,
    /// Where it sends.
    pub backend_refs: Vec<BackendRef>,
    /// Request timeout (WebSockets included on most implementations).
    pub timeouts: Timeouts,
}

/// A match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// Path match.
    pub path: PathMatch,
}

/// A path match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    /// `PathPrefix`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The prefix.
    pub value: String,
}

/// A Service backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRef {
    /// Service name.
    pub name: String,
    /// Service port.
    pub port: i32,
}

/// Route timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Whole-request timeout (a Gateway API duration).
    pub request: String,
}

/// Everything on the public host goes to the proxy (which also passes
/// `/outpost.goauthentik.io/…` to the Authentik outpost).
pub fn http_route() -> HttpRoute {
    HttpRoute {
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "HTTPRoute".into(),
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: HttpRouteSpec {
            parent_refs: vec![ParentRef {
                name: "public".into(),
                namespace: "gateway-system".into(),
            }],
            hostnames: vec![PUBLIC_HOST.into()],
            rules: vec![RouteRule {
                matches: vec![RouteMatch {
                    path: PathMatch {
                        type_: "PathPrefix".into(),
                        value: "/".into(),
                    },
                }],
                backend_refs: vec![BackendRef {
                    name: PROXY_NAME.into(),
                    port: 80,
                }],
                // As long as a workspace's longest request (its Knative timeoutSeconds).
                timeouts: Timeouts {
                    request: "1h".into(),
                },
            }],
        },
    }
}
