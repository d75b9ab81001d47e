//! The accept loop: HTTP/1.1 with upgrades on every accepted connection, until the
//! shutdown future resolves. Each connection watches the app's drain signal and, once
//! it turns, finishes its in-flight request and closes.
//!
//! Every accepted socket gets `TCP_NODELAY` (the IDE's WebSockets, the terminal and
//! file downloads are interactive), the soft descriptor limit is raised to the hard
//! one first, and out of descriptors a connection is answered `503` with
//! `Retry-After` ([`dcs_net::accept::Acceptor`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use dcs_net::accept::Acceptor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::app::App;
use crate::front;

/// Accepts connections on `listener` until `shutdown` resolves, then stops accepting
/// (dropping the listener) and returns. Connections keep running; use
/// [`App::start_drain`] and [`App::drained`] to end them.
pub async fn accept_until(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    match dcs_net::limits::raise_nofile() {
        Ok(raised) => info!(
            before = raised.before,
            after = raised.after,
            hard = raised.hard,
            "file-descriptor limit"
        ),
        Err(error) => warn!(%error, "cannot raise the file-descriptor limit"),
    }
    let mut acceptor = Acceptor::new(listener, "dcs-launcher");
    loop {
        tokio::select! {
            // Shutdown requested: stop accepting.
            () = &mut shutdown => break,
            // A new connection (accept errors are handled by the acceptor: out of
            // descriptors, the waiting client is answered 503).
            (stream, peer) = acceptor.accept() => {
                debug!(%peer, "connection accepted");
                tokio::spawn(connection(stream, app.clone()));
            }
        }
    }
}

async fn connection(stream: TcpStream, app: Arc<App>) {
    let mut drain = app.drain_watch();
    let service_app = app.clone();
    let service = service_fn(move |req| {
        let app = service_app.clone();
        async move { Ok::<_, Infallible>(front::handle(app, req).await) }
    });
    let conn = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        // The connection ended by itself (or was handed over to an upgrade).
        result = conn.as_mut() => result,
        // Shutdown: finish the request in flight, then close.
        () = crate::app::draining(&mut drain) => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(error) = result {
        debug!(%error, "connection ended with an error");
    }
}
