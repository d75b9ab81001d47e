//! The request-head echo of [`crate::api::head_echo`], run *inside* a workspace: a
//! preview (`/…/ports/<n>/`) reaches only the workspace's own processes when it is
//! sandboxed (a multi-user sign-in: its own network namespace, loopback only), so a
//! test that wants to see what reached a preview app starts the app there, through
//! the workspace's web terminal (`/_dcs/terminal`), like a user would.
//!
//! The app is a Python script ([`SCRIPT`], `python3` from the host's `/usr`, which
//! the sandbox binds read-only): it listens on a port of the kernel's choosing on
//! 127.0.0.1 and answers every request with the request head it got (request line
//! and headers, as received) as a `text/plain` body. Its port is printed only once
//! it listens, so the preview answers from then on: nothing to wait for. It runs
//! while the terminal session does: dropping the [`WorkspaceEcho`] closes the
//! session, and the launcher ends its whole process tree.

use std::net::SocketAddr;

use anyhow::Context;
use base64::Engine;

#[path = "../tests/common/terminal.rs"]
mod terminal;

use terminal::Terminal;

/// The echo app: binds, forks (the parent prints `HEAD_ECHO_PORT=<n>` and exits, so
/// the terminal command returns), the child serves each connection on a thread.
pub const SCRIPT: &str = r#"
import os, socket, threading
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
if os.fork():
    print("HEAD_ECHO_PORT=%d" % s.getsockname()[1], flush=True)
    os._exit(0)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
def serve(c):
    try:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                break
            head += chunk
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                  b"connection: close\r\n\r\n" % len(head) + head)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A request-head echo running in a workspace; stops when dropped.
pub struct WorkspaceEcho {
    port: u16,
    /// The terminal session the echo runs under (its end ends the echo).
    _terminal: Terminal,
}

impl WorkspaceEcho {
    /// The echo's port inside the workspace: preview it at `<prefix>/ports/<port>/`.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Starts the echo in the workspace at `prefix` (`/github/acme/hello`,
/// `/instances/<id>`) of the proxy at `addr`, opening its terminal with `headers`
/// (what signs the request in: a session cookie, a bearer token, an instance's
/// access cookie). The workspace is started if it is not running.
pub async fn head_echo_in_workspace(
    addr: SocketAddr,
    prefix: &str,
    headers: &[(String, String)],
) -> anyhow::Result<WorkspaceEcho> {
    let path = format!("{prefix}/_dcs/terminal");
    let mut terminal = Terminal::open(addr, &path, headers)
        .await
        .with_context(|| format!("opening {path}"))?;
    let script = base64::engine::general_purpose::STANDARD.encode(SCRIPT);
    let out = terminal
        .run(&format!(
            "python3 -c 'import base64; exec(base64.b64decode(\"{script}\"))' 2>&1"
        ))
        .await?;
    let port = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("HEAD_ECHO_PORT="))
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("the echo did not start in {prefix}: {out}"))?;
    Ok(WorkspaceEcho {
        port,
        _terminal: terminal,
    })
}
