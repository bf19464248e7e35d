//! [`ResponseFuture`]: the response of a
//! [`KelviqMiddlewareService`](crate::KelviqMiddlewareService), and [`Metering`], the
//! gate's last call once the inner service has answered.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use futures::future::LocalBoxFuture;
use kelviq_client::gate::{RequestContext, UsageAmount};
use pin_project_lite::pin_project;

use crate::response::insert_headers;

/// A request the gate admitted, to be finished — metered if the response is a success —
/// once the inner service answers. Only made when the gate meters.
/// The request's context knows its gate: nothing every request shares is referenced.
pub(crate) struct Metering {
    pub(crate) context: RequestContext,
}

impl Metering {
    /// What to meter once the response is made, if the context's gate meters at all.
    pub(crate) fn new(context: &RequestContext) -> Option<Metering> {
        context.gate().meters().then(|| Metering {
            context: context.clone(),
        })
    }

    /// Hands the response's status and its [`UsageAmount`] extension (a response extension
    /// only: a handler's own amount is in the context) to [`Gate::finish`], then adds the
    /// quota headers the gate gives for it (none, without allocating, unless the gate
    /// sends them). Never waits; a failure to record is logged by the gate.
    pub(crate) fn finish<B>(&self, response: &mut ServiceResponse<B>) {
        let amount = response
            .response()
            .extensions()
            .get::<UsageAmount>()
            .copied();
        let status = response.status().as_u16();
        let gate = self.context.gate();
        let _ = gate.finish(&self.context, status, amount);
        if let Some(fields) = gate.quota_headers(&self.context, status) {
            insert_headers(response.headers_mut(), fields);
        }
    }
}

/// The cold path: the snapshot is loaded, then the inner service runs.
type Boxed<B> = LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>>;

pin_project! {
    /// The response future of [`KelviqMiddlewareService`](crate::KelviqMiddlewareService):
    /// a ready denial, the inner service's future (then metering), or — on a cache miss
    /// only — a boxed future that loads the entitlements first. The warm path boxes no
    /// future (the request's context is one `Arc`).
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
        Loading {
            future: Boxed<B>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// A response already made: a denial.
    pub(crate) fn ready(response: ServiceResponse<EitherBody<B>>) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    /// The inner service's response, then `metering` if the gate meters.
    pub(crate) fn inner(future: F, metering: Option<Metering>) -> Self {
        ResponseFuture {
            state: State::Inner { future, metering },
        }
    }

    /// The cold path.
    pub(crate) fn loading(future: Boxed<B>) -> Self {
        ResponseFuture {
            state: State::Loading { future },
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Ready { .. } => "Ready",
            State::Inner { .. } => "Inner",
            State::Loading { .. } => "Loading",
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
                let mut response = ready!(future.poll(cx))?;
                if let Some(metering) = metering.take() {
                    metering.finish(&mut response);
                }
                Poll::Ready(Ok(response.map_into_left_body()))
            }
            StateProj::Loading { future } => future.as_mut().poll(cx),
        }
    }
}
