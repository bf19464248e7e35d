//! Extractors for handlers: [`Customer`], [`RequestSnapshot`], [`Entitled<F>`] and
//! [`UsageRecorder`] (and [`KelviqContext`](crate::KelviqContext), in its own module). The
//! client itself is `web::Data<Kelviq>`, registered by the app.
//!
//! They read the [`RequestContext`](kelviq_client::gate::RequestContext) the
//! [`KelviqMiddleware`](crate::KelviqMiddleware) stored and never call Kelviq: without the
//! middleware they answer `500` `kelviq_layer_missing`
//! ([`MissingKelviqLayer`]). Each has an `Option<_>` form, as every actix-web extractor,
//! which is `None` instead of refusing. Each is a thin wrapper (dereferencing to it) over
//! the framework-neutral value of [`kelviq_client`] it extracts ([`CustomerClient`],
//! [`gate::RequestSnapshot`], [`gate::Entitled`], [`gate::UsageRecorder`]), so that
//! kelviq-axum extracts the same.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use kelviq_client::__private::Refusal;
use kelviq_client::CustomerClient;
use kelviq_client::gate::{self, Feature};

use crate::context::KelviqContext;
use crate::rejection::{
    EntitledRejection, FeatureNotEntitled, KelviqUnavailable, MissingKelviqLayer,
    RequestSnapshotRejection,
};

/// The context the middleware stored, or the rejection of a missing middleware.
fn context(request: &HttpRequest) -> Result<KelviqContext, MissingKelviqLayer> {
    KelviqContext::of(request).ok_or_else(MissingKelviqLayer::default)
}

kelviq_client::__extractor! {
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
    Customer(CustomerClient)
}

impl FromRequest for Customer {
    type Error = MissingKelviqLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map(|context| Customer(context.customer())))
    }
}

kelviq_client::__extractor! {
    /// The current customer's entitlement snapshot, as the middleware loaded it (shared, not
    /// copied; no I/O), and whether it was stale. Dereferences to
    /// [`kelviq_client::gate::RequestSnapshot`], which dereferences to the
    /// [`Snapshot`](kelviq_client::cache::Snapshot): `snapshot.has_access("reports")`,
    /// `snapshot.get("api-calls")`, `snapshot.to_entitlements()` (serializable, for a "my
    /// plan" endpoint).
    ///
    /// `503` `kelviq_unavailable` ([`KelviqUnavailable`]) when the middleware let the request
    /// through without entitlements because Kelviq could not be reached
    /// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)); as
    /// `Option<RequestSnapshot>` it is then `None`.
    ///
    /// ```
    /// use kelviq_actix::prelude::*;
    ///
    /// async fn dashboard(snapshot: RequestSnapshot) -> &'static str {
    ///     if snapshot.has_access("reports") { "with reports" } else { "basic" }
    /// }
    /// # let _ = actix_web::web::get().to(dashboard);
    /// ```
    RequestSnapshot(gate::RequestSnapshot)
}

impl FromRequest for RequestSnapshot {
    type Error = RequestSnapshotRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map_err(Into::into).and_then(|context| {
            gate::RequestSnapshot::of(&context)
                .map(RequestSnapshot)
                .ok_or_else(|| KelviqUnavailable::from(Refusal::no_snapshot(&context)).into())
        }))
    }
}

kelviq_client::__extractor! {
    /// Proof that the current customer is entitled to the feature `F` names; otherwise the
    /// handler does not run and the request is answered with the denial exactly as the
    /// middleware would answer it: `403` `feature_not_entitled`, or `usage_limit_reached` for a
    /// metered feature at its hard limit (with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status)), the same
    /// problem details — or the gate's denial handler's response, if it has one.
    /// Dereferences to [`kelviq_client::gate::Entitled`]: `entitlement()` (`F`'s limit,
    /// usage, remaining...) and the snapshot it was judged on.
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
    /// It judges the snapshot the middleware loaded ([`gate::Entitled::of`]). When there is
    /// none — Kelviq could not be reached and the middleware let the request through
    /// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)) — it answers
    /// `503` `kelviq_unavailable` as [`RequestSnapshot`] does (so does kelviq-axum): the failure
    /// policy covers the gate's own requirements
    /// ([`GateBuilder::require`](kelviq_client::gate::GateBuilder::require)).
    Entitled<F>(gate::Entitled<F>)
}

impl<F: Feature> FromRequest for Entitled<F> {
    type Error = EntitledRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map_err(Into::into).and_then(|context| {
            gate::Entitled::of(&context)
                .map(Entitled)
                .map_err(|denial| Refusal::new(denial, &context).into())
        }))
    }
}

kelviq_client::__extractor! {
    usage_recorder:
    /// Records usage of the current customer with the client's usage meter, for amounts only
    /// the handler knows. Dereferences to [`kelviq_client::gate::UsageRecorder`]:
    /// `record(feature, n)` any feature now, as with kelviq-axum, or `set_amount(n)` of the
    /// gate's metered feature, recorded only if the response is a success (a
    /// [`UsageAmount`](kelviq_client::gate::UsageAmount) response extension wins over it)
    /// and, on a hard-limited feature, at most what the request holds:
    /// [`reserve`](UsageRecorder::reserve) up to the amount first.
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
    UsageRecorder
}

impl FromRequest for UsageRecorder {
    type Error = MissingKelviqLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(request).map(|context| UsageRecorder(gate::UsageRecorder::new(context.0))))
    }
}
