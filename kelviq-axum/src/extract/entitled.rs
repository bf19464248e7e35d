//! [`Entitled<F>`]: the handler runs only for customers entitled to feature `F`.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use kelviq_client::Kelviq;
use kelviq_client::gate::{Feature, evaluate_feature};

use super::entitlements::Entitlements;
use crate::rejection::KelviqRejection;

/// Proof that the request's customer may use feature `F`; otherwise the request is
/// answered `403` (`feature_not_entitled`, or `usage_limit_reached` — with the layer's
/// limit status — for a metered feature at its hard limit) and the handler does not run. The handler's signature states the
/// feature it needs.
///
/// ```
/// use kelviq_axum::extract::Entitled;
///
/// kelviq_client::feature! {
///     pub Reports = "reports";
/// }
///
/// async fn reports(_: Entitled<Reports>) -> &'static str {
///     "the report"
/// }
/// # let _ = axum::routing::get(reports).with_state::<kelviq_client::Kelviq>(kelviq_client::Kelviq::new("k").unwrap());
/// ```
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

impl<F> std::fmt::Debug for Entitled<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entitled")
            .field("feature", &std::any::type_name::<F>())
            .finish_non_exhaustive()
    }
}

impl<S, F> FromRequestParts<S> for Entitled<F>
where
    S: Send + Sync,
    Kelviq: FromRef<S>,
    F: Feature,
{
    type Rejection = KelviqRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let entitlements = Entitlements::from_request_parts(parts, state).await?;
        // Judged with the layer's limit status, so that both refuse alike.
        parts
            .extensions
            .get::<kelviq_tower::KelviqContext>()
            .and_then(|context| context.evaluate_feature(F::ID))
            .unwrap_or_else(|| evaluate_feature(entitlements.snapshot(), F::ID))?;
        Ok(Entitled {
            entitlements,
            feature: PhantomData,
        })
    }
}
