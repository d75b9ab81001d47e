//! The apps the preview tests run on loopback ports, as a workspace user would.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The page's own policy, which the proxy's sandbox must join, not replace.
pub const APP_CSP: &str = "frame-ancestors 'none'";

/// The preview page: renders text, runs an inline and an external script, and
/// records what its scripts could reach: `/api/me`, this workspace's files through
/// the IDE's path, and its own WebSocket (an HMR channel).
const PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>preview</title></head>
<body>
<h1 id="title">preview rendered</h1>
<p id="inline">inline script did not run</p>
<p id="ext">external script did not run</p>
<p id="api">api pending</p>
<p id="files">files pending</p>
<p id="ws">ws pending</p>
<script>
const show = (id, text) => { document.getElementById(id).textContent = text; };
show('inline', 'inline script ran');
const attempt = (id, url) => fetch(url, { credentials: 'include' })
  .then((r) => r.text())
  .then((t) => show(id, 'read: ' + t.slice(0, 200)), (e) => show(id, 'blocked: ' + e));
attempt('api', '/api/me');
attempt('files', '/github/acme/hello/_dcs/files/README.md?raw');
try {
  const socket = new WebSocket(new URL('ws', location.href).href.replace(/^http/, 'ws'));
  socket.onopen = () => socket.send('hmr');
  socket.onmessage = (m) => show('ws', 'echo: ' + m.data);
  socket.onerror = () => show('ws', 'ws failed');
} catch (e) {
  show('ws', 'ws failed: ' + e);
}
</script>
<script src="app.js"></script>
</body></html>
"#;

/// An app like a dev server's: `GET /` is [`PAGE`] (with its own CSP and two
/// cookies, one named like the auth layer's session), `/app.js` its script, `/go` a
/// root-relative redirect, `/go/<to>` an absolute one (see [`redirect`]), `/ws` a
/// WebSocket echo. Returns its port.
pub async fn page_app() -> anyhow::Result<u16> {
    serve_page_app(TcpListener::bind("127.0.0.1:0").await?)
}

/// Serves the [`page_app`] on `listener`; returns its port.
pub fn serve_page_app(listener: TcpListener) -> anyhow::Result<u16> {
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut peek = [0u8; 16];
            let n = stream.peek(&mut peek).await.unwrap_or(0);
            if peek[..n].starts_with(b"GET /ws") {
                tokio::spawn(echo_socket(stream));
                continue;
            }
            let service = service_fn(move |req: Request<Incoming>| async move {
                Ok::<_, Infallible>(answer(&req, port))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Ok(port)
}

/// Where `/go/<to>` sends the browser, as apps write absolute redirects: `host` to
/// the request's own `Host` (Rails, older Werkzeug), `localhost`, `v4` and `v6` to
/// the app's own address `port` (a configured base URL), `other` to another site.
fn redirect(to: &str, host: &str, port: u16) -> Option<String> {
    Some(match to {
        "host" => format!("http://{host}/after"),
        "localhost" => format!("http://localhost:{port}/after"),
        "v4" => format!("http://127.0.0.1:{port}/after?x=1"),
        "v6" => format!("https://[::1]:{port}/after"),
        "other" => "http://other.example/after".to_owned(),
        _ => return None,
    })
}

fn answer(req: &Request<Incoming>, port: u16) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, kind: &str, body: &'static str| {
        Response::builder()
            .status(status)
            .header("content-type", kind)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap_or_default()
    };
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let path = req.uri().path();
    if let Some(to) = path
        .strip_prefix("/go/")
        .and_then(|to| redirect(to, host, port))
    {
        let mut resp = reply(StatusCode::FOUND, "text/plain", "");
        if let Ok(to) = http::HeaderValue::from_str(&to) {
            resp.headers_mut().insert("location", to);
        }
        return resp;
    }
    match path {
        "/" => {
            let mut resp = reply(StatusCode::OK, "text/html; charset=utf-8", PAGE);
            let h = resp.headers_mut();
            h.insert(
                "content-security-policy",
                http::HeaderValue::from_static(APP_CSP),
            );
            h.append(
                "set-cookie",
                http::HeaderValue::from_static("app_sid=1; Path=/; HttpOnly"),
            );
            h.append(
                "set-cookie",
                http::HeaderValue::from_static("authentik_session=planted; Path=/"),
            );
            resp
        }
        "/app.js" => reply(
            StatusCode::OK,
            "text/javascript",
            "document.getElementById('ext').textContent = 'external script ran';",
        ),
        "/go" => {
            let mut resp = reply(StatusCode::FOUND, "text/plain", "");
            resp.headers_mut()
                .insert("location", http::HeaderValue::from_static("/after"));
            resp
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found"),
    }
}

async fn echo_socket(stream: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(m)) = ws.next().await {
        if m.is_text() && ws.send(m).await.is_err() {
            break;
        }
    }
}
