//! [`ResponseFuture`]: a denial ready at once, the gate loading the customer's snapshot
//! then the inner call, or the inner call; metering once the inner response is known.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use kelviq_client::gate::{Admitting, Gate, RequestContext, UsageAmount};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::grpc::{self, deny};

/// What to meter once the inner response is known: kept only when the gate meters. The
/// request's context (which knows its gate): no reference to anything every request
/// shares.
#[derive(Debug)]
pub(crate) struct Metering {
    context: RequestContext,
}

impl Metering {
    /// The metering of a request let through with `context`, if its gate meters anything.
    pub(crate) fn new(context: &RequestContext) -> Option<Self> {
        context.gate().meters().then(|| Metering {
            context: context.clone(),
        })
    }

    /// Meters the request (the gate decides whether the status is a success), with the
    /// response's [`UsageAmount`] if the handler set one; then adds the quota headers the
    /// gate gives for it (none, without allocating, unless the gate sends them).
    fn finish<B>(self, response: &mut Response<B>) {
        let amount = response.extensions().get::<UsageAmount>().copied();
        let status = response.status().as_u16();
        let gate = self.context.gate();
        // The outcome is logged by the gate; the response is made either way.
        let _ = gate.finish(&self.context, status, amount);
        if let Some(fields) = gate.quota_headers(&self.context, status) {
            for (name, value) in fields {
                response.headers_mut().insert(name, value);
            }
        }
    }

    /// Meters the request as if its response had `status`, with `amount` if the handler
    /// set one.
    pub(crate) fn finish_with(self, status: u16, amount: Option<UsageAmount>) {
        // The outcome is logged by the gate; the response is made either way.
        let _ = self.context.gate().finish(&self.context, status, amount);
    }
}

/// A request waiting for the gate: the service polled ready, and the request.
struct Pending<S, ReqBody> {
    gate: Gate,
    service: S,
    request: Request<ReqBody>,
}

pin_project! {
    /// The response future of [`KelviqService`](crate::KelviqService).
    ///
    /// On a warm cache it is the inner service's future plus metering: no boxed future
    /// (the request's context is one `Arc`). Only a cache miss waits on the gate's (boxed) loading future.
    pub struct ResponseFuture<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, ResBody>,
        metering: Option<Metering>,
        // A gRPC call: denials are gRPC statuses, success is `grpc-status: 0`.
        grpc: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Denied { response: Option<Response<ResponseBody<ResBody>>> },
        Gating { admitting: Admitting, pending: Option<Pending<S, ReqBody>> },
        Inner { #[pin] future: S::Future },
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn denied(response: Response<ResponseBody<ResBody>>) -> Self {
        ResponseFuture {
            state: State::Denied {
                response: Some(response),
            },
            metering: None,
            grpc: false,
        }
    }

    pub(crate) fn inner(future: S::Future, metering: Option<Metering>, grpc: bool) -> Self {
        ResponseFuture {
            state: State::Inner { future },
            metering,
            grpc,
        }
    }

    pub(crate) fn gating(
        admitting: Admitting,
        gate: Gate,
        service: S,
        request: Request<ReqBody>,
        grpc: bool,
    ) -> Self {
        ResponseFuture {
            state: State::Gating {
                admitting,
                pending: Some(Pending {
                    gate,
                    service,
                    request,
                }),
            },
            metering: None,
            grpc,
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
                StateProj::Denied { response } => {
                    // INVARIANT: a future is not polled again once it returned Ready.
                    #[allow(clippy::expect_used)]
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response));
                }
                StateProj::Gating { admitting, pending } => {
                    let admitted = ready!(Pin::new(admitting).poll(cx));
                    // INVARIANT: `pending` is taken once, when the admission completes, and
                    // the state changes in the same step.
                    #[allow(clippy::expect_used)]
                    let Pending {
                        gate,
                        mut service,
                        mut request,
                    } = pending.take().expect("gate admission handled once");
                    match admitted {
                        Ok(context) => {
                            *this.metering = Metering::new(&context);
                            request.extensions_mut().insert(context);
                            let future = service.call(request);
                            this.state.set(State::Inner { future });
                        }
                        Err(denial) => {
                            let response = deny(&gate, &denial, *this.grpc);
                            this.state.set(State::Denied {
                                response: Some(response),
                            });
                        }
                    }
                }
                StateProj::Inner { future } => {
                    let mut response = ready!(future.poll(cx))?;
                    let metering = this.metering.take();
                    if *this.grpc {
                        return Poll::Ready(Ok(grpc::response(response, metering)));
                    }
                    if let Some(metering) = metering {
                        metering.finish(&mut response);
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
            }
        }
    }
}
