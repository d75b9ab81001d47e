//! Kept connections against a real hyper server on loopback: when a connection goes
//! back (each kind of answer body), when it does not (an answer dropped midway, an
//! exchange whose request body is still going out), what the upstream closed, expiry
//! and the bound.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use super::*;

type Req = BoxBody<Bytes, Infallible>;

/// What the server saw.
#[derive(Default)]
struct Seen {
    accepts: AtomicUsize,
    closes: AtomicUsize,
}

impl Seen {
    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
    fn closes(&self) -> usize {
        self.closes.load(Ordering::SeqCst)
    }
}

/// A hyper server: `/len` a body with a length, `/chunked` one without, `/empty` a
/// `204`, `/big` 4 MiB in pieces, `/early` an answer that does not wait for the
/// request's body. With `idle_close`, it closes a connection that waits that long
/// for its next request (as Node's keep-alive timeout does).
async fn server(idle_close: Option<Duration>) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counts.accepts.fetch_add(1, Ordering::SeqCst);
            let counts = counts.clone();
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<Incoming>| async move {
                    let body: BoxBody<Bytes, Infallible> = match req.uri().path() {
                        "/len" | "/early" => Full::new(Bytes::from_static(b"hello")).boxed(),
                        "/chunked" => {
                            let frames = ["he", "llo"].map(|s| Ok(Frame::data(Bytes::from(s))));
                            StreamBody::new(futures_util::stream::iter(frames)).boxed()
                        }
                        "/big" => {
                            let piece = Bytes::from(vec![b'x'; 16 * 1024]);
                            let frames = (0..256).map(move |_| Ok(Frame::data(piece.clone())));
                            StreamBody::new(futures_util::stream::iter(frames)).boxed()
                        }
                        _ => Empty::new().boxed(),
                    };
                    let status = if req.uri().path() == "/empty" {
                        204
                    } else {
                        200
                    };
                    let resp = Response::builder().status(status).body(body);
                    Ok::<_, Infallible>(resp.expect("response"))
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new());
                builder.header_read_timeout(idle_close);
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                counts.closes.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen)
}

fn get(path: &str) -> Request<Req> {
    let req = Request::get(path).header("host", "upstream.example");
    req.body(Empty::new().boxed()).expect("request")
}

async fn connect(addr: &str) -> Result<TokioIo<TcpStream>, Failure> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::of(&e, true))?;
    Ok(TokioIo::new(stream))
}

async fn fetch(kept: &KeepAlive<Req>, addr: &str, req: Request<Req>) -> Bytes {
    let resp = kept.send(addr, req, || connect(addr)).await.expect("sent");
    resp.into_body().collect().await.expect("body").to_bytes()
}

/// Waits for `done`, failing after a generous deadline.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_connection_goes_back_when_its_answer_has_ended_whatever_its_body() {
    let (addr, seen) = server(None).await;
    let kept = KeepAlive::new(8, Duration::from_secs(60));
    for path in ["/len", "/chunked", "/empty"] {
        for _ in 0..10 {
            let body = fetch(&kept, &addr, get(path)).await;
            let want: &[u8] = if path == "/empty" { b"" } else { b"hello" };
            assert_eq!(body, want, "{path}");
        }
    }
    let head = Request::head("/len").header("host", "upstream.example");
    let resp = kept
        .send(&addr, head.body(Empty::new().boxed()).expect("req"), || {
            connect(&addr)
        })
        .await
        .expect("sent");
    // Back without its body being read or dropped (once hyper waits for the next
    // request on it, which may be a moment after the answer came).
    until("a body-less answer gives its connection back", || {
        kept.idle(&addr) == 1
    })
    .await;
    drop(resp);
    assert_eq!(seen.accepts(), 1, "31 requests over one connection");
}

#[tokio::test]
async fn an_answer_dropped_midway_takes_its_connection_along() {
    let (addr, seen) = server(None).await;
    let kept = KeepAlive::new(8, Duration::from_secs(60));
    let resp = kept
        .send(&addr, get("/big"), || connect(&addr))
        .await
        .expect("sent");
    let mut body = resp.into_body();
    body.frame().await.expect("a frame").expect("data");
    assert_eq!(kept.idle(&addr), 0, "not back while its answer is unread");
    drop(body);
    until("the abandoned connection closes", || seen.closes() == 1).await;
    assert_eq!(fetch(&kept, &addr, get("/len")).await, "hello");
    assert_eq!(seen.accepts(), 2, "the next request connected anew");
}

#[tokio::test]
async fn a_kept_connection_the_upstream_closed_is_passed_over() {
    let (addr, seen) = server(Some(Duration::from_millis(100))).await;
    let kept = KeepAlive::new(8, Duration::from_secs(60));
    for round in 1..=3 {
        assert_eq!(fetch(&kept, &addr, get("/len")).await, "hello");
        until("the upstream closes the idle connection", || {
            seen.closes() == round
        })
        .await;
    }
    assert_eq!(
        seen.accepts(),
        3,
        "each round on a new connection, none failed"
    );
}

#[tokio::test]
async fn idle_connections_expire_and_are_closed() {
    let (addr, seen) = server(None).await;
    let kept = KeepAlive::new(8, Duration::from_millis(200));
    assert_eq!(fetch(&kept, &addr, get("/len")).await, "hello");
    until("the expired connection is closed", || seen.closes() == 1).await;
    until("the upstream is forgotten", || kept.upstreams() == 0).await;
    assert_eq!(fetch(&kept, &addr, get("/len")).await, "hello");
    assert_eq!(seen.accepts(), 2);
}

#[tokio::test]
async fn at_most_max_idle_connections_are_kept_per_upstream() {
    let (addr, seen) = server(None).await;
    let kept = KeepAlive::new(2, Duration::from_secs(60));
    let mut answers = Vec::new();
    for _ in 0..5 {
        let resp = kept
            .send(&addr, get("/len"), || connect(&addr))
            .await
            .expect("sent");
        answers.push(resp);
    }
    assert_eq!(
        seen.accepts(),
        5,
        "five answers open at once hold five connections"
    );
    for resp in answers {
        resp.into_body().collect().await.expect("body");
    }
    until("two are kept", || kept.idle(&addr) == 2).await;
    until("the three beyond the bound close", || seen.closes() == 3).await;
}

/// An upstream that answered before the request's body was sent whole: its
/// connection is busy until that body is out, and the next request does not wait
/// for it.
#[tokio::test]
async fn a_connection_still_sending_a_body_is_not_handed_out() {
    let (addr, seen) = server(None).await;
    let kept = KeepAlive::new(8, Duration::from_secs(60));
    let post = Request::post("/early").header("host", "upstream.example");
    let req = post.body(Unfinished(true).boxed()).expect("request");
    let early = kept
        .send(&addr, req, || connect(&addr))
        .await
        .expect("sent");
    assert_eq!(
        early.into_body().collect().await.expect("body").to_bytes(),
        "hello"
    );
    let next = tokio::time::timeout(Duration::from_secs(20), fetch(&kept, &addr, get("/len")));
    assert_eq!(next.await.expect("not held up by the upload"), "hello");
    assert_eq!(
        seen.accepts(),
        2,
        "the next request took a connection of its own"
    );
}

/// A request body whose first piece goes out and whose rest never comes.
struct Unfinished(bool);

impl http_body::Body for Unfinished {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if std::mem::take(&mut self.0) {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"part")))));
        }
        Poll::Pending
    }
}

#[tokio::test]
async fn a_refused_connect_leaves_no_record() {
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let kept = KeepAlive::<Req>::new(8, Duration::from_secs(60));
    let err = kept
        .send(&addr, get("/"), || connect(&addr))
        .await
        .expect_err("refused");
    assert_eq!(err.kind, super::super::Kind::Refused);
    assert!(err.connecting);
    assert_eq!(kept.upstreams(), 0);
}
