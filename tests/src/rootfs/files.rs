//! [`FileServer`]: a loopback HTTPS server of fixed files (an IDE's release archive
//! and its `.sha256`), with a certificate a [`TestCa`] signed, counting the requests
//! for each file. It runs on its own thread and runtime (like the git server), so a
//! test may block without starving it. Dropping it stops it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::git_server::TestCa;

type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// A running HTTPS file server.
#[derive(Debug)]
pub struct FileServer {
    addr: SocketAddr,
    hits: Hits,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    /// Serves `files` (name → content) at `/<name>`; anything else is a 404.
    pub fn start(ca: &TestCa, files: HashMap<String, Vec<u8>>) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let hits = Hits::default();
        let (files, seen, acceptor) = (Arc::new(files), hits.clone(), ca.acceptor());
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("file-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        let stream = tokio::select! {
                            _ = &mut stop => return,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => stream,
                                Err(_) => continue,
                            },
                        };
                        let (files, seen, acceptor) =
                            (files.clone(), seen.clone(), acceptor.clone());
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                                let name = req.uri().path().trim_start_matches('/').to_owned();
                                *seen
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .entry(name.clone())
                                    .or_default() += 1;
                                let mut res = Response::new(Full::new(Bytes::from(
                                    files.get(&name).cloned().unwrap_or_default(),
                                )));
                                if !files.contains_key(&name) {
                                    *res.status_mut() = StatusCode::NOT_FOUND;
                                }
                                async move { Ok::<_, Infallible>(res) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), service)
                                .await;
                        });
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(Self {
            addr,
            hits,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// How many requests asked for `name` so far.
    pub fn hits(&self, name: &str) -> usize {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests arrived so far, for any file.
    pub fn total_hits(&self) -> usize {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
