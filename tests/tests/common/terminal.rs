//! A real PTY session through the proxy: the `none` IDE's `/_dcs/terminal`
//! WebSocket, driven like a person typing, with each command's output cut out
//! between markers the shell prints (so the echoed input never counts).
//! Shared by the suites that include it with `#[path]`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How long one command may take (busy machine, a whole-disk search).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(240);

/// An open terminal session.
pub struct Terminal {
    ws: WebSocketStream<tokio::net::TcpStream>,
    seen: String,
    n: u32,
}

impl Terminal {
    /// Opens `path` (e.g. `/github/acme/hello/_dcs/terminal`) on the proxy at
    /// `addr`, with `headers` (sign-in headers) on the upgrade request.
    pub async fn open(
        addr: SocketAddr,
        path: &str,
        headers: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let mut req = format!("ws://{addr}{path}").into_client_request()?;
        for (k, v) in headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(k.as_bytes())?,
                http::HeaderValue::from_str(v)?,
            );
        }
        let (ws, resp) = tokio_tungstenite::client_async(req, stream)
            .await
            .context("terminal upgrade")?;
        if resp.status() != 101 {
            bail!("the terminal answered {}", resp.status());
        }
        let mut term = Self {
            ws,
            seen: String::new(),
            n: 0,
        };
        // A quiet, predictable shell: no prompt noise in the output.
        term.run("export PS1='$ ' GIT_TERMINAL_PROMPT=0; stty -echo 2>/dev/null; true")
            .await?;
        Ok(term)
    }

    /// Runs `cmd` in the shell and returns what it printed (CR/LF as LF).
    pub async fn run(&mut self, cmd: &str) -> anyhow::Result<String> {
        self.n += 1;
        let (begin, end) = (format!("BEGIN_{}", self.n), format!("END_{}", self.n));
        let line = format!(
            "printf '%s_%s\\n' BEGIN {n}; {cmd}\nprintf '%s_%s\\n' END {n}\n",
            n = self.n
        );
        self.ws.send(Message::text(line)).await?;
        let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT;
        loop {
            let text = self.seen.replace("\r\n", "\n");
            if let Some(start) = text.find(&format!("{begin}\n")) {
                let rest = &text[start + begin.len() + 1..];
                if let Some(stop) = rest.find(&format!("{end}\n")) {
                    let out = rest[..stop].to_owned();
                    self.seen.clear();
                    return Ok(out);
                }
            }
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => {
                    self.seen.push_str(&String::from_utf8_lossy(&b))
                }
                Ok(Some(Ok(_))) => {}
                other => bail!("no output of {cmd:?} ({other:?}); seen {:?}", self.seen),
            }
        }
    }

    /// Types `exit`: the shell ends, and with it the session; waits for the socket
    /// to close.
    pub async fn exit(mut self) -> anyhow::Result<()> {
        self.ws.send(Message::text("exit\n")).await?;
        let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return Ok(()),
                Ok(Some(Ok(_))) => {}
                Err(_) => bail!("the session did not end after exit"),
            }
        }
    }

    /// Closes the socket, as a page reload does.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
