//! [`ResponseFuture`]: a ready answer, a gate check then the inner call, or the inner call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use kelviq_client::Kelviq;
use kelviq_client::cache::Snapshot;
use kelviq_client::gate::{Decision, Gate};
use kelviq_client::meter::UsageMeter;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::context::{KelviqContext, UsageAmount};
use crate::layer::DenialHandler;
use crate::response::denied;

/// What to meter once the inner response is known.
pub(crate) struct Metering {
    pub(crate) gate: Gate,
    pub(crate) meter: UsageMeter,
    pub(crate) customer_id: Arc<str>,
    /// The snapshot the request was gated with: usage is applied to it directly.
    pub(crate) snapshot: Option<Arc<Snapshot>>,
}

impl Metering {
    fn finish<B>(self, response: &Response<B>) {
        let amount = response
            .extensions()
            .get::<UsageAmount>()
            .map(|amount| amount.0);
        self.gate.after_response_on(
            self.snapshot.as_deref(),
            &self.meter,
            &self.customer_id,
            response.status().as_u16(),
            amount,
        );
    }
}

/// A request waiting for the gate.
pub(crate) struct Pending<S, ReqBody> {
    pub(crate) service: S,
    pub(crate) request: Request<ReqBody>,
    pub(crate) customer_id: Arc<str>,
    pub(crate) kelviq: Kelviq,
    pub(crate) meter: Option<UsageMeter>,
    pub(crate) on_denied: Option<DenialHandler>,
    pub(crate) limit_reached_status: u16,
}

type Check = Pin<Box<dyn Future<Output = Decision> + Send>>;

pin_project! {
    /// The response future of [`KelviqService`](crate::KelviqService).
    ///
    /// On a warm cache it is the inner service's future plus metering: no allocation of
    /// its own. Only a cache miss boxes the entitlement check.
    pub struct ResponseFuture<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, ResBody>,
        metering: Option<Metering>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Ready { response: Option<Response<ResponseBody<ResBody>>> },
        Gating { check: Check, pending: Option<Pending<S, ReqBody>> },
        Inner { #[pin] future: S::Future },
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn ready(response: Response<ResponseBody<ResBody>>) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
            metering: None,
        }
    }

    pub(crate) fn inner(future: S::Future, metering: Option<Metering>) -> Self {
        ResponseFuture {
            state: State::Inner { future },
            metering,
        }
    }

    pub(crate) fn gating(
        check: Check,
        pending: Pending<S, ReqBody>,
        metering: Option<Metering>,
    ) -> Self {
        ResponseFuture {
            state: State::Gating {
                check,
                pending: Some(pending),
            },
            metering,
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Ready { response } => {
                    // INVARIANT: a future is not polled again once it returned Ready.
                    #[allow(clippy::expect_used)]
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response));
                }
                StateProj::Gating { check, pending } => {
                    let decision = ready!(check.as_mut().poll(cx));
                    // INVARIANT: `pending` is taken once, when the check completes, and the
                    // state changes in the same step.
                    #[allow(clippy::expect_used)]
                    let mut pending = pending.take().expect("gate decision handled once");
                    match decision {
                        Decision::Allow { snapshot, stale } => {
                            if let Some(metering) = this.metering.as_mut() {
                                metering.snapshot.clone_from(&snapshot);
                            }
                            pending.request.extensions_mut().insert(
                                KelviqContext::new(
                                    pending.customer_id,
                                    snapshot,
                                    stale,
                                    pending.kelviq,
                                    pending.meter,
                                )
                                .with_limit_reached_status(pending.limit_reached_status),
                            );
                            let future = pending.service.call(pending.request);
                            this.state.set(State::Inner { future });
                        }
                        Decision::Deny(denial) | Decision::Unavailable(denial) => {
                            *this.metering = None;
                            let response = denied(&denial, pending.on_denied.as_ref());
                            this.state.set(State::Ready {
                                response: Some(response),
                            });
                        }
                    }
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    if let Some(metering) = this.metering.take() {
                        metering.finish(&response);
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
            }
        }
    }
}
