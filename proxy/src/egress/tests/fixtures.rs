//! The parts the egress tests run against: a proxy on a unix socket in a temporary
//! folder with an injected resolver, a TCP echo server on 127.0.0.1 that reports
//! each connection and its end, and raw HTTP over the unix socket.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcs_net::dns::CachedResolver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::super::{serve, Egress, Policy, Serving};

/// The longest any test waits for something to happen.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The names the injected resolver knows: `metadata.example` is the cloud
/// metadata address, `echo.example` and `web.example` are 127.0.0.1.
pub fn resolver() -> CachedResolver {
    CachedResolver::with_lookup(Duration::ZERO, |host| {
        Box::pin(async move {
            let ip: [u8; 4] = match host.as_str() {
                "metadata.example" => [169, 254, 169, 254],
                "echo.example" | "web.example" => [127, 0, 0, 1],
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "Name or service not known",
                    ))
                }
            };
            Ok(vec![SocketAddr::from((ip, 0))])
        })
    })
}

/// A workspace's egress proxy on a socket in a temporary folder.
pub struct Proxy {
    pub socket: PathBuf,
    pub serving: Option<Serving>,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Serves `policy` (with [`resolver`]), `tune` setting limits.
    pub fn start(policy: Policy, tune: impl FnOnce(Egress) -> Egress) -> Proxy {
        Proxy::serve(Arc::new(tune(Egress::with_resolver(policy, resolver()))))
    }

    /// Serves `egress` (shared with other workspaces' proxies, perhaps).
    pub fn serve(egress: Arc<Egress>) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("egress.sock");
        let listener = UnixListener::bind(&socket).expect("bind the socket");
        let serving = serve(egress, listener, "alice-hello".to_owned());
        Proxy {
            socket,
            serving: Some(serving),
            _dir: dir,
        }
    }

    /// A new connection to the proxy.
    pub async fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket)
            .await
            .expect("connect to the proxy")
    }

    /// Sends `request` (whole, with `Connection: close`) and reads the answer to the
    /// end.
    pub async fn exchange(&self, request: &str) -> String {
        let mut stream = self.connect().await;
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut answer = Vec::new();
        tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
            .await
            .expect("the answer ends in time")
            .expect("read the answer");
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `CONNECT target` on a new connection; returns the connection and the
    /// answer's head.
    pub async fn tunnel(&self, target: &str) -> (UnixStream, String) {
        let mut stream = self.connect().await;
        let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send CONNECT");
        let head = tokio::time::timeout(DEADLINE, read_head(&mut stream))
            .await
            .expect("the answer comes in time");
        (stream, head)
    }
}

/// Reads a response head, byte by byte so that nothing past it is taken.
async fn read_head(stream: &mut UnixStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read_u8().await {
            Ok(byte) => head.push(byte),
            Err(err) => panic!("the head ends early ({err}): {head:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Writes `sent` into a tunnel and reads the echo back.
pub async fn echoes(stream: &mut UnixStream, sent: &[u8]) {
    stream.write_all(sent).await.expect("write into the tunnel");
    let mut back = vec![0u8; sent.len()];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut back))
        .await
        .expect("the echo comes in time")
        .expect("read the echo");
    assert_eq!(back, sent);
}

/// A TCP echo server on 127.0.0.1.
pub struct Echo {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// One message each time a connection's client side ended (EOF or error).
    pub ended: mpsc::UnboundedReceiver<()>,
}

impl Echo {
    pub async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let addr = listener.local_addr().expect("echo address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let ended = ended_tx.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = ended.send(());
                });
            }
        });
        Echo {
            addr,
            accepted,
            ended,
        }
    }

    /// Waits (within [`DEADLINE`]) until one of its connections ended.
    pub async fn one_ended(&mut self) {
        tokio::time::timeout(DEADLINE, self.ended.recv())
            .await
            .expect("the echo's peer ends in time")
            .expect("the echo server runs");
    }
}

/// A port of 127.0.0.1 nothing listens on (bound, then freed).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

/// The status code of a raw answer.
pub fn status(answer: &str) -> u16 {
    answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}
