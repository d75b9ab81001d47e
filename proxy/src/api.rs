//! The management API under `/api`: JSON in and out, the same sign-in as every
//! other route, described by the OpenAPI document at `/api/openapi.json`, which
//! is generated from this code.
//!
//! # Layout
//! - [`routes`]: the route table ([`ROUTES`]) and method/path resolution (404/405).
//! - [`handlers`]: one function per endpoint; who may act for whom.
//! - [`actions`]: start and stop an instance (the start opening its link makes, the
//!   IDE warning's Stop now).
//! - [`json`]: request bodies: content type (415), size (413), pace (408), syntax
//!   (400), field-level shape errors (422).
//! - [`error`]: [`ApiErr`], the JSON [`dcs_model::api::ApiError`] every failure becomes.
//! - [`openapi`]: the OpenAPI 3 document.
//! - [`token`]: instance access tokens (random, hashed, constant-time checks).
//! - [`cookie`]: the instance cookie and `?tkn=` handling (used by [`crate::instances`]).
//! - [`sharing`]: who may open an instance's link, and `PATCH` to share it.
//! - [`credentials`]: the caller's own git credentials, offered in their workspaces.
//! - [`keepalive`]: declared work (`POST /api/instances/{id}/keepalive`) and the
//!   launcher's idle report in `GET /api/status`.

pub mod actions;
pub mod cookie;
pub mod credentials;
pub mod error;
pub mod handlers;
pub mod json;
pub mod keepalive;
pub mod openapi;
pub mod routes;
pub mod sharing;
pub mod token;

use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;

pub use error::ApiErr;
pub use routes::{ApiRoute, Endpoint, ROUTES};

use crate::body::Body;
use crate::state::AppState;

/// Answers one `/api` request; every error is JSON.
pub async fn handle(state: &AppState, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    match serve(state, req, peer).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    }
}

async fn serve(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiErr> {
    let (endpoint, param) = routes::resolve(req.method(), req.uri().path())?;
    let (parts, body) = req.into_parts();
    let identity = state.auth.authenticate(&parts, peer).await?;
    // Paced from here (signed in), as a forwarded body is from its first send.
    let body = json::paced(body, state.limits.request_body);
    let param = param.unwrap_or_default();
    match endpoint {
        Endpoint::ListInstances => handlers::list(state, &identity, &parts).await,
        Endpoint::CreateInstance => handlers::create(state, &identity, &parts, body).await,
        Endpoint::GetInstance => handlers::get(state, &identity, &param).await,
        Endpoint::DeleteInstance => handlers::delete(state, &identity, &param).await,
        Endpoint::PatchInstance => sharing::patch(state, &identity, &parts, &param, body).await,
        Endpoint::StartInstance => actions::start(state, &identity, &param).await,
        Endpoint::StopInstance => actions::stop(state, &identity, &param).await,
        Endpoint::Keepalive => keepalive::keepalive(state, &identity, &parts, &param, body).await,
        Endpoint::Status => handlers::status(state, &identity, &parts).await,
        Endpoint::Workspace => handlers::workspace(state, &identity, &param).await,
        Endpoint::Me => handlers::me(state, &identity),
        Endpoint::ListCredentials => credentials::list(state, &identity).await,
        Endpoint::SetCredential => credentials::set(state, &identity, &parts, &param, body).await,
        Endpoint::DeleteCredential => credentials::delete(state, &identity, &param).await,
        Endpoint::OpenApi => handlers::openapi_json(),
    }
}
