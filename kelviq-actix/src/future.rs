//! [`ResponseFuture`]: the response of a [`KelviqMiddlewareService`](crate::KelviqMiddlewareService).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use futures::future::LocalBoxFuture;
use pin_project_lite::pin_project;

use crate::middleware::Shared;

/// Meters the response once it is made.
pub(crate) struct Metering {
    pub(crate) config: Rc<Shared>,
    pub(crate) customer_id: Arc<str>,
}

type Boxed<B> = LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>>;

pin_project! {
    /// The response future of [`KelviqMiddlewareService`](crate::KelviqMiddlewareService):
    /// a ready denial, the inner service's future (then metering), or — on a cache miss
    /// only — a boxed future that loads the entitlements first.
    ///
    /// `F` is the inner service's future, `B` its response body.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Ready {
            response: Option<ServiceResponse<EitherBody<B>>>,
        },
        Inner {
            #[pin]
            future: F,
            metering: Option<Metering>,
        },
        Gating {
            future: Boxed<B>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn ready(response: ServiceResponse<EitherBody<B>>) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn inner(future: F, metering: Option<Metering>) -> Self {
        ResponseFuture {
            state: State::Inner { future, metering },
        }
    }

    pub(crate) fn gating(future: Boxed<B>) -> Self {
        ResponseFuture {
            state: State::Gating { future },
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Ready { .. } => "Ready",
            State::Inner { .. } => "Inner",
            State::Gating { .. } => "Gating",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { response } => Poll::Ready(response.take().ok_or_else(|| {
                actix_web::error::ErrorInternalServerError("ResponseFuture polled after completion")
            })),
            StateProj::Inner { future, metering } => {
                let response = ready!(future.poll(cx))?;
                if let Some(Metering {
                    config,
                    customer_id,
                }) = metering.take()
                {
                    config.record(&customer_id, &response);
                }
                Poll::Ready(Ok(response.map_into_left_body()))
            }
            StateProj::Gating { future } => future.as_mut().poll(cx),
        }
    }
}
