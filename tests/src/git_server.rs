//! A real git smart-HTTP server for tests: hyper 1 on `127.0.0.1:0`, each
//! request handed to `git http-backend` as a CGI process (see [`cgi`]).
//!
//! The server runs on its own thread with its own tokio runtime, so tests may
//! block on `git clone` (a `std::process::Command`) without starving it. It
//! can require a token through HTTP Basic auth, and records every request it
//! saw so tests can prove where credentials travelled. Its [`Mode`] makes it a
//! faulty server on demand: one that accepts and never answers, or one that
//! trickles its answers. With [`GitServerBuilder::tls`] it speaks HTTPS with a
//! certificate signed by a test CA ([`TestCa`]). Each upload-pack request's
//! [`Negotiation`] is recorded too, so tests can tell a clone from a fetch. Dropping
//! the [`GitServer`] stops it.

mod auth;
mod cgi;
mod mode;
mod negotiation;
pub mod tls;

pub use mode::Mode;
pub use negotiation::Negotiation;
pub use tls::TestCa;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// Response body type: the CGI's stdout, streamed.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// One request the server received, recorded before it was answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET` for ref advertisement, `POST` for upload-pack.
    pub method: Method,
    /// Path and query exactly as sent, e.g. `/acme/hello.git/info/refs?service=git-upload-pack`.
    pub path_and_query: String,
    /// Every request header, as received (including `Authorization`).
    pub headers: HeaderMap,
    /// Whether the request passed the token check (always true without one).
    pub authorized: bool,
    /// The Basic-auth user name, when the request was authorized by token.
    pub user: Option<String>,
    /// For a `POST …/git-upload-pack`: what it asked for, filled in once its whole
    /// body arrived (so before its answer ends); `None` before that and for others.
    pub negotiation: Option<Negotiation>,
    /// Arrival number, to fill in [`Self::negotiation`] later.
    seq: u64,
}

impl RecordedRequest {
    /// Whether this was an upload-pack request that cloned (see
    /// [`Negotiation::is_clone`]).
    pub fn is_clone(&self) -> bool {
        self.negotiation.as_ref().is_some_and(Negotiation::is_clone)
    }
}

/// Options for a [`GitServer`]; start with [`GitServer::builder`].
#[derive(Debug, Clone)]
pub struct GitServerBuilder {
    /// Directory holding the served repositories (`GIT_PROJECT_ROOT`).
    root: PathBuf,
    /// Password every request must carry in HTTP Basic auth, if any.
    token: Option<String>,
    /// How it answers at first.
    mode: Mode,
    /// Serve HTTPS with this CA's server certificate instead of plain HTTP.
    tls: Option<TestCa>,
}

impl GitServerBuilder {
    /// Serves HTTPS (instead of HTTP) with the server certificate `ca` signed: only a
    /// client that trusts `ca` gets through.
    pub fn tls(mut self, ca: &TestCa) -> Self {
        self.tls = Some(ca.clone());
        self
    }

    /// Starts in `mode` (see [`GitServer::set_mode`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Requires `Authorization: Basic base64(<any user>:<token>)` on every
    /// request; others get `401` with `WWW-Authenticate: Basic realm="git"`.
    pub fn require_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a dedicated thread.
    pub fn start(self) -> anyhow::Result<GitServer> {
        let backend = http_backend_path()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("binding the git server to 127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("git-server")
            .enable_all()
            .build()
            .context("building the git server runtime")?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(self.mode));
        let shared = Arc::new(Shared {
            root: self.root,
            backend,
            token: self.token,
            requests: Arc::clone(&requests),
            mode: Arc::clone(&mode),
            next_seq: std::sync::atomic::AtomicU64::new(0),
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let acceptor = self.tls.as_ref().map(TestCa::acceptor);
        let thread = std::thread::Builder::new()
            .name(format!("git-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, shared, acceptor, shutdown_rx));
                runtime.shutdown_background();
            })
            .context("spawning the git server thread")?;
        Ok(GitServer {
            addr,
            scheme,
            requests,
            mode,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }
}

/// A running git smart-HTTP server; stops when dropped.
#[derive(Debug)]
pub struct GitServer {
    /// Where it listens (always on 127.0.0.1).
    addr: SocketAddr,
    /// `http`, or `https` with [`GitServerBuilder::tls`].
    scheme: &'static str,
    /// Every request seen so far, in arrival order.
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    /// How requests are answered from now on.
    mode: Arc<Mutex<Mode>>,
    /// Tells the accept loop to stop; taken on drop.
    shutdown: Option<oneshot::Sender<()>>,
    /// The thread running the server's runtime; joined on drop.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GitServer {
    /// Serves the repositories under `root` without authentication.
    pub fn start(root: &Path) -> anyhow::Result<GitServer> {
        Self::builder(root).start()
    }

    /// Options for a server serving the repositories under `root`.
    pub fn builder(root: &Path) -> GitServerBuilder {
        GitServerBuilder {
            root: root.to_path_buf(),
            token: None,
            mode: Mode::Normal,
            tls: None,
        }
    }

    /// Answers requests that arrive from now on in `mode` (requests in flight keep
    /// theirs).
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (`https://…` with TLS), without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// [`Self::base_url`] naming the server `host` (e.g. `localhost`, which its
    /// certificate names too) instead of its IP address.
    pub fn base_url_for(&self, host: &str) -> String {
        format!("{}://{host}:{}", self.scheme, self.addr.port())
    }

    /// Clone URL of the repository `name` (e.g. `"acme/hello"` →
    /// `http://127.0.0.1:<port>/acme/hello.git`).
    pub fn repo_url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.base_url())
    }

    /// A snapshot of every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// State shared by every connection.
#[derive(Debug)]
struct Shared {
    /// `GIT_PROJECT_ROOT`.
    root: PathBuf,
    /// Path of the `git-http-backend` executable.
    backend: PathBuf,
    /// Required Basic-auth password, if any.
    token: Option<String>,
    /// Request log, shared with [`GitServer::requests`].
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    /// How to answer, shared with [`GitServer::set_mode`].
    mode: Arc<Mutex<Mode>>,
    /// The next request's [`RecordedRequest::seq`].
    next_seq: std::sync::atomic::AtomicU64,
}

/// `$(git --exec-path)/git-http-backend`.
fn http_backend_path() -> anyhow::Result<PathBuf> {
    const DEPS: &str = "run `make deps` (or `make test`, which runs it)";
    let output = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .with_context(|| format!("running `git --exec-path` (is git installed? {DEPS})"))?;
    if !output.status.success() {
        bail!("`git --exec-path` failed: {}", output.status);
    }
    let exec_path = String::from_utf8(output.stdout).context("git exec path is not UTF-8")?;
    let backend = Path::new(exec_path.trim()).join("git-http-backend");
    if !backend.is_file() {
        bail!("git-http-backend missing ({}): {DEPS}", backend.display());
    }
    Ok(backend)
}

/// Accepts connections until `shutdown` fires; each connection gets a task (and a
/// TLS handshake first when `tls` is given; a client that does not trust the
/// certificate hangs up there, which is routine).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    eprintln!("git server: accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // As real git servers' front ends do: without it a response's last small
        // write (the chunked body's end) waits for the client's delayed ACK, ~40 ms
        // per round trip, which clients that write differently pay differently.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, req, peer).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            // Connection errors (client hung up mid-response) are routine.
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

/// Records the request, checks the token, then runs the CGI.
async fn handle(shared: &Shared, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let verdict = auth::check(shared.token.as_deref(), req.headers());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let seq = shared
        .next_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let upload_pack =
        req.method() == Method::POST && req.uri().path().ends_with("/git-upload-pack");
    let gzip = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(RecordedRequest {
            method: req.method().clone(),
            path_and_query,
            headers: req.headers().clone(),
            authorized: verdict.authorized,
            user: verdict.user.clone(),
            negotiation: None,
            seq,
        });
    let mode = *shared.mode.lock().unwrap_or_else(PoisonError::into_inner);
    if mode == Mode::Hang || (mode == Mode::HangPacks && upload_pack) {
        // Accepted, read, never answered.
        std::future::pending::<()>().await;
    }
    if !verdict.authorized {
        let mut resp = text_response(StatusCode::UNAUTHORIZED, "authentication required\n");
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"git\""),
        );
        return resp;
    }
    let on_body =
        upload_pack.then(|| negotiation::recorder(Arc::clone(&shared.requests), seq, gzip));
    match cgi::run(
        &shared.backend,
        &shared.root,
        req,
        peer,
        verdict.user,
        on_body,
    )
    .await
    {
        Ok(resp) => mode::apply(mode, resp),
        Err(err) => {
            eprintln!("git server: git-http-backend failed: {err:#}");
            text_response(StatusCode::BAD_GATEWAY, &format!("{err:#}\n"))
        }
    }
}

/// A small `text/plain` response.
fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(text.to_owned()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
