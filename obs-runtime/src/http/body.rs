//! The response body, timed to its last frame.

use core::pin::Pin;
use core::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::record::{End, Record};

pin_project_lite::pin_project! {
    /// A response body that ends its request's measurement: at its last frame (a gRPC
    /// status in the trailers is read there), at an error, or, dropped before its end, as
    /// `cancelled`. Everything else passes through unchanged.
    ///
    /// A body that says it is at its end (`is_end_stream`, as an empty or a fully read
    /// `Full` body does) counts as complete when dropped: hyper does not poll it further.
    pub struct ObsBody<B> {
        #[pin]
        inner: B,
        record: Option<Box<Record>>,
    }
}

impl<B> ObsBody<B> {
    pub(crate) fn new(inner: B, record: Option<Box<Record>>) -> Self {
        ObsBody { inner, record }
    }

    /// The body inside.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for ObsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        let Some(record) = this.record.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(super::grpc_status) {
                    record.grpc = Some(code);
                }
                // hyper stops polling once the body says it is at its end.
                if this.inner.is_end_stream() {
                    record.empty = true;
                }
            }
            Poll::Ready(Some(Err(_))) => {
                record.finish(End::Error);
                *this.record = None;
                return polled;
            }
            Poll::Ready(None) => {
                let status = record.status.unwrap_or(200);
                record.finish(End::Done {
                    status,
                    grpc: record.grpc,
                });
                *this.record = None;
                return polled;
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
