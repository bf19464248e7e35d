//! [`KelviqMiddleware`]: a built [`Gate`] and a customer source, as an actix-web
//! `Transform`; and [`GateBuilderExt::into_middleware`], which builds the gate while the
//! app is assembled.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use kelviq_client::gate::{CustomerId, FromExtension, Gate, GateBuilder};

use crate::customer::CustomerIdSource;
use crate::service::KelviqMiddlewareService;

/// Gates requests on the customer's entitlements and meters the successful ones, with a
/// [`Gate`] built once from the client ([`Kelviq::gate`](kelviq_client::Kelviq::gate)):
/// what it requires, what it meters, its failure policy, limit status and denial handler
/// are the gate's settings ([`GateBuilder`]); this middleware only adds where the customer
/// id comes from ([`customer`](KelviqMiddleware::customer)).
///
/// For each request:
///
/// 1. the customer id, from the [source](KelviqMiddleware::customer) (by default the
///    [`CustomerId`] request extension; missing or empty → `401` `missing_customer`);
/// 2. the customer's entitlement snapshot, from the client's entitlement cache (a fresh
///    one answers without I/O or allocation; concurrent misses for one customer share one
///    upstream call, whatever the worker), judged against the gate's requirements: not
///    entitled → `403`, a reached usage limit → `403` or the gate's limit status, Kelviq
///    unreachable and no usable snapshot → the gate's failure policy (`503` or let
///    through) — each denial answered with [`Gate::deny`]'s response;
/// 3. the gate's [`RequestContext`](kelviq_client::gate::RequestContext) into the request
///    extensions, for guards, extractors and handlers;
/// 4. the inner service;
/// 5. if the gate meters and the response is a success, the usage — the response's
///    [`UsageAmount`](kelviq_client::gate::UsageAmount) extension, else the handler's
///    [`UsageRecorder::set_amount`](kelviq_client::gate::UsageRecorder::set_amount), else the gate's
///    amount — is handed to the client's usage meter, never awaited.
///
/// Decisions, statuses and JSON bodies are [`kelviq_client::gate`]'s, so actix-web answers
/// exactly as the tower and axum integrations do. A configuration mistake is found while
/// the app is assembled ([`GateBuilderExt::into_middleware`] panics naming it, or
/// [`GateBuilder::build`] returns it), never at request time.
///
/// Build it once and clone it into the `HttpServer` factory: it is `Send + Sync`, and
/// clones share the gate.
///
/// # Order
///
/// actix-web runs the middleware registered **last** first. Register your authentication
/// middleware after this one so that it runs before:
/// `App::new().wrap(kelviq_middleware).wrap(auth)`. A middleware on a scope or resource
/// runs after those of the app; this is how one app gates each route differently (one
/// middleware per resource, each with its own gate, all sharing the client's cache).
///
/// ```
/// # actix_web::rt::System::new().block_on(async {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use actix_web::{App, HttpResponse, test, web};
/// use kelviq_actix::prelude::*;
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .build()?;
///
/// let reports = kelviq
///     .gate()
///     .require("reports")
///     .meter("api-calls", 1)
///     .into_middleware()
///     // Behind a trusted proxy only.
///     .customer(FromHeader::from_static("x-customer-id"));
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
///     r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled","title":"Feature not in plan","status":403,"detail":"your plan does not include reports","code":"feature_not_entitled","feature":"reports"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
#[must_use]
pub struct KelviqMiddleware<C = FromExtension<CustomerId>> {
    gate: Gate,
    customer: C,
}

impl<C> std::fmt::Debug for KelviqMiddleware<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KelviqMiddleware")
            .field("gate", &self.gate)
            .field("customer", &std::any::type_name::<C>())
            .finish()
    }
}

impl KelviqMiddleware {
    /// A middleware deciding with `gate`, reading the customer id from the [`CustomerId`]
    /// request extension (set it with [`customer`](KelviqMiddleware::customer)).
    pub fn new(gate: Gate) -> Self {
        KelviqMiddleware {
            gate,
            customer: FromExtension::new(),
        }
    }
}

impl<C> KelviqMiddleware<C> {
    /// Reads the customer id with `source` instead: [`FromExtension::<T>::new()`](FromExtension)
    /// (a request extension of your type, **recommended**),
    /// [`FromHeader`](kelviq_client::gate::FromHeader) (**only behind a trusted proxy**),
    /// [`FromPath`](crate::FromPath), [`FromFn`](kelviq_client::gate::FromFn) or your own
    /// [`CustomerIdSource`]. Default: [`FromExtension<CustomerId>`](FromExtension).
    pub fn customer<D: CustomerIdSource>(self, source: D) -> KelviqMiddleware<D> {
        KelviqMiddleware {
            gate: self.gate,
            customer: source,
        }
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The customer source.
    pub fn customer_source(&self) -> &C {
        &self.customer
    }
}

impl From<Gate> for KelviqMiddleware {
    fn from(gate: Gate) -> Self {
        KelviqMiddleware::new(gate)
    }
}

impl<S, B, C> Transform<S, ServiceRequest> for KelviqMiddleware<C>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    C: CustomerIdSource,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = KelviqMiddlewareService<S, C>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(KelviqMiddlewareService::new(
            service,
            self.gate.clone(),
            self.customer.clone(),
        )))
    }
}

/// Keeps [`GateBuilderExt`] implemented for [`GateBuilder`] only.
mod sealed {
    pub trait Sealed {}

    impl Sealed for kelviq_client::gate::GateBuilder {}
}

/// Builds a [`GateBuilder`] into a [`KelviqMiddleware`] while the app is assembled:
/// `kelviq.gate().require("reports").into_middleware()`.
///
/// Sealed: implemented for [`GateBuilder`] only.
pub trait GateBuilderExt: sealed::Sealed {
    /// Builds the gate ([`GateBuilder::build`]) and wraps it in a middleware reading the
    /// [`CustomerId`] request extension (change it with
    /// [`customer`](KelviqMiddleware::customer)). To handle the error yourself, call
    /// `build()` and [`KelviqMiddleware::new`].
    ///
    /// # Panics
    ///
    /// When the gate is invalid, with a message naming the mistake
    /// (`invalid Kelviq gate: invalid require: a feature id must not be empty`): an empty
    /// feature id, a negative meter amount, a limit status that is not a `4xx` or `5xx`, a
    /// client without an entitlement cache, or — starting the client's usage meter — no
    /// tokio runtime (actix-web's runtime is one). Like a bad route in actix-web, this
    /// happens while the app is assembled, never at request time. The panic's location is
    /// the caller's line.
    ///
    /// ```should_panic
    /// # actix_web::rt::System::new().block_on(async {
    /// use kelviq_actix::prelude::*;
    ///
    /// let kelviq = Kelviq::new("token")?;
    /// let _ = kelviq.gate().require("").into_middleware(); // panics: names `require`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    fn into_middleware(self) -> KelviqMiddleware;
}

impl GateBuilderExt for GateBuilder {
    #[track_caller]
    fn into_middleware(self) -> KelviqMiddleware {
        KelviqMiddleware::new(kelviq_client::__private::build_gate(self))
    }
}
