//! `/instances/<id>/…`: API instances, opened with their access token.
//!
//! A link `…/instances/<id>/…?tkn=<token>` is exchanged for an HttpOnly,
//! SameSite=Lax cookie scoped to `Path=/instances/<id>/`, then a `303` to the same
//! URL without `tkn`, so the token does not stay in the address bar, history or
//! any log. The exchange happens before sign-in, so the token never reaches the
//! sign-in service either (not even in a `rd=` return URL); it only sets a cookie.
//! Every request that is forwarded needs all of: a signed-in caller (as on every
//! route) who may open it ([`crate::api::sharing::opening`]: its owner; an admin or
//! someone it is shared with where the operator allows it, else a 403 saying why;
//! to anyone else it does not exist, 404), and the
//! instance's cookie. The cookie is stripped before forwarding
//! ([`crate::forward::headers`]), so the workspace never sees the token.
//!
//! The token is checked against the SHA-256 recorded in the instance's spec, in
//! constant time. Every lookup asks the runtime (its table, or Knative's watch
//! cache, which every replica keeps), so a delete through any replica revokes the
//! token at once. Before sign-in only what this replica holds is asked
//! ([`Registry::lookup_cached`]): a client that has not signed in causes no
//! API-server call, whatever ids it makes up. A wrong token and an id this replica
//! does not know get the same refusal, so it learns nothing about which ids exist.
//! After sign-in [`Registry::lookup`] may ask the API server for an id the cache
//! has not seen yet.

mod registry;

use std::net::SocketAddr;

use dcs_model::{InstanceId, InstanceSpec, WorkspaceKey};
use http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

pub use self::registry::{Registry, CACHE_TTL};
use crate::api::sharing::{opening, Opening, NOT_HERE};
use crate::api::{cookie, token};
use crate::asked::Asked;
use crate::body::{self, Body};
use crate::config::CookieSecurity;
use crate::error::{Error, Result};
use crate::forward::{self, Target};
use crate::runtime::WorkspaceSpec;
use crate::state::AppState;

/// Whether `token` opens the instance with `spec`.
pub fn opens(spec: &InstanceSpec, token: &str) -> bool {
    spec.token_sha256
        .as_deref()
        .is_some_and(|stored| token::verify(token, stored))
}

/// Whether the instance cookie should be `Secure` for this request.
pub fn secure_cookie(policy: &CookieSecurity, parts: &Parts, peer: SocketAddr) -> bool {
    if let Some(https) = policy.public_https {
        return https;
    }
    let forwarded_https = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded_https && crate::auth::trusted::is_trusted(&policy.trusted_proxies, peer.ip())
}

fn refused(id: &InstanceId) -> Error {
    Error::Forbidden(format!(
        "instance {id} opens only with its access link: open the link you were given \
         (…/instances/{id}/?tkn=…) in this browser. If it was deleted, its link no longer works."
    ))
}

/// Serves `/instances/<id>[/rest][?query]`.
pub async fn serve(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    id: InstanceId,
    prefix: String,
    rest: Option<String>,
    query: Option<String>,
) -> Result<Response<Body>> {
    let (tkn, kept_query) = cookie::take_token(query.as_deref());
    let (parts, body) = req.into_parts();
    let runtime = state.activator.runtime().as_ref();

    if let Some(tkn) = tkn {
        // The exchange: a cookie for a valid token, then the URL without it.
        // Before sign-in: asks no API server, and refuses alike what it does not
        // know and a wrong token.
        let found = state.instances.lookup_cached(runtime, &id).await?;
        if !found.is_some_and(|(_, spec)| opens(&spec, &tkn)) {
            return Err(refused(&id));
        }
        let location = format!(
            "{prefix}{}{}",
            rest.as_deref().unwrap_or("/"),
            kept_query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        let secure = secure_cookie(&state.api.cookie, &parts, peer);
        return redirect(
            StatusCode::SEE_OTHER,
            &location,
            Some(cookie::set_cookie(&prefix, &tkn, secure)),
        );
    }
    let Some(rest) = rest else {
        let q = query.map(|q| format!("?{q}")).unwrap_or_default();
        return redirect(
            StatusCode::PERMANENT_REDIRECT,
            &format!("{prefix}/{q}"),
            None,
        );
    };

    let identity = state.auth.authenticate(&parts, peer).await?;
    let found = state.instances.lookup(runtime, &id).await?;
    // Someone it is not for learns nothing, not even that it exists.
    let opens_for =
        |(key, spec): &(WorkspaceKey, InstanceSpec)| opening(state, &identity, key, spec);
    match found.as_ref().map(opens_for) {
        Some(Opening::Yes) => {}
        Some(Opening::NotHere) => {
            return Err(Error::Forbidden(format!("instance {id}: {NOT_HERE}")))
        }
        Some(Opening::Hidden) | None => {
            return Err(Error::NotFound(format!("no instance {id} here")))
        }
    }
    let Some((key, spec)) = found.filter(|(_, spec)| {
        cookie::values(&parts.headers)
            .iter()
            .any(|t| opens(spec, t))
    }) else {
        return Err(refused(&id));
    };
    let rest = match query {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    let target = Target {
        spec: WorkspaceSpec::new(key, spec),
        prefix,
        rest,
        asked: Asked::of(&parts.headers),
    };
    let req = Request::from_parts(parts, body);
    forward::forward(state, req, peer, &identity, target).await
}

fn redirect(
    status: StatusCode,
    location: &str,
    set_cookie: Option<String>,
) -> Result<Response<Body>> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = status;
    let location = HeaderValue::from_str(location)
        .map_err(|_| Error::BadRequest("unusable request path".into()))?;
    resp.headers_mut().insert(LOCATION, location);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = set_cookie {
        let c = HeaderValue::from_str(&c)
            .map_err(|_| Error::BadRequest("unusable access token".into()))?;
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_its_own_instance() {
        let (ta, tb) = (token::generate().expect("a"), token::generate().expect("b"));
        let a = InstanceSpec {
            token_sha256: Some(token::sha256_hex(&ta)),
            ..Default::default()
        };
        assert!(opens(&a, &ta));
        assert!(!opens(&a, &tb));
        assert!(!opens(&InstanceSpec::default(), &ta), "no hash, no entry");
    }

    #[test]
    fn secure_follows_the_public_url_else_a_trusted_forwarded_proto() {
        let parts = |proto: Option<&str>| {
            let mut b = http::Request::builder();
            if let Some(p) = proto {
                b = b.header("x-forwarded-proto", p);
            }
            b.body(()).expect("req").into_parts().0
        };
        let peer: SocketAddr = "10.0.0.5:1".parse().expect("addr");
        let pinned = CookieSecurity {
            public_https: Some(true),
            trusted_proxies: vec![],
        };
        assert!(secure_cookie(&pinned, &parts(None), peer));
        let open = CookieSecurity::default();
        assert!(!secure_cookie(&open, &parts(None), peer));
        assert!(secure_cookie(&open, &parts(Some("https")), peer));
        let only_ingress = CookieSecurity {
            public_https: None,
            trusted_proxies: vec!["10.1.0.0/16".parse().expect("net")],
        };
        assert!(!secure_cookie(&only_ingress, &parts(Some("https")), peer));
    }
}
