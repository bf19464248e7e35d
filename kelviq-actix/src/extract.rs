//! Extractors for handlers: [`Customer`], [`Entitlements`], [`Entitled<F>`] and
//! [`UsageRecorder`] (and [`KelviqContext`](crate::KelviqContext), in its own module). The
//! client itself is `web::Data<Kelviq>`, registered by the app.
//!
//! They read the [`RequestContext`](kelviq_client::gate::RequestContext) the
//! [`KelviqMiddleware`](crate::KelviqMiddleware) stored and never call Kelviq: without the
//! middleware they answer `500` `kelviq_layer_missing`
//! ([`MissingKelviqLayer`]). Each has an `Option<_>` form, as every actix-web extractor,
//! which is `None` instead of refusing.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use kelviq_client::CustomerClient;
use kelviq_client::cache::Snapshot;
use kelviq_client::gate::{Feature, Refusal};
use kelviq_client::models::Entitlement;

use crate::context::KelviqContext;
use crate::rejection::{
    EntitledRejection, EntitlementsRejection, FeatureNotEntitled, KelviqUnavailable,
    MissingKelviqLayer,
};

/// The context the middleware stored, or the rejection of a missing middleware.
fn context(request: &HttpRequest) -> Result<KelviqContext, MissingKelviqLayer> {
    KelviqContext::of(request).ok_or_else(MissingKelviqLayer::default)
}

/// The client scoped to the current customer, for handlers that act on "the current
/// customer": `customer.subscriptions().await`, `customer.record_usage("exports", 3)` (with
/// the client's usage meter). Dereferences to [`CustomerClient`].
///
/// ```
/// use kelviq_actix::prelude::*;
///
/// async fn export(customer: Customer) -> actix_web::HttpResponse {
///     // Recorded now, whatever the response; delivered in the background.
///     let _ = customer.record_usage("exports", 1);
///     actix_web::HttpResponse::Ok().body(format!("exported for {}", customer.id()))
/// }
/// # let _ = actix_web::web::post().to(export);
/// ```
#[derive(Debug, Clone)]
pub struct Customer(pub CustomerClient);

impl Customer {
    /// The customer-scoped client.
    pub fn into_inner(self) -> CustomerClient {
        self.0
    }
}

impl Deref for Customer {
    type Target = CustomerClient;

    fn deref(&self) -> &CustomerClient {
        &self.0
    }
}

impl FromRequest for Customer {
    type Error = MissingKelviqLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map(|context| Customer(context.customer())))
    }
}

/// The current customer's entitlements, as the middleware loaded them (shared, not
/// copied; no I/O). Dereferences to the [`Snapshot`]: `entitlements.has_access("reports")`,
/// `entitlements.get("api-calls")`, `entitlements.to_entitlements()`.
///
/// `503` `kelviq_unavailable` ([`KelviqUnavailable`]) when the middleware let the request
/// through without entitlements because Kelviq could not be reached
/// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)); as
/// `Option<Entitlements>` it is then `None`.
///
/// ```
/// use kelviq_actix::prelude::*;
///
/// async fn dashboard(entitlements: Entitlements) -> &'static str {
///     if entitlements.has_access("reports") { "with reports" } else { "basic" }
/// }
/// # let _ = actix_web::web::get().to(dashboard);
/// ```
#[derive(Debug, Clone)]
pub struct Entitlements {
    snapshot: Arc<Snapshot>,
    stale: bool,
}

impl Entitlements {
    /// The snapshot.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Whether it is stale: Kelviq could not be reached and the last known entitlements
    /// were used.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The entitlements of a context, or `503` when it has none.
    fn of(context: &KelviqContext) -> Result<Self, KelviqUnavailable> {
        match context.snapshot() {
            Some(snapshot) => Ok(Entitlements {
                snapshot: Arc::clone(snapshot),
                stale: context.is_stale(),
            }),
            None => Err(KelviqUnavailable::from(Refusal::no_snapshot(context))),
        }
    }
}

impl Deref for Entitlements {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl FromRequest for Entitlements {
    type Error = EntitlementsRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match context(request) {
            Ok(context) => Entitlements::of(&context).map_err(Into::into),
            Err(missing) => Err(missing.into()),
        })
    }
}

/// Proof that the current customer is entitled to the feature `F` names; otherwise the
/// handler does not run and the request is answered with the denial exactly as the
/// middleware would answer it: `403` `feature_not_entitled`, or `usage_limit_reached` for a
/// metered feature at its hard limit (with the gate's
/// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status)), the same JSON
/// body — or the gate's denial handler's response, if it has one.
///
/// `F` is a marker type declared with [`feature!`](kelviq_client::feature), shared with
/// kelviq-axum:
///
/// ```
/// use kelviq_actix::prelude::*;
///
/// feature! {
///     /// The reports pages.
///     pub Reports = "reports";
/// }
///
/// async fn reports(_: Entitled<Reports>) -> &'static str {
///     "the report"
/// }
/// # let _ = actix_web::web::get().to(reports);
/// ```
///
/// It judges the snapshot the middleware loaded. When there is none — Kelviq could not be
/// reached and the middleware let the request through
/// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)) — it answers
/// `503` `kelviq_unavailable` as [`Entitlements`] does (so does kelviq-axum): the failure
/// policy covers the gate's own requirements
/// ([`GateBuilder::require`](kelviq_client::gate::GateBuilder::require)).
pub struct Entitled<F> {
    entitlements: Entitlements,
    _feature: PhantomData<fn() -> F>,
}

impl<F> Entitled<F> {
    /// The customer's entitlements.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }
}

impl<F: Feature> Entitled<F> {
    /// The feature's entitlement: limit, usage, remaining...
    pub fn entitlement(&self) -> Option<Entitlement> {
        self.entitlements.get(F::ID)
    }
}

impl<F> Clone for Entitled<F> {
    fn clone(&self) -> Self {
        Entitled {
            entitlements: self.entitlements.clone(),
            _feature: PhantomData,
        }
    }
}

impl<F: Feature> std::fmt::Debug for Entitled<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entitled")
            .field("feature", &F::ID)
            .finish_non_exhaustive()
    }
}

impl<F: Feature> Entitled<F> {
    fn of(request: &HttpRequest) -> Result<Self, EntitledRejection> {
        let context = context(request)?;
        let entitlements = Entitlements::of(&context)?;
        // Judged as the gate judges, with its limit status, so that both refuse alike.
        match context.evaluate_feature(F::ID) {
            Some(Ok(())) => Ok(Entitled {
                entitlements,
                _feature: PhantomData,
            }),
            Some(Err(denial)) => {
                Err(FeatureNotEntitled::from(Refusal::new(denial, &context)).into())
            }
            None => Err(KelviqUnavailable::from(Refusal::no_snapshot(&context)).into()),
        }
    }
}

impl<F: Feature> FromRequest for Entitled<F> {
    type Error = EntitledRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Entitled::of(request))
    }
}

/// Records usage of the current customer with the client's usage meter, for amounts only
/// the handler knows: [`record`](UsageRecorder::record) any feature now, as with
/// kelviq-axum, or [`set_amount`](UsageRecorder::set_amount) of the gate's metered feature,
/// recorded only if the response is a success (a [`UsageAmount`](kelviq_client::gate::UsageAmount)
/// response extension wins over it) and, on a hard-limited feature, at most what the
/// request holds: [`reserve`](UsageRecorder::reserve) up to the amount first.
///
/// ```
/// use actix_web::web;
/// use kelviq_actix::prelude::*;
///
/// async fn export(
///     usage: UsageRecorder,
/// ) -> Result<web::Json<Vec<u32>>, kelviq_actix::FeatureNotEntitled> {
///     // Up to 100 rows, as far as the plan's hard limit allows (refused when it allows none).
///     let held = usage.reserve(100).await?;
///     let rows: Vec<u32> = (1..=3).take(usize::try_from(held).unwrap_or(0)).collect();
///     // Metered by the gate's `.meter("exported-rows", ..)` if this succeeds.
///     usage.set_amount(rows.len() as i64);
///     Ok(web::Json(rows))
/// }
/// # let _ = web::post().to(export);
/// ```
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    context: KelviqContext,
}

impl UsageRecorder {
    /// Records `amount` units of `feature_id` for the current customer now, whatever the
    /// response, without waiting.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`](kelviq_client::meter::UsageMeter::record):
    /// [`Error::Validation`](kelviq_client::Error::Validation) for an empty feature id,
    /// [`Error::MeterClosed`](kelviq_client::Error::MeterClosed) after the
    /// meter's shutdown.
    pub fn record(&self, feature_id: &str, amount: i64) -> kelviq_client::Result<()> {
        self.context
            .meter()
            .record(self.context.customer_id(), feature_id, amount)
    }

    /// The customer usage is recorded for.
    pub fn customer_id(&self) -> &str {
        self.context.customer_id()
    }

    /// Has the gate meter `amount` units for this request, if its response is a success,
    /// instead of its configured amount ([`RequestContext::set_usage_amount`](kelviq_client::gate::RequestContext::set_usage_amount));
    /// the last call wins, and a [`UsageAmount`](kelviq_client::gate::UsageAmount) response
    /// extension wins over it. Does nothing unless the gate
    /// [meters](kelviq_client::gate::GateBuilder::meter).
    pub fn set_amount(&self, amount: i64) {
        self.context.set_usage_amount(amount);
    }

    /// The amount set so far, if any.
    pub fn amount(&self) -> Option<i64> {
        self.context.usage_amount()
    }

    /// Holds up to `units` of the gate's metered feature in total for this request, before
    /// doing work whose amount is known only once done; answers the units held (fewer
    /// than asked when the hard limit leaves fewer). The gate then meters the amount
    /// [`set_amount`](UsageRecorder::set_amount) gives, capped at the hold, and gives back
    /// the rest. See [`RequestContext::reserve`](kelviq_client::gate::RequestContext::reserve);
    /// without a hard limit, `units` as is.
    ///
    /// # Errors
    ///
    /// [`FeatureNotEntitled`] (`usage_limit_reached`, with the gate's limit status) when
    /// the request holds nothing and the limit leaves nothing: return it from the handler.
    pub async fn reserve(&self, units: i64) -> Result<i64, FeatureNotEntitled> {
        self.context
            .reserve(units)
            .await
            .map_err(|denial| FeatureNotEntitled::from(Refusal::new(denial, &self.context)))
    }
}

impl FromRequest for UsageRecorder {
    type Error = MissingKelviqLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map(|context| UsageRecorder { context }))
    }
}
