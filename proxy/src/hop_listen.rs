//! `--hop-listen`: launchers' progress pushes ([`crate::progress::push`]) on an
//! address of their own, so workspace pods, which must reach the proxy to push,
//! reach only this (the NetworkPolicy admits them to this port and no other), never
//! the public listener, where a workspace's code would meet the edge's sign-in from
//! inside the cluster. With it, the main listener answers the push route 404; this
//! one serves the push route and nothing else, without sign-in (each push carries
//! its workspace's hop credential).

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::body::Body;
use crate::side_listener::text;
use crate::state::AppState;

async fn answer(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let Some(name) = crate::progress::push::name_in(req.uri().path()).map(str::to_owned) else {
        return text(
            StatusCode::NOT_FOUND,
            "only launchers' progress pushes are served here\n",
        );
    };
    let runtime = state.activator.runtime();
    crate::progress::push::handle(runtime.as_ref(), req, &name).await
}

/// Serves progress pushes on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) {
    crate::side_listener::serve(listener, state, "hop", answer).await;
}
