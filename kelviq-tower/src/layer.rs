//! [`KelviqLayer`]: configuration only; cheap to clone.

use std::sync::Arc;

use bytes::Bytes;
use kelviq_client::Kelviq;
use kelviq_client::gate::{Denial, FailurePolicy, Gate, GateBuilder, StatusFilter};
use kelviq_client::meter::UsageMeter;
use tower_layer::Layer;

use crate::customer::{CustomerId, CustomerIdSource, FromExtension};
use crate::service::{Config, KelviqService};

/// Turns a denial into the response to send, instead of the default JSON.
pub type DenialHandler = Arc<dyn Fn(&Denial) -> http::Response<Bytes> + Send + Sync>;

/// Gates requests on the customer's entitlements and meters successful ones.
///
/// For each request: the customer id from the request ([`KelviqLayer::customer`]; missing
/// → `401`), the gate ([`KelviqLayer::require`]...; denied → `403`, Kelviq unreachable →
/// `503` or let through), a [`KelviqContext`](crate::KelviqContext) into the request
/// extensions, the inner service, and — when the response is a success — usage recorded
/// with the meter, never awaited.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use kelviq_client::{CacheConfig, Kelviq};
/// use kelviq_client::meter::UsageMeter;
/// use kelviq_tower::{CustomerId, KelviqLayer};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .entitlement_cache(CacheConfig::default())
///     .build()?;
/// let meter = UsageMeter::builder(kelviq.clone()).start()?;
/// let service = ServiceBuilder::new()
///     .layer(KelviqLayer::new(kelviq).usage_meter(meter).require("reports").meter("api-calls", 1))
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
    kelviq: Kelviq,
    meter: Option<UsageMeter>,
    gate: GateBuilder,
    customer: C,
    on_denied: Option<DenialHandler>,
}

impl<C> std::fmt::Debug for KelviqLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KelviqLayer")
            .field("kelviq", &self.kelviq)
            .field("meter", &self.meter.is_some())
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl KelviqLayer {
    /// A layer that reads the customer id from the [`CustomerId`] request extension and,
    /// until configured, requires nothing and meters nothing (it still loads the customer's
    /// entitlements for handlers).
    pub fn new(kelviq: Kelviq) -> Self {
        KelviqLayer {
            kelviq,
            meter: None,
            gate: Gate::builder(),
            customer: FromExtension::new(),
            on_denied: None,
        }
    }
}

impl<C> KelviqLayer<C> {
    /// Where the customer id comes from (default: the [`CustomerId`] extension).
    pub fn customer<C2: CustomerIdSource>(self, source: C2) -> KelviqLayer<C2> {
        KelviqLayer {
            kelviq: self.kelviq,
            meter: self.meter,
            gate: self.gate,
            customer: source,
            on_denied: self.on_denied,
        }
    }

    /// The meter that records usage of successful requests (required with
    /// [`KelviqLayer::meter`]).
    pub fn usage_meter(mut self, meter: UsageMeter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Requires `feature` (several calls require all of them).
    pub fn require(mut self, feature: impl Into<String>) -> Self {
        self.gate = self.gate.require(feature);
        self
    }

    /// Requires every one of `features`.
    pub fn require_all<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.gate = self.gate.require_all(features);
        self
    }

    /// Requires at least one of `features`.
    pub fn require_any<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.gate = self.gate.require_any(features);
        self
    }

    /// Records `amount` units of `feature` for each successful response; a handler may
    /// override the amount with a [`UsageAmount`](crate::UsageAmount) response extension.
    pub fn meter(mut self, feature: impl Into<String>, amount: i64) -> Self {
        self.gate = self.gate.meter(feature, amount);
        self
    }

    /// Which statuses count as success for metering (default: 2xx).
    pub fn success_statuses(mut self, filter: impl Into<StatusFilter>) -> Self {
        self.gate = self.gate.success_statuses(filter);
        self
    }

    /// What to do when no entitlements can be had (default: deny with `503`).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.gate = self.gate.failure_policy(policy);
        self
    }

    /// The status of a "usage limit reached" denial (default `403`; `402` and `429` are
    /// common).
    pub fn limit_reached_status(mut self, status: u16) -> Self {
        self.gate = self.gate.limit_reached_status(status);
        self
    }

    /// Answers every denial (missing customer, not entitled, limit reached, unavailable)
    /// with this function's response instead of the default JSON body.
    pub fn on_denied<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Denial) -> http::Response<Bytes> + Send + Sync + 'static,
    {
        self.on_denied = Some(Arc::new(handler));
        self
    }
}

impl<S, C: Clone> Layer<S> for KelviqLayer<C> {
    type Service = KelviqService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let gate = self.gate.clone().build().and_then(|gate| {
            if gate.meters() && self.meter.is_none() {
                Err(kelviq_client::Error::Config(format!(
                    "the kelviq layer meters {} but has no usage meter (KelviqLayer::usage_meter)",
                    gate.metered_feature().unwrap_or_default()
                )))
            } else {
                Ok(gate)
            }
        });
        if let Err(error) = &gate {
            tracing::error!(%error, "kelviq layer misconfigured: every request will answer 500");
        }
        KelviqService::new(
            inner,
            Arc::new(Config {
                kelviq: self.kelviq.clone(),
                meter: self.meter.clone(),
                gate: gate.map_err(Arc::new),
                customer: self.customer.clone(),
                on_denied: self.on_denied.clone(),
            }),
        )
    }
}
