//! Running `git http-backend` as a CGI/1.1 process for one request: the
//! request body streams into its stdin, its header block becomes the response
//! head and the rest of its stdout streams back as the response body.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::negotiation::MAX_BODY;
use super::Body;

/// Most header lines accepted from the CGI before giving up.
const MAX_CGI_HEADERS: usize = 100;

/// Called with the request body (its first [`MAX_BODY`] bytes) once it all arrived.
pub(super) type OnBody = Box<dyn FnOnce(&[u8]) + Send>;

/// Runs the CGI `backend` for `req` and returns its response, body streaming; hands
/// the request body to `on_body` as well, if given.
pub(super) async fn run(
    backend: &Path,
    root: &Path,
    req: Request<Incoming>,
    peer: SocketAddr,
    user: Option<String>,
    on_body: Option<OnBody>,
) -> anyhow::Result<Response<Body>> {
    let (parts, body) = req.into_parts();
    let mut cmd = Command::new(backend);
    cmd.env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("SERVER_SOFTWARE", "dcs-e2e-git-server")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("REMOTE_ADDR", peer.ip().to_string());
    for var in ["GIT_DIR", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"] {
        cmd.env_remove(var);
    }
    if let Some(user) = &user {
        cmd.env("REMOTE_USER", user).env("AUTH_TYPE", "Basic");
    }
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        match *name {
            header::CONTENT_TYPE => {
                cmd.env("CONTENT_TYPE", value);
            }
            header::CONTENT_LENGTH => {
                cmd.env("CONTENT_LENGTH", value);
            }
            // CGI never passes credentials to the script.
            header::AUTHORIZATION => {}
            _ => {
                // Repeated headers are rare here; the last one wins.
                let var = format!(
                    "HTTP_{}",
                    name.as_str().to_ascii_uppercase().replace('-', "_")
                );
                cmd.env(var, value);
            }
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawning {}", backend.display()))?;

    let mut stdin = child.stdin.take().context("CGI stdin")?;
    tokio::spawn(async move {
        let mut body = body;
        let mut seen = Vec::new();
        let mut complete = true;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                complete = false;
                break;
            };
            if let Ok(data) = frame.into_data() {
                if on_body.is_some() && seen.len() < MAX_BODY {
                    let room = MAX_BODY - seen.len();
                    seen.extend_from_slice(&data[..data.len().min(room)]);
                }
                if stdin.write_all(&data).await.is_err() {
                    complete = false;
                    break;
                }
            }
        }
        if let (Some(on_body), true) = (on_body, complete) {
            on_body(&seen);
        }
        // Dropping stdin closes it: the CGI sees end of request body.
    });
    let stderr = child.stderr.take().context("CGI stderr")?;
    tokio::spawn(log_stderr(stderr));

    let mut stdout = BufReader::new(child.stdout.take().context("CGI stdout")?);
    let mut response = Response::builder();
    let mut status = StatusCode::OK;
    let mut header_lines = 0;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).await? == 0 {
            bail!("CGI output ended before its header block did");
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        header_lines += 1;
        if header_lines > MAX_CGI_HEADERS {
            bail!("CGI sent more than {MAX_CGI_HEADERS} header lines");
        }
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed CGI header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .with_context(|| format!("bad CGI Status line {value:?}"))?;
        } else {
            response = response.header(
                HeaderName::from_bytes(name.trim().as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
    }
    let body = StreamBody::new(body_stream(stdout, child)).boxed_unsync();
    Ok(response.status(status).body(body)?)
}

/// The rest of the CGI's stdout as body frames; reaps the child at the end.
fn body_stream(
    stdout: BufReader<ChildStdout>,
    child: Child,
) -> impl futures_util::Stream<Item = std::io::Result<Frame<Bytes>>> + Send {
    futures_util::stream::unfold(Some((stdout, child)), |state| async move {
        let (mut stdout, mut child) = state?;
        let mut buf = vec![0u8; 32 * 1024];
        match stdout.read(&mut buf).await {
            Ok(0) => {
                let _ = child.wait().await;
                None
            }
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some((stdout, child))))
            }
            // Dropping the child kills it (kill_on_drop); tokio reaps it.
            Err(err) => Some((Err(err), None)),
        }
    })
}

/// Copies whatever the CGI prints on stderr into the test output.
async fn log_stderr(mut stderr: impl AsyncRead + Unpin) {
    let mut text = String::new();
    if stderr.read_to_string(&mut text).await.is_ok() && !text.trim().is_empty() {
        eprintln!("git-http-backend: {}", text.trim_end());
    }
}
