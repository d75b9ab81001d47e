//! Plain HTTP through the egress proxy: `GET http://host[:port]/path` forwarded on a
//! connection of its own to the destination ([`super::connect::open`]) in origin
//! form, `Host` set from the URL, hop-by-hop headers and the proxy's own
//! (`Proxy-Authorization`, `Proxy-Connection`) removed both ways
//! ([`dcs_net::hop`]), bodies streamed both ways. The destination connection holds
//! a place in the proxy's descriptor gate. Once the
//! request's body is sent whole, the destination has
//! [`super::Egress::with_response_timeout`] to answer (504); until then the body
//! may stall as long between its bytes (408). Upgrades are refused (400): a
//! WebSocket goes through `CONNECT`.

use std::sync::Arc;

use dcs_net::pace::{Pace, Paced};
use http::{header, uri::PathAndQuery, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tracing::debug;

use super::connect::{open, Target};
use super::serve::{text, Slot};
use super::Ctx;
use crate::body::{boxed, Body};

/// HTTP's port when a URL names none.
const HTTP_PORT: u16 = 80;

/// Forwards an absolute-form `http://` request to its destination.
pub(super) async fn forward(ctx: Arc<Ctx>, slot: Slot, req: Request<Incoming>) -> Response<Body> {
    if dcs_net::hop::upgrade_requested(req.headers()).is_some() {
        return text(
            StatusCode::BAD_REQUEST,
            "The egress proxy does not upgrade plain-HTTP requests; a WebSocket or \
             other upgrade goes through CONNECT.\n"
                .to_owned(),
        );
    }
    let target = match req
        .uri()
        .authority()
        .map(|a| Target::of(a, Some(HTTP_PORT)))
    {
        Some(Ok(target)) => target,
        Some(Err(problem)) => return text(StatusCode::BAD_REQUEST, format!("{problem}\n")),
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                "the URL names no host\n".to_owned(),
            )
        }
    };
    let Some(host) = target.host_header(HTTP_PORT) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("\"{}\" is not a host name\n", target.host),
        );
    };
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::from(path);
    parts.version = Version::HTTP_11;
    dcs_net::hop::strip(&mut parts.headers, None);
    // The destination is the URL's: its `Host` is the URL's authority (RFC 9112 §3.2.2).
    parts.headers.insert(header::HOST, host);

    let (gated, upstream) = match open(&ctx, &target).await {
        Ok(opened) => opened,
        Err(failure) => return failure.answer(&ctx, &target),
    };
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake::<_, Paced<Incoming>>(TokioIo::new(upstream))
            .await
        {
            Ok(pair) => pair,
            Err(err) => {
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!("The egress proxy cannot talk HTTP to {target}: {err}\n"),
                )
            }
        };
    let workspace = ctx.workspace.clone();
    ctx.spawn(async move {
        // The connection's places (the workspace's, the proxy's) are held until the
        // destination's connection ends.
        let _slots = (slot, gated);
        if let Err(err) = conn.await {
            debug!(%workspace, %err, "egress: destination connection ended with an error");
        }
    });
    let timeout = ctx.egress.response_timeout;
    let (body, sent) = Paced::new(
        body,
        Pace {
            timeout,
            min_rate: 0,
        },
    );
    let answer = tokio::select! {
        answer = sender.send_request(Request::from_parts(parts, body)) => answer,
        () = async {
            sent.finished().await;
            tokio::time::sleep(timeout).await;
        } => {
            // The answer's future dropped, hyper closes the destination's connection.
            return text(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{target} did not answer the egress proxy within {} s\n",
                    timeout.as_secs_f32()
                ),
            );
        }
    };
    match answer {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            dcs_net::hop::strip(&mut parts.headers, None);
            Response::from_parts(parts, boxed(body))
        }
        Err(_) if sent.expired() => text(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body stalled for {} s; the egress proxy gave up sending it \
                 to {target}\n",
                timeout.as_secs_f32()
            ),
        ),
        Err(err) => text(
            StatusCode::BAD_GATEWAY,
            format!("{target} gave no answer to the egress proxy: {err}\n"),
        ),
    }
}
