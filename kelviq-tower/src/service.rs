//! [`KelviqService`]: the customer id, the gate's admission, the inner service.

use std::task::{Context, Poll};

use http::{Request, Response};
use kelviq_client::gate::{Admission, Gate};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::customer::{CustomerIdSource, RequestHead};
use crate::future::{Metering, ResponseFuture};
use crate::grpc;

/// The service [`KelviqLayer`](crate::KelviqLayer) wraps around `S`.
///
/// Forwards `poll_ready`; the service polled ready is the one called, also when the gate
/// must first load the customer's snapshot (a clone is left in its place). Errors of the
/// inner service pass through unchanged.
#[derive(Clone)]
pub struct KelviqService<S, C> {
    inner: S,
    gate: Gate,
    customer: C,
}

impl<S, C> KelviqService<S, C> {
    pub(crate) fn new(inner: S, gate: Gate, customer: C) -> Self {
        KelviqService {
            inner,
            gate,
            customer,
        }
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for KelviqService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KelviqService")
            .field("inner", &self.inner)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for KelviqService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: CustomerIdSource,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let customer_id = self.customer.customer_id(RequestHead::of(&request));
        let grpc = grpc::is_grpc(&request);
        match self.gate.admit(customer_id) {
            // Warm path: decided from the cache, no I/O, no boxed future (the request's context
            // is one `Arc`, and the extensions map boxes it).
            Admission::Ready(Ok(context)) => {
                let metering = Metering::new(&context);
                request.extensions_mut().insert(context);
                ResponseFuture::inner(self.inner.call(request), metering, grpc)
            }
            Admission::Ready(Err(denial)) => {
                ResponseFuture::denied(grpc::deny(&self.gate, &denial, grpc))
            }
            // Cold path: wait for the snapshot, then call the service that was polled
            // ready, leaving a clone in its place.
            Admission::Loading(admitting) => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::gating(admitting, self.gate.clone(), ready, request, grpc)
            }
        }
    }
}
