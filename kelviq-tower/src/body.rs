//! [`ResponseBody`]: the inner service's body, or the JSON of a denial; for a gRPC call
//! whose outcome is in the trailers, the inner body watched for its `grpc-status`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::grpc::GrpcMetering;

pin_project! {
    /// The body of a response of [`KelviqService`](crate::KelviqService): the inner
    /// service's body, unchanged and unbuffered, or a complete body written by the layer.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { data: Option<Bytes> },
        // A gRPC response body: meters when its trailers say `grpc-status: 0`.
        Grpc { #[pin] body: B, metering: Option<GrpcMetering> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    /// A complete body; an empty one ends at once (a gRPC trailers-only response).
    pub(crate) fn full(data: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// The inner gRPC body, metered by `metering` when its trailers carry `grpc-status: 0`.
    pub(crate) fn grpc(body: B, metering: GrpcMetering) -> Self {
        ResponseBody {
            kind: Kind::Grpc {
                body,
                metering: Some(metering),
            },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { data } => Poll::Ready(data.take().map(|data| Ok(Frame::data(data)))),
            KindProj::Grpc { body, metering } => {
                let frame = ready!(body.poll_frame(cx));
                match &frame {
                    Some(Ok(frame)) => {
                        if let Some(trailers) = frame.trailers_ref()
                            && let Some(metering) = metering.take()
                        {
                            metering.finish(trailers);
                        }
                    }
                    // An error, or the end without trailers: the call did not end with
                    // `grpc-status: 0`; nothing is metered.
                    Some(Err(_)) | None => drop(metering.take()),
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } | Kind::Grpc { body, .. } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } | Kind::Grpc { body, .. } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |data| data.len() as u64))
            }
        }
    }
}
