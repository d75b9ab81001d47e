//! The accept loop: HTTP/1.1 with upgrades on every accepted connection, until the
//! shutdown future resolves. Each connection watches the app's drain signal and, once
//! it turns, finishes its in-flight request and closes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

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
    loop {
        tokio::select! {
            // Shutdown requested: stop accepting.
            () = &mut shutdown => break,
            // A new connection (or an accept error, e.g. out of file descriptors).
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    debug!(%peer, "connection accepted");
                    tokio::spawn(connection(stream, app.clone()));
                }
                Err(error) => {
                    warn!(%error, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
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
