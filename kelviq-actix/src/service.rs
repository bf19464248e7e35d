//! [`KelviqMiddlewareService`]: the per-worker service the
//! [`KelviqMiddleware`](crate::KelviqMiddleware) wraps around the app, translating between
//! actix-web and the gate's three calls ([`Gate::admit`], [`Gate::finish`],
//! [`Gate::deny`]).

use std::fmt;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::{Error, HttpMessage};
use kelviq_client::gate::{Admission, Denial, Gate};

use crate::customer::CustomerIdSource;
use crate::future::{Metering, ResponseFuture};
use crate::response::to_actix;

/// The service [`KelviqMiddleware`](crate::KelviqMiddleware) wraps around `S`, one per
/// worker; `C` is the customer source.
///
/// For each request: the customer id from `C`, then [`Gate::admit`]. Let through, the
/// request gets the gate's [`RequestContext`](kelviq_client::gate::RequestContext) in its
/// extensions, the inner service runs, and — if the gate meters — [`Gate::finish`] gets
/// the response's status and its [`UsageAmount`](kelviq_client::gate::UsageAmount)
/// extension. Refused, the request is answered with [`Gate::deny`]'s response.
pub struct KelviqMiddlewareService<S, C> {
    service: Rc<S>,
    gate: Gate,
    customer: C,
}

impl<S, C> KelviqMiddlewareService<S, C> {
    /// The service gating `service`.
    pub(crate) fn new(service: S, gate: Gate, customer: C) -> Self {
        KelviqMiddlewareService {
            service: Rc::new(service),
            gate,
            customer,
        }
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }
}

impl<S, C> fmt::Debug for KelviqMiddlewareService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KelviqMiddlewareService")
            .field("gate", &self.gate)
            .field("customer", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

/// Answers a refused request with the gate's response for `denial`.
fn deny<B>(
    gate: &Gate,
    request: ServiceRequest,
    denial: &Denial,
) -> ServiceResponse<EitherBody<B>> {
    request
        .into_response(to_actix(gate.deny(denial)))
        .map_into_right_body()
}

impl<S, B, C> Service<ServiceRequest> for KelviqMiddlewareService<S, C>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    C: CustomerIdSource,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let customer_id = self.customer.customer_id(&request);
        match self.gate.admit(customer_id) {
            // Warm path: decided without I/O; nothing boxed.
            Admission::Ready(Ok(context)) => {
                let metering = Metering::new(&context);
                request.extensions_mut().insert(context);
                ResponseFuture::inner(self.service.call(request), metering)
            }
            Admission::Ready(Err(denial)) => {
                ResponseFuture::ready(deny(&self.gate, request, &denial))
            }
            // Cold path: the snapshot is loaded (one upstream call shared by every
            // concurrent request of the customer), then the inner service runs. actix-web
            // futures are `!Send`: a local boxed future.
            Admission::Loading(admitting) => {
                let service = Rc::clone(&self.service);
                let gate = self.gate.clone();
                ResponseFuture::loading(Box::pin(async move {
                    match admitting.await {
                        Ok(context) => {
                            request.extensions_mut().insert(context.clone());
                            let mut response = service.call(request).await?;
                            if let Some(metering) = Metering::new(&context) {
                                metering.finish(&mut response);
                            }
                            Ok(response.map_into_left_body())
                        }
                        Err(denial) => Ok(deny(&gate, request, &denial)),
                    }
                }))
            }
        }
    }
}
