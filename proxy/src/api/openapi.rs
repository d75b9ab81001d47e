//! The OpenAPI 3 document of the API, generated with utoipa from the model's
//! types (`dcs-model`'s `openapi` feature) and the operation descriptions below.
//! A test checks that its `paths` are exactly [`super::ROUTES`].

use std::sync::OnceLock;

use dcs_model::api::{ActiveWork, IdleReport, KeepaliveRequest, LastInput};
use dcs_model::api::{
    ApiError, CreateInstance, CreatedInstance, FieldError, Instance, InstanceKind, InstanceList,
    InstanceStatus, Me, PatchInstance, Phase, SharedWith, WorkspaceVolume,
};
use dcs_model::credentials::{CredentialList, CredentialView, SetCredential};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "devcontainer-serverless management API",
        description = "Create, list, inspect and delete workspace instances. Every request is \
                       authenticated like the rest of the proxy (a session cookie, or \
                       `Authorization: Bearer <token>` where the sign-in service accepts it). \
                       Errors are `ApiError` JSON."
    ),
    paths(
        list_instances,
        create_instance,
        get_instance,
        delete_instance,
        patch_instance,
        keepalive_instance,
        start_instance,
        stop_instance,
        get_status,
        get_workspace,
        get_me,
        list_credentials,
        set_credential,
        delete_credential,
        get_openapi
    ),
    components(schemas(
        CreateInstance,
        CreatedInstance,
        PatchInstance,
        SharedWith,
        Instance,
        InstanceKind,
        InstanceList,
        InstanceStatus,
        IdleReport,
        LastInput,
        ActiveWork,
        KeepaliveRequest,
        Phase,
        WorkspaceVolume,
        Me,
        SetCredential,
        CredentialView,
        CredentialList,
        ApiError,
        FieldError
    )),
    modifiers(&Security, &RequestId),
    security(("bearer" = [])),
    tags(
        (name = "instances", description = "Workspace instances"),
        (name = "credentials", description = "The caller's own git credentials, offered to git \
            in their workspaces (never the operator's token); tokens are never answered")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `request_id` in `ApiError`: the proxy adds it to every error body as it answers
/// ([`crate::pages::with_request_id`]), so the model's type does not carry it; nor
/// `sign_in`, which a 401 of the sign-in adds ([`super::error::ApiErr`]).
struct RequestId;

impl Modify for RequestId {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let schemas = &mut openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas;
        if let Some(RefOr::T(Schema::Object(error))) = schemas.get_mut("ApiError") {
            let id = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The request's id, as in the answer's `X-Request-Id` header and the proxy's \
                 log: what to quote when reporting a problem",
                ));
            error.properties.insert("request_id".into(), id.into());
            let sign_in = ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some(
                    "`true` on a 401 of the sign-in (no valid session): signing in again in a \
                 browser is the way in (absent otherwise)",
                ));
            error.properties.insert("sign_in".into(), sign_in.into());
        }
    }
}

/// The document as JSON (built once).
pub fn json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
        .clone()
}

/// List instances (API instances and `/github` repository workspaces).
#[utoipa::path(get, path = "/api/instances", tag = "instances",
    params(
        ("user_id" = Option<String>, Query, description = "Whose (default: the caller; others need an admin group)"),
        ("all" = Option<bool>, Query, description = "`true`: every user's (admin groups only; without `user_id`)")),
    responses(
        (status = 200, description = "The instances, sorted by id", body = InstanceList),
        (status = 400, description = "Bad query", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Another user's, or everyone's, without an admin group", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn list_instances() {}

/// Create an instance. Its access token is in the answer, once.
#[utoipa::path(post, path = "/api/instances", tag = "instances",
    request_body(content = CreateInstance, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `Location` is its URL in the API", body = CreatedInstance),
        (status = 400, description = "Malformed JSON", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "For another user without an admin group, the repository is denied by policy, `shared_with` while the server lets only owners open instances, or the request came from another site (`forbidden`); or the git server refused the operator's token for the repository (`start_failed`)", body = ApiError),
        (status = 404, description = "The repository does not exist at the git base (`repo_not_found`)", body = ApiError),
        (status = 408, description = "The body did not start within `--body-timeout`, or fell below `--body-min-rate` (`request_timeout`); nothing was done, and the connection is closed", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 415, description = "Not application/json", body = ApiError),
        (status = 422, description = "Invalid fields (unknown, repeated, wrong type, out of bounds)", body = ApiError),
        (status = 429, description = "Too many instances, or starts under way (`too_many_requests`); `Retry-After` says when to try again", body = ApiError),
        (status = 502, description = "The git base could not be asked whether the repository exists (`start_failed`); nothing was created", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn create_instance() {}

/// Get one instance.
#[utoipa::path(get, path = "/api/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The instance", body = Instance),
        (status = 400, description = "The id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn get_instance() {}

/// Delete an instance: it stops and its token stops working. The user's volume is kept.
#[utoipa::path(delete, path = "/api/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The request came from a page of another site (writes must come from the proxy's own origin)", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn delete_instance() {}

/// Share an instance: replaces who besides its owner (and admins) may open its link
/// (where the server allows others to open instances). Anyone else gets 404 for it,
/// whatever link they hold. The workspace keeps running.
#[utoipa::path(patch, path = "/api/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    request_body(content = PatchInstance, content_type = "application/json"),
    responses(
        (status = 200, description = "The instance, as it is now", body = Instance),
        (status = 400, description = "Malformed JSON, or the id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Sharing with someone while the server lets only owners open instances (`--dangerous-allow-shared-instances` off), or the request came from a page of another site", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 409, description = "Sharing a repository workspace (`ws-…`), which only its owner opens (`not_shareable`): share an instance of the repository instead", body = ApiError),
        (status = 408, description = "The body did not start within `--body-timeout`, or fell below `--body-min-rate` (`request_timeout`); nothing was done, and the connection is closed", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 415, description = "Not application/json", body = ApiError),
        (status = 422, description = "Invalid fields (unknown, wrong type, bad user id or group)", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn patch_instance() {}

/// Keep an instance running for `for_s` seconds whatever its use (declared work, e.g.
/// a long job nobody watches), at most `--busy-max`; `0` ends a keep-alive. Answers
/// the workspace's idle report.
#[utoipa::path(post, path = "/api/instances/{id}/keepalive", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    request_body(content = KeepaliveRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Held: the idle report now", body = IdleReport),
        (status = 400, description = "Malformed JSON, or the id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The request came from a page of another site (writes must come from the proxy's own origin)", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 409, description = "The instance is not running (`not_running`)", body = ApiError),
        (status = 408, description = "The body did not start within `--body-timeout`, or fell below `--body-min-rate` (`request_timeout`); nothing was done, and the connection is closed", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 415, description = "Not application/json", body = ApiError),
        (status = 422, description = "`for_s` beyond the busy limit, or not a number", body = ApiError),
        (status = 429, description = "Reaching it from this proxy needed a start, over a start limit (`too_many_requests`); `Retry-After` says when to try again", body = ApiError),
        (status = 502, description = "The workspace's launcher could not be asked (`workspace_unreachable`), or reaching it failed (`start_failed`, `upstream_failed`)", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`), or reaching it was called off (`start_cancelled`)", body = ApiError),
        (status = 504, description = "It could not be reached within the start timeout (`start_timeout`)", body = ApiError)))]
#[allow(dead_code)]
fn keepalive_instance() {}

/// Start an instance, as opening its link does (the access policy and the start
/// limits apply), without waiting: `GET /api/status` follows the start. A running
/// instance answers the same. A stop noted for its open tabs is forgotten.
#[utoipa::path(post, path = "/api/instances/{id}/start", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 202, description = "Starting (or running): the instance as it is now", body = Instance),
        (status = 400, description = "The id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The access policy denies its repository, or the request came from a page of another site", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 429, description = "Over a start limit; `Retry-After` says when to try again", body = ApiError),
        (status = 503, description = "The runtime could not be asked", body = ApiError)))]
#[allow(dead_code)]
fn start_instance() {}

/// Stop an instance now, as the IDE warning's Stop now does: its connections close,
/// its open tabs show Resume, its files are kept and the next open of its link wakes
/// it. Locally the answer comes once it has stopped; on Knative the workspace scales
/// to zero once its connections are gone, so `status` may read `running` a while.
#[utoipa::path(post, path = "/api/instances/{id}/stop", tag = "instances",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 200, description = "Stopped: the instance as it is now", body = Instance),
        (status = 400, description = "The id is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The request came from a page of another site (writes must come from the proxy's own origin)", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 503, description = "The runtime could not be asked", body = ApiError)))]
#[allow(dead_code)]
fn stop_instance() {}

/// An instance's status: phase, readiness, last activity, idle stop time.
#[utoipa::path(get, path = "/api/status", tag = "instances",
    params(("instance_id" = String, Query, description = "Instance id")),
    responses(
        (status = 200, description = "Its status", body = InstanceStatus),
        (status = 400, description = "Missing instance_id, or an unknown query parameter", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 404, description = "No such instance of the caller's", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn get_status() {}

/// A user's persistent workspace volume and the instances using it.
#[utoipa::path(get, path = "/api/workspaces/{user_id}", tag = "instances",
    params(("user_id" = String, Path, description = "Whose volume (others need an admin group)")),
    responses(
        (status = 200, description = "The volume", body = WorkspaceVolume),
        (status = 400, description = "Not a valid user id", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Another user's, without an admin group", body = ApiError),
        (status = 503, description = "The runtime could not be asked (`runtime_unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn get_workspace() {}

/// Who the caller is.
#[utoipa::path(get, path = "/api/me", tag = "instances",
    responses((status = 200, description = "The caller", body = Me),
              (status = 401, description = "Not signed in", body = ApiError)))]
#[allow(dead_code)]
fn get_me() {}

/// The caller's git credentials: hosts and user names, never tokens.
#[utoipa::path(get, path = "/api/me/credentials", tag = "credentials",
    responses((status = 200, description = "The caller's credentials", body = CredentialList),
              (status = 401, description = "Not signed in", body = ApiError),
              (status = 409, description = "The credentials file in the caller's volume cannot be used (local runtime: a symbolic link, not a regular file or folder, over the size cap, or permissions taken away; `credentials_file_refused`)", body = ApiError),
              (status = 503, description = "The credential store cannot be read or written right now (`unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn list_credentials() {}

/// Store (or replace) the caller's credential for a git host. It is offered to git in
/// the caller's workspaces (through the launcher's credential helper) and never shown
/// again.
#[utoipa::path(put, path = "/api/me/credentials/{host}", tag = "credentials",
    params(("host" = String, Path, description = "The git host, e.g. `github.com` or `git.example.com:8443`")),
    request_body(content = SetCredential, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; the answer has no token", body = CredentialView),
        (status = 400, description = "Malformed JSON, or the host is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The request came from a page of another site (writes must come from the proxy's own origin)", body = ApiError),
        (status = 409, description = "The credentials file in the caller's volume cannot be used (local runtime: a symbolic link, not a regular file or folder, over the size cap, or permissions taken away; `credentials_file_refused`)", body = ApiError),
        (status = 408, description = "The body did not start within `--body-timeout`, or fell below `--body-min-rate` (`request_timeout`); nothing was done, and the connection is closed", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 415, description = "Not application/json", body = ApiError),
        (status = 422, description = "Invalid host, user name or token, or too many credentials", body = ApiError),
        (status = 503, description = "The credential store cannot be read or written right now (`unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn set_credential() {}

/// Delete the caller's credential for a git host.
#[utoipa::path(delete, path = "/api/me/credentials/{host}", tag = "credentials",
    params(("host" = String, Path, description = "The git host")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The host is not valid UTF-8 once percent-decoded", body = ApiError),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The request came from a page of another site (writes must come from the proxy's own origin)", body = ApiError),
        (status = 404, description = "No credential for that host", body = ApiError),
        (status = 409, description = "The credentials file in the caller's volume cannot be used (local runtime: a symbolic link, not a regular file or folder, over the size cap, or permissions taken away; `credentials_file_refused`)", body = ApiError),
        (status = 422, description = "Not a git host", body = ApiError),
        (status = 503, description = "The credential store cannot be read or written right now (`unavailable`)", body = ApiError)))]
#[allow(dead_code)]
fn delete_credential() {}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "instances",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"),
              (status = 401, description = "Not signed in", body = ApiError)))]
#[allow(dead_code)]
fn get_openapi() {}

#[cfg(test)]
mod tests;
