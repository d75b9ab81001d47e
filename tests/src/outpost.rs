//! A stand-in Authentik proxy outpost (with a one-click fake IdP) on
//! `127.0.0.1:0`, implementing the documented forward-auth contract:
//!
//! - `GET /outpost.goauthentik.io/auth/nginx`: 200 + `X-authentik-*` for a known
//!   session cookie `authentik_proxy_e2e0test=<session>`, 401 otherwise; every
//!   call counted and its headers recorded.
//! - `GET /outpost.goauthentik.io/start?rd=<url>`: 302 to the fake IdP's
//!   `/idp/authorize?state=…&redirect_uri=<Host>/outpost.goauthentik.io/callback?…`.
//! - `GET /idp/authorize?…&login=<username>`: "signs in" and 302s to the
//!   redirect URI with a code; without `login`, a login page.
//! - `GET /outpost.goauthentik.io/callback?…&code=…&state=…`: sets the session
//!   cookie and 302s to the `rd` of `/start`.
//! - `GET /outpost.goauthentik.io/sign_out`: ends the session, clears the cookie
//!   ([`FakeOutpost::end_session`] ends one without the proxy knowing).
//!
//! It runs on its own thread and runtime; dropping it (or [`FakeOutpost::stop`])
//! closes the listener and every open connection, so it is truly unreachable.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use crate::proxy::ProxyBuilder;

/// The session cookie's name (Authentik: `authentik_proxy_<8 chars of the app>`).
pub const SESSION_COOKIE: &str = "authentik_proxy_e2e0test";

/// A person the fake IdP knows.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// Stable id (`X-authentik-uid`), 64 hex characters like Authentik's.
    pub uid: String,
    /// Login name (`X-authentik-username`).
    pub username: String,
    /// Groups (`X-authentik-groups`, `|`-joined).
    pub groups: Vec<String>,
}

impl FakeUser {
    /// A user with a uid derived from `username` (64 hex chars) in group `developers`.
    pub fn new(username: &str) -> Self {
        let hex: String = username.bytes().map(|b| format!("{b:02x}")).collect();
        let uid = format!("{hex:0>64}");
        Self {
            uid: uid[uid.len() - 64..].to_owned(),
            username: username.to_owned(),
            groups: vec!["developers".into()],
        }
    }
}

#[derive(Default)]
struct State {
    users: Vec<FakeUser>,
    sessions: Mutex<HashMap<String, FakeUser>>,
    /// `Authorization: Bearer` tokens (as Authentik with *intercept header auth*).
    bearers: Mutex<HashMap<String, FakeUser>>,
    /// `/start` state → `rd`.
    pending: Mutex<HashMap<String, String>>,
    /// IdP code → user.
    codes: Mutex<HashMap<String, FakeUser>>,
    checks: AtomicUsize,
    seen_checks: Mutex<Vec<HeaderMap>>,
    next: AtomicUsize,
}

/// A running stand-in outpost; stops when dropped.
pub struct FakeOutpost {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeOutpost {
    /// Starts an outpost whose IdP knows `users`.
    pub fn start(users: Vec<FakeUser>) -> anyhow::Result<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fake-outpost")
            .enable_all()
            .build()
            .context("building the outpost runtime")?;
        let state = Arc::new(State {
            users,
            ..State::default()
        });
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, addr, &req)) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        Ok(Self {
            addr,
            state,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:<port>`, for `--authentik-outpost-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `b` set to `--auth authentik` against this outpost, as a site runs it: with
    /// `--public-url` (required), here the loopback address the proxy is told to
    /// listen on, a port that was free a moment ago (the proxy's URL is its public
    /// URL, as in a deployment).
    pub fn signs_in(&self, b: ProxyBuilder) -> ProxyBuilder {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        b.listen(format!("127.0.0.1:{port}"))
            .arg("--auth")
            .arg("authentik")
            .arg("--authentik-outpost-url")
            .arg(self.url())
            .arg("--public-url")
            .arg(format!("http://127.0.0.1:{port}"))
    }

    /// How many `/auth/nginx` checks it answered.
    pub fn checks(&self) -> usize {
        self.state.checks.load(Ordering::SeqCst)
    }

    /// Headers of every `/auth/nginx` check, in order.
    pub fn seen_checks(&self) -> Vec<HeaderMap> {
        lock(&self.state.seen_checks).clone()
    }

    /// Signs `username` in without the browser dance; returns the `Cookie` pair.
    pub fn session_for(&self, username: &str) -> anyhow::Result<String> {
        let user = self.user(username).context("unknown user")?;
        let session = self.state.id("session");
        lock(&self.state.sessions).insert(session.clone(), user);
        Ok(format!("{SESSION_COOKIE}={session}"))
    }

    /// Ends the session of `cookie` (a `name=value` pair from [`Self::session_for`])
    /// here, as a sign-out through another replica, an admin's revocation or a
    /// deactivated account does: the proxy is not told. Returns whether it was live.
    pub fn end_session(&self, cookie: &str) -> bool {
        let session = cookie
            .split(';')
            .find_map(|p| p.trim().strip_prefix(&format!("{SESSION_COOKIE}=")));
        session.is_some_and(|s| lock(&self.state.sessions).remove(s).is_some())
    }

    /// A token for `username` that the outpost accepts as `Authorization: Bearer
    /// <token>` (Authentik's intercept header auth: an app password or a token
    /// issued for the provider).
    pub fn bearer_for(&self, username: &str) -> anyhow::Result<String> {
        let user = self.user(username).context("unknown user")?;
        let token = self.state.id("bearer");
        lock(&self.state.bearers).insert(token.clone(), user);
        Ok(token)
    }

    /// Stops serving: the port refuses connections and open ones are closed.
    pub fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    fn user(&self, username: &str) -> Option<FakeUser> {
        self.state.user(username)
    }
}

impl Drop for FakeOutpost {
    fn drop(&mut self) {
        self.stop();
    }
}

impl State {
    fn id(&self, kind: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{kind}{n:04}x{nanos:08x}")
    }

    fn user(&self, username: &str) -> Option<FakeUser> {
        self.users.iter().find(|u| u.username == username).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn handle(state: &State, me: SocketAddr, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let q = query(req.uri().query().unwrap_or(""));
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    let bearer = header(req.headers(), "authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    let session = match bearer {
        // With intercept header auth, a credential that is there decides alone.
        Some(token) => lock(&state.bearers).get(&token).cloned(),
        None => session_of(req.headers()).and_then(|s| lock(&state.sessions).get(&s).cloned()),
    };
    match req.uri().path() {
        "/outpost.goauthentik.io/auth/nginx" => {
            state.checks.fetch_add(1, Ordering::SeqCst);
            lock(&state.seen_checks).push(req.headers().clone());
            match session {
                Some(user) => identity(user),
                None => reply(StatusCode::UNAUTHORIZED, "unauthorized request"),
            }
        }
        "/outpost.goauthentik.io/start" => {
            let st = state.id("state");
            lock(&state.pending).insert(st.clone(), param("rd"));
            let proto = header(req.headers(), "x-forwarded-proto").unwrap_or("http".into());
            let host = header(req.headers(), "host").unwrap_or_default();
            let callback = format!(
                "{proto}://{host}/outpost.goauthentik.io/callback?X-authentik-auth-callback=true"
            );
            let to = format!(
                "http://{me}/idp/authorize?state={st}&redirect_uri={}",
                enc(&callback)
            );
            redirect(&to, None)
        }
        "/idp/authorize" => match state.user(&param("login")) {
            Some(user) => {
                let code = state.id("code");
                lock(&state.codes).insert(code.clone(), user);
                let to = format!(
                    "{}&code={code}&state={}",
                    param("redirect_uri"),
                    param("state")
                );
                redirect(&to, None)
            }
            None => reply(StatusCode::OK, "<form>fake IdP login</form>"),
        },
        "/outpost.goauthentik.io/callback" => {
            let rd = lock(&state.pending).remove(&param("state"));
            let user = lock(&state.codes).remove(&param("code"));
            let (Some(rd), Some(user)) = (rd, user) else {
                return reply(StatusCode::BAD_REQUEST, "unknown state or code");
            };
            let session = state.id("session");
            lock(&state.sessions).insert(session.clone(), user);
            let cookie = format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax");
            redirect(&rd, Some(&cookie))
        }
        "/outpost.goauthentik.io/sign_out" => {
            if let Some(s) = session_of(req.headers()) {
                lock(&state.sessions).remove(&s);
            }
            let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0");
            redirect("/", Some(&cookie))
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    }
}

fn identity(user: FakeUser) -> Response<Full<Bytes>> {
    let mut resp = reply(StatusCode::OK, "");
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-authentik-uid", user.uid.clone()),
        ("x-authentik-username", user.username.clone()),
        ("x-authentik-email", format!("{}@e2e.test", user.username)),
        ("x-authentik-name", user.username.to_uppercase()),
        ("x-authentik-groups", user.groups.join("|")),
        ("x-authentik-entitlements", String::new()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp
}

fn redirect(to: &str, cookie: Option<&str>) -> Response<Full<Bytes>> {
    let mut resp = reply(StatusCode::FOUND, "");
    for (name, value) in [("location", Some(to)), ("set-cookie", cookie)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|p| {
            p.trim()
                .strip_prefix(&format!("{SESSION_COOKIE}="))
                .map(str::to_owned)
        })
}

/// Percent-decoded query parameters.
pub fn query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (dec(k), dec(v)))
        .collect()
}

fn dec(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}
