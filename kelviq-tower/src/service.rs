//! [`KelviqService`]: the customer id, the gate, the inner service, the meter.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use kelviq_client::gate::{Decision, Gate};
use kelviq_client::meter::UsageMeter;
use kelviq_client::{Error, Kelviq};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::context::KelviqContext;
use crate::customer::{CustomerIdSource, RequestHead};
use crate::future::{Metering, Pending, ResponseFuture};
use crate::layer::DenialHandler;
use crate::response::{denied, misconfigured};

/// What every clone of a service shares.
pub(crate) struct Config<C> {
    pub(crate) kelviq: Kelviq,
    pub(crate) meter: Option<UsageMeter>,
    pub(crate) gate: Result<Gate, Arc<Error>>,
    pub(crate) customer: C,
    pub(crate) on_denied: Option<DenialHandler>,
}

/// The service [`KelviqLayer`](crate::KelviqLayer) wraps around `S`.
pub struct KelviqService<S, C> {
    inner: S,
    config: Arc<Config<C>>,
}

impl<S, C> KelviqService<S, C> {
    pub(crate) fn new(inner: S, config: Arc<Config<C>>) -> Self {
        KelviqService { inner, config }
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

impl<S: Clone, C> Clone for KelviqService<S, C> {
    fn clone(&self) -> Self {
        KelviqService {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for KelviqService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KelviqService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for KelviqService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    C: CustomerIdSource,
    ReqBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let gate = match &config.gate {
            Ok(gate) => gate,
            Err(error) => return ResponseFuture::ready(misconfigured(error)),
        };
        let customer_id: Arc<str> = match config.customer.customer_id(RequestHead::of(&request)) {
            Some(id) if !id.is_empty() => Arc::from(id.as_ref()),
            _ => {
                let denial = kelviq_client::gate::Denial::missing_customer();
                return ResponseFuture::ready(denied(&denial, config.on_denied.as_ref()));
            }
        };
        let mut metering = match &config.meter {
            Some(meter) if gate.meters() => Some(Metering {
                gate: gate.clone(),
                meter: meter.clone(),
                customer_id: Arc::clone(&customer_id),
                snapshot: None,
            }),
            _ => None,
        };
        // Warm path: a fresh cached snapshot decides without I/O or boxing.
        if let Some(decision) = gate.check_cached(&config.kelviq, &customer_id) {
            return match decision {
                Decision::Allow { snapshot, stale } => {
                    if let Some(metering) = metering.as_mut() {
                        metering.snapshot.clone_from(&snapshot);
                    }
                    request.extensions_mut().insert(
                        KelviqContext::new(
                            customer_id,
                            snapshot,
                            stale,
                            config.kelviq.clone(),
                            config.meter.clone(),
                        )
                        .with_limit_reached_status(gate.limit_reached_status()),
                    );
                    ResponseFuture::inner(self.inner.call(request), metering)
                }
                Decision::Deny(denial) | Decision::Unavailable(denial) => {
                    ResponseFuture::ready(denied(&denial, config.on_denied.as_ref()))
                }
            };
        }
        // Cold path: fetch (shared with concurrent requests of this customer), then call the
        // service that was polled ready, leaving a clone in its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let kelviq = config.kelviq.clone();
        let check_gate = gate.clone();
        let check_customer = Arc::clone(&customer_id);
        let check = Box::pin(async move { check_gate.check(&kelviq, &check_customer).await });
        ResponseFuture::gating(
            check,
            Pending {
                service: ready,
                request,
                customer_id,
                kelviq: config.kelviq.clone(),
                meter: config.meter.clone(),
                on_denied: config.on_denied.clone(),
                limit_reached_status: gate.limit_reached_status(),
            },
            metering,
        )
    }
}
