//! Route helpers: gating or metering a route is one line.

use kelviq_client::Kelviq;
use kelviq_client::meter::UsageMeter;
use kelviq_tower::{CustomerId, CustomerIdSource, FromExtension, KelviqLayer};

/// Makes [`KelviqLayer`]s that share a client, a meter and a customer-id source.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let kelviq = kelviq_client::Kelviq::new("k")?;
/// use axum::Router;
/// use axum::routing::{get, post};
/// use kelviq_axum::Gatekeeper;
/// use kelviq_client::meter::UsageMeter;
///
/// let meter = UsageMeter::builder(kelviq.clone()).start()?;
/// let kelviq_gates = Gatekeeper::new(kelviq.clone(), meter);
/// let app: Router<kelviq_client::Kelviq> = Router::new()
///     .route("/reports", get(|| async { "report" }).route_layer(kelviq_gates.require("reports")))
///     .route(
///         "/api/calls",
///         post(|| async { "ok" }).route_layer(kelviq_gates.require("api-calls").meter("api-calls", 1)),
///     );
/// # let _ = app.with_state::<()>(kelviq);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Gatekeeper<C = FromExtension<CustomerId>> {
    kelviq: Kelviq,
    meter: UsageMeter,
    customer: C,
}

impl Gatekeeper {
    /// Layers that read the customer id from the [`CustomerId`] extension.
    pub fn new(kelviq: Kelviq, meter: UsageMeter) -> Self {
        Gatekeeper {
            kelviq,
            meter,
            customer: FromExtension::new(),
        }
    }
}

impl<C: CustomerIdSource> Gatekeeper<C> {
    /// Layers that read the customer id from `source`.
    #[must_use]
    pub fn customer<C2: CustomerIdSource>(self, source: C2) -> Gatekeeper<C2> {
        Gatekeeper {
            kelviq: self.kelviq,
            meter: self.meter,
            customer: source,
        }
    }

    /// A layer that requires nothing and meters nothing yet (it loads the customer's
    /// entitlements for the extractors); configure it further with its own methods.
    pub fn layer(&self) -> KelviqLayer<C> {
        KelviqLayer::new(self.kelviq.clone())
            .usage_meter(self.meter.clone())
            .customer(self.customer.clone())
    }

    /// A layer that requires `feature`.
    pub fn require(&self, feature: impl Into<String>) -> KelviqLayer<C> {
        self.layer().require(feature)
    }

    /// A layer that requires every one of `features`.
    pub fn require_all<I>(&self, features: I) -> KelviqLayer<C>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.layer().require_all(features)
    }

    /// A layer that requires at least one of `features`.
    pub fn require_any<I>(&self, features: I) -> KelviqLayer<C>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.layer().require_any(features)
    }

    /// A layer that meters `amount` units of `feature` per successful response.
    pub fn meter(&self, feature: impl Into<String>, amount: i64) -> KelviqLayer<C> {
        self.layer().meter(feature, amount)
    }

    /// The client.
    pub fn kelviq(&self) -> &Kelviq {
        &self.kelviq
    }

    /// The meter.
    pub fn usage_meter(&self) -> &UsageMeter {
        &self.meter
    }
}
