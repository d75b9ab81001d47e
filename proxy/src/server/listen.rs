//! The main listener's accept loop and graceful shutdown ([`run`]): announce (`/readyz`
//! 503 while still serving, when something watches readiness), stop accepting (the
//! socket closed: new connections are refused, never queued unanswered), drain.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use dcs_net::coarse_timer::CoarseTimer;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::{handle, MAX_HEAD_BYTES};
use crate::state::AppState;

/// hyper's read buffer: room for a head somewhat over [`MAX_HEAD_BYTES`], so that
/// the limit is decided here, the same whatever the reads (hyper checks its own
/// bound only between reads), with a readable answer; beyond this buffer hyper
/// answers a bare 431 itself.
const READ_BUFFER_BYTES: usize = 2 * MAX_HEAD_BYTES;

/// How long the proxy keeps accepting after SIGTERM, `/readyz` answering 503, when
/// something watches its readiness: one period of the Deployment's readiness probe
/// (10 s), so the kubelet sees the 503, and time for the endpoint's removal to reach
/// the balancers, before new connections are refused. With [`DRAIN`] within the
/// Deployment's `terminationGracePeriodSeconds` (30).
pub const ANNOUNCE: Duration = Duration::from_secs(10);

/// The longest the proxy waits, once it stopped accepting, for the requests in flight.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown` resolves, then shuts down in three steps:
/// 1. **announce**: `/readyz` turns 503 at once; if anything ever asked `/readyz`
///    (a kubelet, a balancer's health check) the proxy goes on accepting and
///    serving for [`ANNOUNCE`] (each answer with `Connection: close`), so that
///    clients that arrive before the balancers hear of it are served, not left
///    waiting; if nothing did (local use), it goes straight on;
/// 2. **drain**: the listening socket is closed (a new connection is refused at
///    once, never left in the accept queue), and the requests in flight finish,
///    bounded by [`DRAIN`];
/// 3. the runtime's workspaces are stopped ([`crate::runtime::Runtime::shutdown`]).
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) {
    // Each connection holds a clone of `live`; its count is the number still open.
    let live = Arc::new(());
    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(CoarseTimer)
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(READ_BUFFER_BYTES);
    tokio::pin!(shutdown);
    // The end of the announce, once shutdown began.
    let announce = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(announce);
    let mut announcing = false;
    // TCP_NODELAY on every client socket; out of descriptors, a 503 (see `accept`);
    // the memory of closed connections goes back to the system (see `alloc`).
    crate::accept::raise_nofile();
    crate::alloc::return_freed_memory();
    let mut acceptor = crate::accept::acceptor(listener);
    loop {
        tokio::select! {
            () = &mut shutdown, if !announcing => {
                state.draining.store(true, Ordering::SeqCst);
                if !state.readiness_asked.load(Ordering::SeqCst) {
                    break;
                }
                info!(
                    secs = ANNOUNCE.as_secs(),
                    "shutting down: /readyz answers 503; still accepting while balancers notice"
                );
                announce.as_mut().reset(tokio::time::Instant::now() + ANNOUNCE);
                announcing = true;
            }
            () = &mut announce, if announcing => break,
            (stream, peer) = acceptor.accept() => {
                // The address this connection came in on: the listen address and port.
                let local = match stream.local_addr() {
                    Ok(local) => local,
                    Err(err) => {
                        debug!(%peer, %err, "connection gone before it was served");
                        continue;
                    }
                };
                let state = state.clone();
                let svc = service_fn(move |req| handle(state.clone(), req, peer, local));
                let conn = http.serve_connection(TokioIo::new(stream), svc).with_upgrades();
                let (live, mut drain) = (live.clone(), drain_rx.clone());
                tokio::spawn(async move {
                    tokio::pin!(conn);
                    let result = tokio::select! {
                        result = conn.as_mut() => result,
                        // Shutdown: finish the request in flight, then close.
                        _ = drain.changed() => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(err) = result {
                        debug!(%peer, %err, "connection ended with an error");
                    }
                    drop(live);
                });
            }
        }
    }
    // Closed: a connection that comes now is refused at once, not queued unanswered.
    drop(acceptor);
    info!("shutting down: no longer accepting; draining connections");
    let _ = drain_tx.send(true);
    let drained = async {
        while Arc::strong_count(&live) > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        warn!(
            "connections still open after {} s; closing them",
            DRAIN.as_secs()
        );
    }
    state.activator.runtime().shutdown().await;
    info!("stopped");
}
