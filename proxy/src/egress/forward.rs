//! Plain HTTP through the egress proxy: `GET http://host[:port]/path` forwarded on a
//! connection of its own to the destination ([`super::connect::dial`]) in origin
//! form, `Host` set from the URL, hop-by-hop headers and the proxy's own
//! (`Proxy-Authorization`, `Proxy-Connection`) removed both ways
//! ([`dcs_net::hop`]), bodies streamed both ways. Upgrades are refused (400): a
//! WebSocket goes through `CONNECT`.

use std::sync::Arc;

use http::{header, uri::PathAndQuery, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tracing::debug;

use super::connect::{dial, Target};
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

    let upstream = match dial(&ctx, &target).await {
        Ok(upstream) => upstream,
        Err(failure) => return failure.answer(&ctx, &target),
    };
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(upstream)).await {
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
        // The connection's place is held until the destination's connection ends.
        let _slot = slot;
        if let Err(err) = conn.await {
            debug!(%workspace, %err, "egress: destination connection ended with an error");
        }
    });
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            dcs_net::hop::strip(&mut parts.headers, None);
            Response::from_parts(parts, boxed(body))
        }
        Err(err) => text(
            StatusCode::BAD_GATEWAY,
            format!("{target} gave no answer to the egress proxy: {err}\n"),
        ),
    }
}
