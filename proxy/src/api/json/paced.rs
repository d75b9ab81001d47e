//! API request bodies under the edge's body pace (`--body-timeout`,
//! `--body-min-rate`, as for bodies forwarded to workspaces): one that stalls or
//! trickles ends in a `408 request_timeout`, and its connection is closed, rather
//! than holding its handler for as long as the client likes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use dcs_net::pace::{Pace, Paced, TooSlow};
use dcs_net::BoxError;
use http_body::{Body, Frame, SizeHint};

use super::ApiErr;
use crate::error::Error;

/// A request body under a [`Pace`]; its errors are [`BodyError`]s.
pub struct PacedBody<B>(Paced<B>);

/// Why a paced body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(BoxError);

/// `body` under `pace`, from now on.
pub fn paced<B>(body: B, pace: Pace) -> PacedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    PacedBody(Paced::new(body, pace).0)
}

impl<B> Body for PacedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.0)
            .poll_frame(cx)
            .map(|frame| frame.map(|f| f.map_err(BodyError)))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// The answer to a body that failed while being read: `408` if it was too slow
/// (see [`paced`]), else `400`.
pub fn unreadable(err: &(dyn std::error::Error + 'static)) -> ApiErr {
    let slow = err
        .downcast_ref::<BodyError>()
        .and_then(|e| e.0.downcast_ref::<TooSlow>());
    match slow {
        Some(slow) => ApiErr::from(Error::RequestTimeout(format!(
            "the request body arrived too slowly (it must start within {} and keep up at \
             least {} bytes/s); nothing was done",
            humantime::format_duration(slow.timeout),
            slow.min_rate
        ))),
        None => ApiErr::bad_request(format!("the request body could not be read: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Request;
    use http_body_util::StreamBody;

    use super::*;

    type Frames = futures_util::stream::Pending<Result<http_body::Frame<Bytes>, BoxError>>;

    /// A JSON request whose body never comes.
    fn stalled() -> (http::request::Parts, StreamBody<Frames>) {
        let (parts, ()) = Request::post("/api/instances")
            .header("content-type", "application/json")
            .header("content-length", "10")
            .body(())
            .expect("request")
            .into_parts();
        (parts, StreamBody::new(futures_util::stream::pending()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_a_408_request_timeout() {
        let pace = Pace {
            timeout: Duration::from_secs(5),
            min_rate: 0,
        };
        let (parts, body) = stalled();
        let err = super::super::read_value(&parts, paced(body, pace), 1024)
            .await
            .expect_err("too slow");
        assert_eq!(err.status(), 408, "{err:?}");
        assert_eq!(err.body().error, "request_timeout");
        assert!(err.body().message.contains("5s"), "{err:?}");
    }

    #[tokio::test]
    async fn a_broken_body_is_still_a_400() {
        let (parts, _) = stalled();
        let failing = futures_util::stream::iter([Err::<http_body::Frame<Bytes>, BoxError>(
            "connection reset".into(),
        )]);
        let pace = Pace {
            timeout: Duration::from_secs(5),
            min_rate: 0,
        };
        let err = super::super::read_value(&parts, paced(StreamBody::new(failing), pace), 1024)
            .await
            .expect_err("broken");
        assert_eq!(err.status(), 400, "{err:?}");
        assert!(err.body().message.contains("connection reset"), "{err:?}");
    }
}
