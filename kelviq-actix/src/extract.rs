//! Extractors: [`Customer`], [`Entitlements`], [`Entitled<F>`], [`UsageRecorder`], and
//! [`KelviqContext`] itself. The client is `web::Data<Kelviq>`, registered by the app.
//!
//! They read the [`KelviqContext`] the
//! [`KelviqMiddleware`](crate::KelviqMiddleware) stored; without it they answer `500`
//! ([`MiddlewareMissing`]). Each has an `Option<_>` form, as every actix-web extractor.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use kelviq_client::cache::Snapshot;
use kelviq_client::gate::{Denial, Feature, evaluate_feature};
use kelviq_client::models::Entitlement;
use kelviq_client::{CustomerClient, Error};

use crate::context::{KelviqContext, UsageAmount};
use crate::error::{
    EntitledRejection, EntitlementsRejection, FeatureNotEntitled, KelviqUnavailable,
    MiddlewareMissing,
};

fn context(request: &HttpRequest) -> Result<KelviqContext, MiddlewareMissing> {
    KelviqContext::of(request).ok_or_else(MiddlewareMissing::new)
}

impl FromRequest for KelviqContext {
    type Error = MiddlewareMissing;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request))
    }
}

/// The client scoped to the current customer (with the middleware's usage meter), for
/// handlers that act on "the current customer": `customer.subscriptions().await`,
/// `customer.record_usage("exports", 3)`. Dereferences to [`CustomerClient`].
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
    type Error = MiddlewareMissing;
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
/// use kelviq_actix::Entitlements;
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

    fn of(request: &HttpRequest) -> Result<Self, EntitlementsRejection> {
        let context = context(request)?;
        match context.snapshot() {
            Some(snapshot) => Ok(Entitlements {
                snapshot: Arc::clone(snapshot),
                stale: context.is_stale(),
            }),
            None => Err(KelviqUnavailable::new(Denial::unavailable(Error::Config(
                "no entitlements: Kelviq was unreachable and the middleware let the request through"
                    .to_owned(),
            )))
            .into()),
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
        ready(Entitlements::of(request))
    }
}

/// Proof that the current customer is entitled to the feature `F` names; otherwise the
/// handler does not run and the request is answered with the denial: `403`
/// `feature_not_entitled` (or `usage_limit_reached` for a metered feature at its hard
/// limit), the same JSON body as the middleware's.
///
/// `F` is a marker type declared with [`kelviq_client::feature!`], shared with
/// kelviq-axum:
///
/// ```
/// use kelviq_actix::Entitled;
///
/// kelviq_client::feature! {
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
/// policy covers the middleware's own requirements
/// ([`require`](crate::KelviqMiddleware::require)).
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

impl<F: Feature> FromRequest for Entitled<F> {
    type Error = EntitledRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let entitlements = match Entitlements::of(request) {
            Ok(entitlements) => entitlements,
            Err(EntitlementsRejection::MiddlewareMissing(missing)) => {
                return ready(Err(missing.into()));
            }
            Err(EntitlementsRejection::KelviqUnavailable(unavailable)) => {
                return ready(Err(unavailable.into()));
            }
        };
        // Judged with the middleware's limit status, so that both refuse alike.
        let verdict = KelviqContext::of(request)
            .and_then(|context| context.evaluate_feature(F::ID))
            .unwrap_or_else(|| evaluate_feature(&entitlements, F::ID));
        ready(match verdict {
            Ok(()) => Ok(Entitled {
                entitlements,
                _feature: PhantomData,
            }),
            Err(denial) => Err(FeatureNotEntitled::new(denial).into()),
        })
    }
}

/// Records usage of the current customer with the middleware's meter, for amounts only
/// the handler knows — [`record`](UsageRecorder::record) any feature now, as with
/// kelviq-axum, or [`set_amount`](UsageRecorder::set_amount) of the middleware's metered
/// feature, recorded only if the response is a success (the same as a [`UsageAmount`]
/// response extension, with any responder).
///
/// ```
/// use actix_web::web;
/// use kelviq_actix::UsageRecorder;
///
/// async fn export(usage: UsageRecorder) -> web::Json<Vec<u32>> {
///     let rows = vec![1, 2, 3];
///     // Metered by the middleware's `.meter("exported-rows", ..)` if this succeeds.
///     usage.set_amount(rows.len() as i64);
///     web::Json(rows)
/// }
/// # let _ = web::post().to(export);
/// ```
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    context: KelviqContext,
    request: HttpRequest,
}

impl UsageRecorder {
    /// Records `amount` units of `feature` for the current customer now, whatever the
    /// response, without waiting.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`](kelviq_client::meter::UsageMeter::record).
    pub fn record(&self, feature_id: &str, amount: i64) -> kelviq_client::Result<()> {
        match self.context.meter() {
            Some(meter) => meter.record(self.context.customer_id(), feature_id, amount),
            // The middleware always stores its meter; a hand-built context may not.
            None => Err(Error::Config(
                "the Kelviq context has no usage meter".to_owned(),
            )),
        }
    }

    /// The customer usage is recorded for.
    pub fn customer_id(&self) -> &str {
        self.context.customer_id()
    }

    /// Has the middleware meter `amount` units for this request, if its response is a
    /// success, instead of its configured amount; the last call wins, and a
    /// [`UsageAmount`] response extension wins over it. Does nothing unless the middleware
    /// [meters](crate::KelviqMiddleware::meter).
    pub fn set_amount(&self, amount: i64) {
        self.request.extensions_mut().insert(UsageAmount(amount));
    }

    /// The amount set so far, if any.
    pub fn amount(&self) -> Option<i64> {
        self.request
            .extensions()
            .get::<UsageAmount>()
            .map(|amount| amount.0)
    }
}

impl FromRequest for UsageRecorder {
    type Error = MiddlewareMissing;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map(|context| UsageRecorder {
            context,
            request: request.clone(),
        }))
    }
}
