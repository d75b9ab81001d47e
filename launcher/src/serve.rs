//! The accept loop: HTTP/1.1 with upgrades on every accepted connection, or HTTP/2
//! when the proxy opens with its preface (its WebSockets to this workspace as
//! extended CONNECT streams on one connection, [`dcs_net::extended_connect`], turned
//! back into the upgrades the front and the IDE know), until the shutdown future
//! resolves. Each connection watches the app's drain signal and, once it turns,
//! finishes its in-flight requests and closes.
//!
//! Every accepted socket gets `TCP_NODELAY` (the IDE's WebSockets, the terminal and
//! file downloads are interactive), the soft descriptor limit is raised to the hard
//! one first, and out of descriptors a connection is answered `503` with
//! `Retry-After` ([`dcs_net::accept::Acceptor`]).
//!
//! All of it runs on [`runtime`]: one worker thread.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use dcs_net::accept::Acceptor;
use dcs_net::extended_connect;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::app::App;
use crate::front;

/// The launcher's runtime: one worker thread (and the blocking pool). A launcher
/// serves one workspace, whose requests come a few at a time; on two workers a
/// request's tasks ran on either, and a 1 KB file at one connection took 1.2–2.2×
/// the CPU and up to twice the time (docs/benchmarks.md, "This session (2026-12-03,
/// 14:34–)"). The work that takes CPU runs elsewhere: transfers in a child process,
/// file reads on the blocking pool, the IDE in its own processes.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

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

/// Runs hyper connection `conn` until it ends; once `drain` says shutdown began,
/// shuts it down gracefully and waits for that. (A macro: the two protocols'
/// connections share no trait for it, and a generic function loses the futures'
/// `Send` to a higher-ranked bound of hyper's.)
macro_rules! until_drained {
    ($conn:expr, $drain:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => result,
            () = crate::app::draining(&mut $drain) => {
                conn.as_mut().graceful_shutdown();
                conn.as_mut().await
            }
        }
    }};
}

async fn connection(stream: TcpStream, app: Arc<App>) {
    let mut drain = app.drain_watch();
    let service_app = app.clone();
    let service = service_fn(move |mut req| {
        let app = service_app.clone();
        async move {
            let stream = extended_connect::from_stream(&mut req);
            let resp = front::handle(app, req).await;
            Ok::<_, Infallible>(match stream {
                true => extended_connect::to_accepted(resp),
                false => resp,
            })
        }
    });
    let result = if extended_connect::opens_with_preface(&stream).await {
        // At shutdown: no new streams; those open (WebSockets) end with the drain.
        let conn = extended_connect::server().serve_connection(TokioIo::new(stream), service);
        until_drained!(conn, drain)
    } else {
        // At shutdown: the request in flight is finished (an upgraded connection was
        // handed over to its tunnel, which ends with the drain). No `Date`: the proxy
        // in front dates what its client gets (its server adds the header when an
        // answer has none), so this one would only cost a header to write here and
        // one to parse there, on every answer.
        let conn = http1::Builder::new()
            .auto_date_header(false)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        until_drained!(conn, drain)
    };
    if let Err(error) = result {
        debug!(%error, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_launcher_runs_on_one_worker_thread() {
        let runtime = super::runtime().expect("runtime");
        assert_eq!(runtime.metrics().num_workers(), 1);
        // It runs tasks, timers and I/O.
        let slept = runtime.block_on(async {
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                tokio::net::TcpListener::bind("127.0.0.1:0").await.is_ok()
            })
            .await
        });
        assert!(slept.expect("joined"));
    }
}
