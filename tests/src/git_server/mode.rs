//! Faulty git servers on demand: [`Mode::Hang`] accepts and reads a request and never
//! answers it ([`Mode::HangPacks`]: only the transfers); [`Mode::Trickle`] sends each response body `chunk` bytes at a time,
//! one chunk every `every`.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::Body;

/// How a [`GitServer`](super::GitServer) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As fast as `git http-backend` can.
    Normal,
    /// Never: every request is accepted and read, then left without an answer.
    Hang,
    /// Everything but the transfer: the ref advertisement (and any probe) is
    /// answered, every upload-pack request is accepted, read and never answered (a
    /// clone that begins and then hangs).
    HangPacks,
    /// Slowly: response bodies go out `chunk` bytes every `every`.
    Trickle {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause before each chunk.
        every: Duration,
    },
}

/// `resp` as `mode` sends it.
pub(super) fn apply(mode: Mode, resp: Response<Body>) -> Response<Body> {
    let Mode::Trickle { chunk, every } = mode else {
        return resp;
    };
    let chunk = chunk.max(1);
    resp.map(|body| {
        let pieces = stream::unfold(
            (body, Bytes::new()),
            move |(mut body, mut pending)| async move {
                loop {
                    if !pending.is_empty() {
                        tokio::time::sleep(every).await;
                        let piece = pending.split_to(chunk.min(pending.len()));
                        return Some((Ok(Frame::data(piece)), (body, pending)));
                    }
                    match body.frame().await? {
                        Ok(frame) => match frame.into_data() {
                            Ok(data) => pending = data,
                            Err(other) => return Some((Ok(other), (body, pending))),
                        },
                        Err(e) => return Some((Err(e), (body, pending))),
                    }
                }
            },
        );
        StreamBody::new(pieces).boxed_unsync()
    })
}
