//! The one response body type of the launcher's front ([`Body`]) and constructors for
//! it: whole buffers, nothing, and files streamed from disk without buffering.

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use tokio_util::io::ReaderStream;

/// Boxed error of a body stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response the front sends has this body type, whatever produced it (a page,
/// a file on disk, later an IDE's response).
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body streaming `file` from its current position to its end, chunk by chunk.
pub fn file(file: tokio::fs::File) -> Body {
    let frames = ReaderStream::new(file)
        .map_ok(Frame::data)
        .map_err(BoxError::from);
    StreamBody::new(frames).boxed_unsync()
}
