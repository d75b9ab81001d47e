//! The API's route table: the one list of (method, path template) pairs that
//! dispatch follows and the OpenAPI document describes (a test keeps them equal).

use http::Method;
use percent_encoding::percent_decode_str;

use super::error::ApiErr;

/// What an API request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/instances`
    ListInstances,
    /// `POST /api/instances`
    CreateInstance,
    /// `GET /api/instances/{id}`
    GetInstance,
    /// `DELETE /api/instances/{id}`
    DeleteInstance,
    /// `PATCH /api/instances/{id}`
    PatchInstance,
    /// `POST /api/instances/{id}/keepalive`
    Keepalive,
    /// `POST /api/instances/{id}/start`
    StartInstance,
    /// `POST /api/instances/{id}/stop`
    StopInstance,
    /// `GET /api/status`
    Status,
    /// `GET /api/workspaces/{user_id}`
    Workspace,
    /// `GET /api/me`
    Me,
    /// `GET /api/me/credentials`
    ListCredentials,
    /// `PUT /api/me/credentials/{host}`
    SetCredential,
    /// `DELETE /api/me/credentials/{host}`
    DeleteCredential,
    /// `GET /api/openapi.json`
    OpenApi,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRoute {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// OpenAPI path template; `{name}` matches one path segment.
    pub path: &'static str,
    /// The handler.
    pub endpoint: Endpoint,
}

const fn r(method: &'static str, path: &'static str, endpoint: Endpoint) -> ApiRoute {
    ApiRoute {
        method,
        path,
        endpoint,
    }
}

/// Every API route. The OpenAPI document's `paths` are exactly these.
pub const ROUTES: &[ApiRoute] = &[
    r("GET", "/api/instances", Endpoint::ListInstances),
    r("POST", "/api/instances", Endpoint::CreateInstance),
    r("GET", "/api/instances/{id}", Endpoint::GetInstance),
    r("DELETE", "/api/instances/{id}", Endpoint::DeleteInstance),
    r("PATCH", "/api/instances/{id}", Endpoint::PatchInstance),
    r("POST", "/api/instances/{id}/keepalive", Endpoint::Keepalive),
    r("POST", "/api/instances/{id}/start", Endpoint::StartInstance),
    r("POST", "/api/instances/{id}/stop", Endpoint::StopInstance),
    r("GET", "/api/status", Endpoint::Status),
    r("GET", "/api/workspaces/{user_id}", Endpoint::Workspace),
    r("GET", "/api/me", Endpoint::Me),
    r("GET", "/api/me/credentials", Endpoint::ListCredentials),
    r("PUT", "/api/me/credentials/{host}", Endpoint::SetCredential),
    r(
        "DELETE",
        "/api/me/credentials/{host}",
        Endpoint::DeleteCredential,
    ),
    r("GET", "/api/openapi.json", Endpoint::OpenApi),
];

/// The endpoint for `method` and `path`, with the value of its one path
/// parameter (percent-decoded), or a 404 / 405 (with the allowed methods).
pub fn resolve(method: &Method, path: &str) -> Result<(Endpoint, Option<String>), ApiErr> {
    let mut allowed: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        let Some(param) = matches(route.path, path) else {
            continue;
        };
        if route.method == method.as_str() {
            let param = match param {
                Some(raw) => Some(
                    percent_decode_str(raw)
                        .decode_utf8()
                        .map_err(|_| {
                            ApiErr::bad_request("the path is not valid UTF-8 once decoded")
                        })?
                        .into_owned(),
                ),
                None => None,
            };
            return Ok((route.endpoint, param));
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Err(ApiErr::not_found(format!(
            "no API endpoint at {}; the endpoints are listed in /api/openapi.json",
            crate::server::truncate(path, 200)
        )))
    } else {
        Err(ApiErr::method_not_allowed(method, &allowed))
    }
}

/// Whether `path` fits `template`: `Some(param)` (the raw segment matched by
/// `{…}`, if the template has one), or `None`.
fn matches<'a>(template: &str, path: &'a str) -> Option<Option<&'a str>> {
    let mut t = template.split('/');
    let mut p = path.split('/');
    let mut param = None;
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(param),
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return None;
                }
                param = Some(ps);
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_resolves_to_its_endpoint() {
        for route in ROUTES {
            let path = route
                .path
                .replace("{id}", "inst-0011223344556677")
                .replace("{user_id}", "alice")
                .replace("{host}", "github.com");
            let method = Method::from_bytes(route.method.as_bytes()).expect("method");
            let (endpoint, _) = resolve(&method, &path).expect("resolves");
            assert_eq!(endpoint, route.endpoint, "{path}");
        }
    }

    #[test]
    fn parameters_are_decoded() {
        let (e, p) = resolve(&Method::GET, "/api/workspaces/a%40b").expect("ok");
        assert_eq!((e, p.as_deref()), (Endpoint::Workspace, Some("a@b")));
        let (e, p) = resolve(&Method::DELETE, "/api/instances/inst-1").expect("ok");
        assert_eq!(
            (e, p.as_deref()),
            (Endpoint::DeleteInstance, Some("inst-1"))
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
        for path in [
            "/api",
            "/api/",
            "/api/instances/",
            "/api/instances/x/y",
            "/api/nope",
            "/api/workspaces/",
        ] {
            let err = resolve(&Method::GET, path).expect_err(path);
            assert_eq!(err.status(), 404, "{path}");
        }
        let err = resolve(&Method::PUT, "/api/instances").expect_err("405");
        assert_eq!(err.status(), 405);
        assert_eq!(err.allow(), Some("GET, POST"));
        let err = resolve(&Method::POST, "/api/instances/inst-1").expect_err("405");
        assert_eq!(err.allow(), Some("GET, DELETE, PATCH"));
    }
}
