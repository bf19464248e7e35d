//! [`Entitled<F>`]: the handler runs only for customers entitled to feature `F`.

use axum::extract::FromRequestParts;
use http::request::Parts;
use kelviq_client::__private::Refusal;
use kelviq_client::gate::{self, Feature};

use super::context::request_context;
use crate::rejection::EntitledRejection;

kelviq_client::__extractor! {
    /// Proof that the request's customer may use the feature `F` names; otherwise the handler
    /// does not run and the request is answered with the denial: `403`
    /// `feature_not_entitled`, or `usage_limit_reached` for a metered feature at its hard
    /// limit — with the gate's
    /// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status), so that it
    /// refuses as the layer in front of it would. The handler's signature states the feature
    /// it needs. Dereferences to [`kelviq_client::gate::Entitled`]: `entitlement()` (`F`'s
    /// limit, usage, remaining...) and the snapshot it was judged on.
    ///
    /// It judges the snapshot the layer loaded ([`gate::Entitled::of`]), without
    /// I/O. Without the layer in front of the route: `500` `kelviq_layer_missing`. When the
    /// layer let the request through without a snapshot (Kelviq unreachable,
    /// [`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)): `503`
    /// `kelviq_unavailable`, as [`RequestSnapshot`](super::RequestSnapshot) — the failure
    /// policy covers the gate's own requirements.
    ///
    /// `F` is a marker type declared with [`feature!`](kelviq_client::feature):
    ///
    /// ```
    /// use kelviq_axum::prelude::*;
    ///
    /// feature! {
    ///     /// The reports pages.
    ///     pub Reports = "reports";
    /// }
    ///
    /// async fn reports(_: Entitled<Reports>) -> &'static str {
    ///     "the report"
    /// }
    /// # let _: axum::routing::MethodRouter = axum::routing::get(reports);
    /// ```
    Entitled<F>(gate::Entitled<F>)
}

impl<S, F> FromRequestParts<S> for Entitled<F>
where
    S: Send + Sync,
    F: Feature,
{
    type Rejection = EntitledRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = request_context(parts)?;
        gate::Entitled::of(context)
            .map(Entitled)
            .map_err(|denial| Refusal::new(denial, context).into())
    }
}
