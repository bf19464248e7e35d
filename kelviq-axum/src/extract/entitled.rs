//! [`Entitled<F>`]: the handler runs only for customers entitled to feature `F`.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use http::request::Parts;
use kelviq_client::gate::{Feature, Refusal};
use kelviq_client::models::Entitlement;

use super::context::request_context;
use super::entitlements::Entitlements;
use crate::rejection::{EntitledRejection, FeatureNotEntitled, KelviqUnavailable};

/// Proof that the request's customer may use the feature `F` names; otherwise the handler
/// does not run and the request is answered with the denial: `403`
/// `feature_not_entitled`, or `usage_limit_reached` for a metered feature at its hard
/// limit — with the gate's
/// [limit status](kelviq_client::gate::GateBuilder::limit_reached_status), so that it
/// refuses as the layer in front of it would. The handler's signature states the feature
/// it needs.
///
/// It judges the snapshot the layer loaded ([`RequestContext::evaluate_feature`]), without
/// I/O. Without the layer in front of the route: `500` `kelviq_layer_missing`. When the
/// layer let the request through without a snapshot (Kelviq unreachable,
/// [`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)): `503`
/// `kelviq_unavailable`, as [`Entitlements`] — the failure policy covers the gate's own
/// requirements.
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
///
/// [`RequestContext::evaluate_feature`]: kelviq_client::gate::RequestContext::evaluate_feature
pub struct Entitled<F> {
    entitlements: Entitlements,
    feature: PhantomData<fn() -> F>,
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
            feature: PhantomData,
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

impl<S, F> FromRequestParts<S> for Entitled<F>
where
    S: Send + Sync,
    F: Feature,
{
    type Rejection = EntitledRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = request_context(parts)?;
        // Judged as the gate judges, with its limit status, so that both refuse alike.
        match context.evaluate_feature(F::ID) {
            Some(Ok(())) => {}
            Some(Err(denial)) => {
                return Err(FeatureNotEntitled::from(Refusal::new(denial, context)).into());
            }
            None => return Err(KelviqUnavailable::from(Refusal::no_snapshot(context)).into()),
        }
        let entitlements = Entitlements::of(context)
            .ok_or_else(|| KelviqUnavailable::from(Refusal::no_snapshot(context)))?;
        Ok(Entitled {
            entitlements,
            feature: PhantomData,
        })
    }
}
