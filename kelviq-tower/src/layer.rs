//! [`KelviqLayer`]: a built [`Gate`] and a customer-id source; cheap to clone. And
//! [`GateBuilderExt::into_layer`], which builds the gate while the router is assembled.

use kelviq_client::gate::{CustomerId, FromExtension, Gate, GateBuilder};
use tower_layer::Layer;

use crate::customer::CustomerIdSource;
use crate::service::KelviqService;

/// Gates requests on the customer's entitlements and meters successful ones, with a built
/// [`Gate`].
///
/// For each request: the customer id ([`KelviqLayer::customer`]; none → `401`), the gate's
/// decision ([`Gate::admit`]: not entitled → `403`, limit reached → the gate's limit status,
/// Kelviq unreachable → `503` or let through), a
/// [`RequestContext`](kelviq_client::gate::RequestContext) in the request extensions, the
/// inner service, and — when the gate meters and the response is a success — usage
/// recorded with the client's meter ([`Gate::finish`]), never awaited. Denials are the
/// gate's answer ([`Gate::deny`]); for a gRPC call, the same denial as a gRPC status
/// ([`Gate::deny_grpc`]), and success is `grpc-status: 0` (see [`crate::grpc`]).
///
/// Everything the gate requires and meters is set on its [`GateBuilder`], usually a clone
/// of an app-wide template; [`GateBuilderExt::into_layer`] builds it into a layer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use kelviq_client::Kelviq;
/// use kelviq_tower::{CustomerId, GateBuilderExt};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .build()?;
/// let service = ServiceBuilder::new()
///     .layer(kelviq.gate().require("reports").meter("api-calls", 1).into_layer())
///     .service_fn(|_request: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("report")))
///     });
///
/// let mut request = http::Request::new(String::new());
/// request.extensions_mut().insert(CustomerId::new("cust_free"));
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), 403);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct KelviqLayer<C = FromExtension<CustomerId>> {
    gate: Gate,
    customer: C,
}

impl<C> std::fmt::Debug for KelviqLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KelviqLayer")
            .field("gate", &self.gate)
            .field("customer", &std::any::type_name::<C>())
            .finish()
    }
}

impl KelviqLayer {
    /// A layer deciding with `gate`, reading the customer id from the [`CustomerId`]
    /// request extension (change it with [`KelviqLayer::customer`]).
    pub fn new(gate: Gate) -> Self {
        KelviqLayer {
            gate,
            customer: FromExtension::new(),
        }
    }
}

impl<C> KelviqLayer<C> {
    /// Where the customer id comes from. Default: the [`CustomerId`] request extension
    /// ([`FromExtension`]).
    pub fn customer<C2: CustomerIdSource>(self, source: C2) -> KelviqLayer<C2> {
        KelviqLayer {
            gate: self.gate,
            customer: source,
        }
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The customer-id source.
    pub fn customer_source(&self) -> &C {
        &self.customer
    }
}

impl From<Gate> for KelviqLayer {
    fn from(gate: Gate) -> Self {
        KelviqLayer::new(gate)
    }
}

impl<S, C: Clone> Layer<S> for KelviqLayer<C> {
    type Service = KelviqService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KelviqService::new(inner, self.gate.clone(), self.customer.clone())
    }
}

/// Builds a [`GateBuilder`] straight into a [`KelviqLayer`], where routes are assembled:
/// `.route_layer(gates.clone().require(Reports).into_layer())`.
pub trait GateBuilderExt: sealed::Sealed {
    /// Builds the gate ([`GateBuilder::build`]) into a layer reading the [`CustomerId`]
    /// request extension.
    ///
    /// # Panics
    ///
    /// When the gate cannot be built, with the message `invalid Kelviq gate: {error}`
    /// naming the mistake (an empty feature id given to `require`, a limit status that is
    /// not a `4xx`/`5xx`, a client built with `no_entitlement_cache()`, no tokio runtime
    /// to start the usage meter on...): a mistake in the code that assembles the router,
    /// found when it runs — as axum's `Router::route` panics on a bad path — never a `500`
    /// at request time. The panic's location is the caller's line. Call
    /// [`GateBuilder::build`] to handle the error instead.
    #[track_caller]
    fn into_layer(self) -> KelviqLayer;
}

impl GateBuilderExt for GateBuilder {
    #[track_caller]
    fn into_layer(self) -> KelviqLayer {
        KelviqLayer::new(kelviq_client::__private::build_gate(self))
    }
}

/// Keeps [`GateBuilderExt`] implemented for [`GateBuilder`] only.
mod sealed {
    pub trait Sealed {}

    impl Sealed for kelviq_client::gate::GateBuilder {}
}
