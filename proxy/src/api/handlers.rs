//! The API's handlers. Each takes the caller's [`Identity`] (already
//! authenticated) and answers JSON or an [`ApiErr`].
//!
//! Who may see what: a caller sees and acts on their own instances; members of
//! an admin group (`--admin-group`; with `--auth none` the single local user)
//! may act for anyone. Another user's instance answers 404, exactly like an id
//! that does not exist, so ids of others are never confirmed.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dcs_model::api::{
    CreatedInstance, Instance, InstanceList, InstanceStatus, Me, Phase, WorkspaceVolume,
};
use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey};
use http::header::LOCATION;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};

use super::error::{json_response, ApiErr};
use super::{json, openapi, token};
use crate::auth::Identity;
use crate::body::Body;
use crate::runtime::{WorkspaceInfo, WorkspaceSpec};
use crate::state::AppState;

pub(crate) type Answer = Result<Response<Body>, ApiErr>;

/// Whether `identity` may act for other users.
pub fn is_admin(state: &AppState, identity: &Identity) -> bool {
    state.api.everyone_admin
        || identity
            .groups
            .iter()
            .any(|g| state.api.admin_groups.iter().any(|a| a == g))
}

/// `GET /api/me`
pub fn me(state: &AppState, identity: &Identity) -> Answer {
    Ok(json_response(
        StatusCode::OK,
        &Me {
            user_id: identity.user.to_string(),
            username: identity.username.clone(),
            groups: identity.groups.clone(),
            admin: is_admin(state, identity),
        },
    ))
}

/// `GET /api/openapi.json`
pub fn openapi_json() -> Answer {
    let mut resp = Response::new(crate::body::full(openapi::json()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// A create's `repo` given as a link (`https://<host>/owner/repo…`, `git@host:…`),
/// as `owner/repo` if it is on the git base's server (the home page's rule,
/// [`dcs_model::repo::RepoRef::from_link_at`]); anything else is left for
/// validation.
fn repo_of_link(state: &AppState, repo: Option<String>) -> Result<Option<String>, ApiErr> {
    match repo {
        Some(link) if link.contains("://") || link.starts_with("git@") => {
            dcs_model::RepoRef::from_link_at(&link, &state.links)
                .map(|repo| Some(repo.as_str().to_owned()))
                .map_err(|e| {
                    ApiErr::validation(vec![dcs_model::api::FieldError {
                        field: "repo".into(),
                        message: e.to_string(),
                    }])
                })
        }
        other => Ok(other),
    }
}

/// `POST /api/instances`
pub async fn create<B>(state: &AppState, identity: &Identity, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let value = json::read_value(parts, body, json::MAX_BODY).await?;
    let mut request = json::create_instance(value)?;
    request.repo = repo_of_link(state, request.repo)?;
    let valid = request
        .validate(&state.api.bounds)
        .map_err(ApiErr::validation)?;
    let owner = match valid.user.clone() {
        Some(user) => acting_for(state, identity, user)?,
        None => identity.user.clone(),
    };
    super::sharing::sharing_allowed(state, &valid.spec.shared_with)?;
    if let Some(repo) = &valid.spec.repo {
        state
            .policy
            .require(&identity.username, &identity.groups, repo)?;
    }
    // Nothing is registered past a limit or for a repository that does not exist;
    // the owner's next create is checked once this one's start is counted.
    let _turn = state.creates.turn(&owner).await;
    crate::quota::admit_instance(state, &owner).await?;
    if let Some(repo) = &valid.spec.repo {
        state.activator.require_repo(repo).await?;
    }
    let runtime = state.activator.runtime();
    let mut warnings = not_applied(runtime.applies_containers(), &valid.spec);
    let id = token::instance_id()?;
    let access_token = token::generate()?;
    let spec = InstanceSpec {
        token_sha256: Some(token::sha256_hex(&access_token)),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ..valid.spec
    };
    let key = WorkspaceKey::instance(owner, id.clone());
    let workspace = WorkspaceSpec::new(key.clone(), spec.clone());
    if let Err(err) = runtime.register(&workspace).await {
        // Nobody has its token: do not leave a record behind (best effort).
        if let Err(cleanup) = crate::runtime::finish::delete(runtime, &key).await {
            tracing::warn!(instance = %id, %cleanup, "cannot remove an instance that failed to register");
        }
        return Err(err.into());
    }
    if let (true, Some(asked)) = (runtime.applies_containers(), &spec.resources.storage) {
        // The user's volume is shared: grow it where the runtime can, else say so.
        match runtime.grow_volume(&key.user, asked).await {
            Ok(warning) => warnings.extend(warning),
            Err(err) => tracing::warn!(instance = %id, %err, "cannot check the volume's size"),
        }
    }
    state.instances.insert(key.clone(), spec.clone());
    // Start it now, so it is warm when its link is opened; `/api/status` (and
    // `dcs create --wait`) follow the start, a failure shows there with its reason.
    state.activator.wake(&workspace, false)?;
    let status = state.activator.status(&key).await?;
    tracing::info!(instance = %id, owner = %key.user, by = %identity.user, "instance created");
    let created = CreatedInstance {
        instance: view(&key, &status, &spec),
        access_token,
        warnings,
    };
    let mut resp = json_response(StatusCode::CREATED, &created);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/instances/{id}")) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// Warnings for settings a runtime records but does not apply (local processes
/// run in no container: no image, no CPU/memory/storage figures).
pub fn not_applied(applies_containers: bool, spec: &InstanceSpec) -> Vec<String> {
    if applies_containers {
        return Vec::new();
    }
    let r = &spec.resources;
    [
        ("base_image", spec.base_image.is_some()),
        ("storage", r.storage.is_some()),
        ("cpu_request", r.cpu_request.is_some()),
        ("cpu_limit", r.cpu_limit.is_some()),
        ("memory_request", r.memory_request.is_some()),
        ("memory_limit", r.memory_limit.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(field, _)| {
        format!(
            "{field} is recorded but not applied: this server runs workspaces as local processes"
        )
    })
    .collect()
}

/// `GET /api/instances?user_id=` (one user's), `?all=true` (everyone's, for admins)
pub async fn list(state: &AppState, identity: &Identity, parts: &Parts) -> Answer {
    let mut q = query(parts, &["user_id", "all"])?;
    let all = match q.remove("all").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiErr::bad_request("all: true or false")),
    };
    let user = match (all, q.remove("user_id")) {
        (true, Some(_)) => {
            return Err(ApiErr::bad_request(
                "all=true lists every user's: leave out user_id",
            ))
        }
        (true, None) if !is_admin(state, identity) => {
            return Err(ApiErr::forbidden(format!(
                "{} may not list every user's instances: only members of an admin group may",
                identity.username
            )))
        }
        (true, None) => None,
        (false, requested) => Some(subject(state, identity, requested)?),
    };
    let infos = state.activator.runtime().list(user.as_ref()).await?;
    let mut instances: Vec<Instance> = infos
        .iter()
        .map(|info| view(&info.key, &info.status, &spec_of(state, info)))
        .collect();
    instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    Ok(json_response(StatusCode::OK, &InstanceList { instances }))
}

/// `GET /api/instances/{id}`
pub async fn get(state: &AppState, identity: &Identity, id: &str) -> Answer {
    let info = owned(state, identity, id).await?;
    let instance = view(&info.key, &info.status, &spec_of(state, &info));
    Ok(json_response(StatusCode::OK, &instance))
}

/// `DELETE /api/instances/{id}`: stops it and forgets it (its token with it);
/// the user's volume and files are kept.
pub async fn delete(state: &AppState, identity: &Identity, id: &str) -> Answer {
    let info = owned(state, identity, id).await?;
    let id = info.key.id();
    state.instances.remove(&id);
    state.activator.forget(&info.key);
    crate::runtime::finish::delete(state.activator.runtime(), &info.key).await?;
    // Again: a link opened while the runtime deleted may have cached it anew.
    state.instances.remove(&id);
    tracing::info!(instance = %id, owner = %info.key.user, by = %identity.user, "instance deleted");
    let mut resp = Response::new(crate::body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// `GET /api/status?instance_id=`
pub async fn status(state: &AppState, identity: &Identity, parts: &Parts) -> Answer {
    let mut q = query(parts, &["instance_id"])?;
    let Some(id) = q.remove("instance_id") else {
        return Err(ApiErr::bad_request(
            "the query parameter instance_id is required: /api/status?instance_id=<id>",
        ));
    };
    let info = owned(state, identity, &id).await?;
    let status = state.activator.status(&info.key).await?;
    let (phase, reason) = phase(&status);
    let idle_timeout = state.activator.idle_timeout();
    let idle = super::keepalive::explain(state, &info.key, &status).await;
    let last = state
        .activator
        .activity
        .peek(&info.key)
        .and_then(|t| SystemTime::now().checked_sub(t.idle_for()));
    let idle_stop_at = match (phase, last) {
        (Phase::Running, Some(last)) => Some(rfc3339(last + idle_timeout)),
        _ => None,
    };
    // The launcher decides: its clock, where it answers (`stop_at` is `None` while
    // work holds the workspace).
    let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
    let (last_activity, idle_stop_at) = match &idle {
        Some(report) => (
            report
                .last_input
                .as_ref()
                .map(|l| at(l.at))
                .or(last.map(rfc3339)),
            report.stop_at.map(at),
        ),
        None => (last.map(rfc3339), idle_stop_at),
    };
    let reason = reason.or_else(|| (phase == Phase::Starting).then(|| "starting".to_owned()));
    Ok(json_response(
        StatusCode::OK,
        &InstanceStatus {
            instance_id: info.key.id().to_string(),
            phase,
            ready: phase == Phase::Running,
            reason,
            last_activity,
            idle_stop_at,
            idle_timeout_seconds: idle_timeout.as_secs(),
            progress: crate::progress::for_api(state, &info.key, &status).await,
            idle,
        },
    ))
}

/// `GET /api/workspaces/{user_id}`
pub async fn workspace(state: &AppState, identity: &Identity, user: &str) -> Answer {
    let user = subject(state, identity, Some(user.to_owned()))?;
    let runtime = state.activator.runtime();
    let volume = runtime.volume(&user).await?;
    let mut instances: Vec<String> = runtime
        .list(Some(&user))
        .await?
        .into_iter()
        .map(|w| w.key.id().to_string())
        .collect();
    instances.sort();
    Ok(json_response(
        StatusCode::OK,
        &WorkspaceVolume {
            user_id: user.to_string(),
            volume: volume.name,
            exists: volume.exists,
            used_bytes: volume.used_bytes,
            capacity: volume.capacity,
            instances,
        },
    ))
}

/// `user`, if the caller may act for them (themselves, or anyone for an admin).
fn acting_for(state: &AppState, identity: &Identity, user: UserId) -> Result<UserId, ApiErr> {
    if user == identity.user || is_admin(state, identity) {
        Ok(user)
    } else {
        Err(ApiErr::forbidden(format!(
            "{} may not act for user {user}: only members of an admin group may",
            identity.username
        )))
    }
}

/// The user a request is about: `requested` (checked), else the caller.
fn subject(
    state: &AppState,
    identity: &Identity,
    requested: Option<String>,
) -> Result<UserId, ApiErr> {
    match requested {
        None => Ok(identity.user.clone()),
        Some(u) => {
            let user = UserId::new(&u).map_err(|e| ApiErr::bad_request(format!("user_id: {e}")))?;
            acting_for(state, identity, user)
        }
    }
}

/// The workspace with id `id`, if the caller may see it; 404 otherwise (unknown
/// and someone else's look the same).
pub(crate) async fn owned(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<WorkspaceInfo, ApiErr> {
    let missing = || {
        ApiErr::not_found(format!(
            "no instance {} of yours",
            crate::server::truncate(id, 80)
        ))
    };
    let id = InstanceId::parse(id).map_err(|_| missing())?;
    let info = state
        .activator
        .runtime()
        .find(&id)
        .await?
        .ok_or_else(missing)?;
    if info.key.user != identity.user && !is_admin(state, identity) {
        return Err(missing());
    }
    Ok(info)
}

/// The listed spec; while a runtime does not record specs, the one this proxy
/// cached when it created the instance.
pub(crate) fn spec_of(state: &AppState, info: &WorkspaceInfo) -> InstanceSpec {
    if info.spec == InstanceSpec::default() {
        if let Some((_, spec)) = state.instances.cached(&info.key.id()) {
            return spec;
        }
    }
    info.spec.clone()
}

/// The query parameters (decoded), refusing any not in `allowed`.
fn query(parts: &Parts, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiErr> {
    let mut out = BTreeMap::new();
    let query = parts.uri.query().unwrap_or("");
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiErr::bad_request(format!(
                "unknown query parameter {:?}; allowed: {}",
                crate::server::truncate(&name, 60),
                allowed.join(", ")
            )));
        }
        out.insert(name.into_owned(), value.into_owned());
    }
    Ok(out)
}

mod view;
pub use view::view;
use view::{phase, rfc3339};

#[cfg(test)]
mod tests;
