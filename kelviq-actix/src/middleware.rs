//! [`KelviqMiddleware`] (configuration, the actix-web `Transform`) and
//! [`KelviqMiddlewareService`] (the per-worker service: customer id, gate, inner service,
//! meter).

use std::any::Any;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::HeaderName;
use actix_web::{Error, HttpMessage, HttpResponse};
use kelviq_client::Kelviq;
use kelviq_client::gate::{Decision, Denial, FailurePolicy, Gate, GateBuilder, StatusFilter};
use kelviq_client::meter::UsageMeter;

use crate::context::{CustomerId, KelviqContext, UsageAmount};
use crate::error::{denial_response, log_denial, misconfigured_response};
use crate::future::{Metering, ResponseFuture};

/// Turns a denial into the response to send, instead of the default JSON
/// ([`denial_response`](crate::denial_response)).
pub type DenialHandler = Arc<dyn Fn(&Denial) -> HttpResponse + Send + Sync>;

/// Gates requests on the customer's entitlements and meters the successful ones.
///
/// For each request:
///
/// 1. the customer id, from the request's [source](KelviqMiddleware::customer_from_req_data)
///    (missing or empty → `401` `missing_customer`);
/// 2. the customer's entitlement snapshot, from the client's entitlement cache (a fresh
///    one answers without I/O; concurrent misses for one customer share one upstream call,
///    whatever the worker), judged against the requirements
///    ([`require`](KelviqMiddleware::require)...): not entitled → `403`, a reached usage
///    limit → `403` or [the configured status](KelviqMiddleware::limit_reached_status),
///    Kelviq unreachable and no usable snapshot → the
///    [failure policy](KelviqMiddleware::failure_policy) (`503` or let through);
/// 3. a [`KelviqContext`] into the request extensions, for guards, extractors and
///    handlers;
/// 4. the inner service;
/// 5. if [metering](KelviqMiddleware::meter) and the response is a success, the usage is
///    handed to the [`UsageMeter`] — never awaited.
///
/// The decisions, statuses and JSON bodies are [`kelviq_client::gate`]'s, so actix-web
/// answers exactly as the tower and axum integrations do. **Enable the client's entitlement
/// cache** ([`KelviqBuilder::entitlement_cache`](kelviq_client::KelviqBuilder::entitlement_cache)):
/// without it every request is a call to Kelviq.
///
/// Configure it once and clone it into the `HttpServer` factory: it is `Send`, and clones
/// share everything. An invalid configuration (an empty feature id, a negative amount, a
/// bad header name) is logged at `error` when the app starts and every request it covers
/// answers `500` `kelviq_misconfigured`.
///
/// # Order
///
/// actix-web runs the middleware registered **last** first. Register your authentication
/// middleware after this one so that it runs before:
/// `App::new().wrap(kelviq_middleware).wrap(auth)`. A middleware on a scope or resource
/// runs after those of the app; this is how one app gates each route differently (one
/// middleware per resource, each with its own requirements, sharing one cache).
///
/// ```
/// # actix_web::rt::System::new().block_on(async {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use actix_web::{App, HttpResponse, test, web};
/// use kelviq_actix::KelviqMiddleware;
/// use kelviq_client::meter::UsageMeter;
/// use kelviq_client::{CacheConfig, Kelviq};
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .entitlement_cache(CacheConfig::default())
///     .build()?;
/// let meter = UsageMeter::builder(kelviq.clone()).start()?;
///
/// let reports = KelviqMiddleware::new(kelviq, meter)
///     .customer_from_header("x-customer-id") // behind a trusted proxy only
///     .require("reports")
///     .meter("api-calls", 1);
/// let app = test::init_service(App::new().service(
///     web::resource("/reports")
///         .wrap(reports)
///         .route(web::get().to(|| async { HttpResponse::Ok().body("the report") })),
/// ))
/// .await;
///
/// let request = test::TestRequest::get().uri("/reports").insert_header(("x-customer-id", "cust_free"));
/// let response = test::call_service(&app, request.to_request()).await;
/// assert_eq!(response.status(), 403);
/// assert_eq!(
///     test::read_body(response).await,
///     r#"{"error":"feature_not_entitled","message":"your plan does not include reports","feature":"reports"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
#[must_use]
pub struct KelviqMiddleware {
    kelviq: Kelviq,
    meter: UsageMeter,
    customer: CustomerSource,
    gate: GateBuilder,
    on_denied: Option<DenialHandler>,
}

impl fmt::Debug for KelviqMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KelviqMiddleware")
            .field("kelviq", &self.kelviq)
            .field("customer", &self.customer)
            .field("gate", &self.gate)
            .field("on_denied", &self.on_denied.is_some())
            .finish_non_exhaustive()
    }
}

/// A caller's closure finding the customer id.
type SourceFn = Arc<dyn Fn(&ServiceRequest) -> Option<Arc<str>> + Send + Sync>;

/// Where the customer id of a request comes from.
#[derive(Clone)]
enum CustomerSource {
    /// A request extension, read by a function monomorphized for its type.
    ReqData(&'static str, fn(&ServiceRequest) -> Option<Arc<str>>),
    /// A header; the name as given, parsed when the worker starts.
    Header(String),
    /// A segment of the matched path.
    Path(Arc<str>),
    /// The caller's closure.
    With(SourceFn),
}

impl fmt::Debug for CustomerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomerSource::ReqData(name, _) => write!(f, "ReqData<{name}>"),
            CustomerSource::Header(name) => write!(f, "Header({name:?})"),
            CustomerSource::Path(name) => write!(f, "Path({name:?})"),
            CustomerSource::With(_) => f.write_str("With(..)"),
        }
    }
}

/// The id in the request extension `T`; a [`CustomerId`] is shared, not copied.
fn read_req_data<T: AsRef<str> + 'static>(request: &ServiceRequest) -> Option<Arc<str>> {
    let extensions = request.extensions();
    let value = extensions.get::<T>()?;
    if let Some(id) = (value as &dyn Any).downcast_ref::<CustomerId>() {
        return Some(Arc::clone(&id.0));
    }
    Some(Arc::from(value.as_ref()))
}

impl KelviqMiddleware {
    /// A middleware that reads the customer id from the [`CustomerId`] request extension,
    /// requires nothing and meters nothing until configured: it still loads each customer's
    /// entitlements for guards, extractors and handlers. `meter` records the usage of
    /// [`meter`](KelviqMiddleware::meter) and of [`CustomerClient::record_usage`](kelviq_client::CustomerClient::record_usage)
    /// in handlers.
    pub fn new(kelviq: Kelviq, meter: UsageMeter) -> Self {
        KelviqMiddleware {
            kelviq,
            meter,
            customer: CustomerSource::ReqData("CustomerId", read_req_data::<CustomerId>),
            gate: Gate::builder(),
            on_denied: None,
        }
    }

    /// Reads the customer id from the request extension of type `T` (what
    /// `web::ReqData<T>` reads), inserted by your authentication middleware, which must run
    /// before this one. **The recommended source**: the id comes from a credential your
    /// code verified. Default: `T` = [`CustomerId`].
    pub fn customer_from_req_data<T: AsRef<str> + 'static>(mut self) -> Self {
        self.customer = CustomerSource::ReqData(std::any::type_name::<T>(), read_req_data::<T>);
        self
    }

    /// Reads the customer id from the header `name`.
    ///
    /// **Only behind a trusted proxy that sets this header itself and strips it from
    /// client requests.** Otherwise any client can claim to be any customer and use their
    /// plan.
    pub fn customer_from_header(mut self, name: impl Into<String>) -> Self {
        self.customer = CustomerSource::Header(name.into());
        self
    }

    /// Reads the customer id from the segment `name` of the matched path
    /// (`/customers/{customer_id}/...`).
    ///
    /// Path segments are known only once the router has matched the scope or resource
    /// that declares them: wrap **that scope or resource** with this middleware, not the
    /// app. Anyone can put any id in a URL, so check elsewhere that the caller may act for
    /// that customer.
    pub fn customer_from_path(mut self, name: impl Into<Arc<str>>) -> Self {
        self.customer = CustomerSource::Path(name.into());
        self
    }

    /// Finds the customer id with a closure over the request (`None` or an empty id
    /// answers `401`).
    pub fn customer_with<F, I>(mut self, source: F) -> Self
    where
        F: Fn(&ServiceRequest) -> Option<I> + Send + Sync + 'static,
        I: Into<Arc<str>>,
    {
        self.customer = CustomerSource::With(Arc::new(move |request: &ServiceRequest| {
            source(request).map(Into::into)
        }));
        self
    }

    /// Requires the customer to be entitled to `feature`; several calls require all of
    /// them. Default: nothing is required.
    pub fn require(mut self, feature: impl Into<String>) -> Self {
        self.gate = self.gate.require(feature);
        self
    }

    /// Requires every one of `features`, judged in order (the first failing one is named
    /// in the denial).
    pub fn require_all<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.gate = self.gate.require_all(features);
        self
    }

    /// Requires at least one of `features` (the first is named in the denial when none
    /// passes). An empty list is a configuration error.
    pub fn require_any<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.gate = self.gate.require_any(features);
        self
    }

    /// Records `amount` units of `feature` after each successful response, without
    /// waiting; a handler may give another amount with a [`UsageAmount`]. A later call
    /// replaces an earlier one. Default: nothing is metered.
    pub fn meter(mut self, feature: impl Into<String>, amount: i64) -> Self {
        self.gate = self.gate.meter(feature, amount);
        self
    }

    /// Which response statuses count as a success for metering. Default: `2xx`.
    pub fn success_statuses(mut self, filter: impl Into<StatusFilter>) -> Self {
        self.gate = self.gate.success_statuses(filter);
        self
    }

    /// What to do when Kelviq cannot be reached and there is no usable snapshot. Default:
    /// [`FailurePolicy::Deny`], `503` `kelviq_unavailable`.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.gate = self.gate.failure_policy(policy);
        self
    }

    /// The status of a "usage limit reached" denial, within `400..=599`. Default: `403`
    /// (`402` and `429` are common).
    pub fn limit_reached_status(mut self, status: u16) -> Self {
        self.gate = self.gate.limit_reached_status(status);
        self
    }

    /// Answers every denial — missing customer (`401`), not entitled, limit reached,
    /// unavailable — with this function's response instead of the default JSON
    /// ([`denial_response`](crate::denial_response)).
    pub fn on_denied<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Denial) -> HttpResponse + Send + Sync + 'static,
    {
        self.on_denied = Some(Arc::new(handler));
        self
    }

    /// The validated configuration a worker uses.
    fn build(&self) -> Result<Shared, kelviq_client::Error> {
        let gate = self.gate.clone().build()?;
        let customer = match &self.customer {
            CustomerSource::ReqData(_, read) => Source::Read(*read),
            CustomerSource::Header(name) => {
                Source::Header(HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    kelviq_client::Error::Config(format!(
                        "kelviq middleware: invalid customer header name {name:?}"
                    ))
                })?)
            }
            CustomerSource::Path(name) => {
                if name.is_empty() {
                    return Err(kelviq_client::Error::Config(
                        "kelviq middleware: the customer path segment name is empty".to_owned(),
                    ));
                }
                Source::Path(Arc::clone(name))
            }
            CustomerSource::With(source) => Source::With(Arc::clone(source)),
        };
        Ok(Shared {
            kelviq: self.kelviq.clone(),
            meter: self.meter.clone(),
            gate,
            customer,
            on_denied: self.on_denied.clone(),
        })
    }
}

impl<S, B> Transform<S, ServiceRequest> for KelviqMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = KelviqMiddlewareService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let config = self.build().map(Rc::new).map_err(|error| {
            tracing::error!(%error, "kelviq middleware misconfigured: every request it covers will answer 500");
            Rc::new(error)
        });
        std::future::ready(Ok(KelviqMiddlewareService {
            service: Rc::new(service),
            config,
        }))
    }
}

/// The customer source, validated.
enum Source {
    Read(fn(&ServiceRequest) -> Option<Arc<str>>),
    Header(HeaderName),
    Path(Arc<str>),
    With(SourceFn),
}

impl Source {
    /// The request's customer id, if it has a non-empty one.
    fn customer_id(&self, request: &ServiceRequest) -> Option<Arc<str>> {
        let id = match self {
            Source::Read(read) => read(request)?,
            Source::Header(name) => Arc::from(request.headers().get(name)?.to_str().ok()?),
            Source::Path(name) => Arc::from(request.match_info().get(name)?),
            Source::With(source) => source(request)?,
        };
        (!id.is_empty()).then_some(id)
    }
}

/// What a worker's service uses for every request.
pub(crate) struct Shared {
    kelviq: Kelviq,
    meter: UsageMeter,
    gate: Gate,
    customer: Source,
    on_denied: Option<DenialHandler>,
}

impl Shared {
    /// Lets the customer through: the context goes into the request extensions.
    fn admit(
        &self,
        request: &ServiceRequest,
        customer_id: Arc<str>,
        snapshot: Option<Arc<kelviq_client::cache::Snapshot>>,
        stale: bool,
    ) {
        request.extensions_mut().insert(KelviqContext(
            kelviq_client::gate::RequestContext::new(
                customer_id,
                snapshot,
                stale,
                self.kelviq.clone(),
                Some(self.meter.clone()),
            )
            .with_limit_reached_status(self.gate.limit_reached_status()),
        ));
    }

    /// Answers a denial: the caller's handler's response, or the denial's JSON.
    fn deny<B>(&self, request: ServiceRequest, denial: &Denial) -> ServiceResponse<EitherBody<B>> {
        log_denial(denial);
        let response = match &self.on_denied {
            Some(handler) => handler(denial),
            None => denial_response(denial),
        };
        request.into_response(response).map_into_right_body()
    }

    /// Meters a response if the gate meters and it is a success; never waits.
    pub(crate) fn record<B>(&self, customer_id: &str, response: &ServiceResponse<B>) {
        let status = response.status().as_u16();
        if !self.gate.should_meter(status) {
            return;
        }
        let from_response = response
            .response()
            .extensions()
            .get::<UsageAmount>()
            .copied();
        let amount = from_response
            .or_else(|| {
                response
                    .request()
                    .extensions()
                    .get::<UsageAmount>()
                    .copied()
            })
            .map(|amount| amount.0);
        // The snapshot the request was gated with takes the usage directly.
        let context = response
            .request()
            .extensions()
            .get::<KelviqContext>()
            .cloned();
        let snapshot = context.as_ref().and_then(|context| context.snapshot());
        // A failure is logged by the gate; the response is already made.
        let _ = self.gate.after_response_on(
            snapshot.map(|snapshot| &**snapshot),
            &self.meter,
            customer_id,
            status,
            amount,
        );
    }
}

/// The service [`KelviqMiddleware`] wraps around `S`, one per worker.
pub struct KelviqMiddlewareService<S> {
    service: Rc<S>,
    config: Result<Rc<Shared>, Rc<kelviq_client::Error>>,
}

impl<S> fmt::Debug for KelviqMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KelviqMiddlewareService")
            .field("misconfigured", &self.config.as_ref().err())
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for KelviqMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let config = match &self.config {
            Ok(config) => config,
            Err(error) => {
                return ResponseFuture::ready(
                    request
                        .into_response(misconfigured_response(error))
                        .map_into_right_body(),
                );
            }
        };
        let Some(customer_id) = config.customer.customer_id(&request) else {
            return ResponseFuture::ready(config.deny(request, &Denial::missing_customer()));
        };
        // Warm path: a fresh cached snapshot decides without I/O, boxing or awaiting.
        if let Some(decision) = config.gate.check_cached(&config.kelviq, &customer_id) {
            return match decision {
                Decision::Allow { snapshot, stale } => {
                    let metering = config.gate.meters().then(|| Metering {
                        config: Rc::clone(config),
                        customer_id: Arc::clone(&customer_id),
                    });
                    config.admit(&request, customer_id, snapshot, stale);
                    ResponseFuture::inner(self.service.call(request), metering)
                }
                Decision::Deny(denial) | Decision::Unavailable(denial) => {
                    ResponseFuture::ready(config.deny(request, &denial))
                }
            };
        }
        // Cold path: load the snapshot (one upstream call shared by every concurrent request
        // of this customer), then the inner service. actix-web futures are `!Send`: a local
        // boxed future.
        let service = Rc::clone(&self.service);
        let config = Rc::clone(config);
        ResponseFuture::gating(Box::pin(async move {
            match config.gate.check(&config.kelviq, &customer_id).await {
                Decision::Allow { snapshot, stale } => {
                    config.admit(&request, Arc::clone(&customer_id), snapshot, stale);
                    let response = service.call(request).await?;
                    config.record(&customer_id, &response);
                    Ok(response.map_into_left_body())
                }
                Decision::Deny(denial) | Decision::Unavailable(denial) => {
                    Ok(config.deny(request, &denial))
                }
            }
        }))
    }
}
