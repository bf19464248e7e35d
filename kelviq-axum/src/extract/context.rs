//! Finding the layer's context, or building one when there is no layer.

use axum::extract::FromRef;
use http::request::Parts;
use kelviq_client::gate::{Decision, Gate};
use kelviq_client::{CustomerClient, Kelviq};
use kelviq_tower::{CustomerId, KelviqContext};

use crate::rejection::{KelviqRejection, MissingKelviqLayer};

/// The context the layer inserted.
pub(crate) fn from_layer(parts: &Parts) -> Result<&KelviqContext, KelviqRejection> {
    parts
        .extensions
        .get::<KelviqContext>()
        .ok_or(KelviqRejection::MissingLayer(MissingKelviqLayer))
}

/// The layer's context, or — without the layer — one loaded for the `CustomerId`
/// extension with the client from the state (fails closed if Kelviq is unreachable).
pub(crate) async fn load<S>(parts: &mut Parts, state: &S) -> Result<KelviqContext, KelviqRejection>
where
    Kelviq: FromRef<S>,
{
    if let Some(context) = parts.extensions.get::<KelviqContext>() {
        return Ok(context.clone());
    }
    let Some(customer) = parts.extensions.get::<CustomerId>().cloned() else {
        return Err(KelviqRejection::MissingLayer(MissingKelviqLayer));
    };
    let kelviq = Kelviq::from_ref(state);
    // An ungated check: it loads the snapshot (through the cache) and applies the default
    // failure policy.
    let gate = Gate::builder()
        .build()
        .map_err(|_| KelviqRejection::MissingLayer(MissingKelviqLayer))?;
    match gate.check(&kelviq, customer.as_str()).await {
        Decision::Allow { snapshot, stale } => {
            let context = KelviqContext::new(customer.0.clone(), snapshot, stale, kelviq, None);
            // Later extractors of the same request reuse it instead of checking again.
            parts.extensions.insert(context.clone());
            Ok(context)
        }
        Decision::Deny(denial) | Decision::Unavailable(denial) => Err(denial.into()),
    }
}

/// The client scoped to the request's customer: the layer's, or — without the layer — one
/// built from the `CustomerId` extension and the client in the state, with no I/O.
pub(crate) fn customer<S>(parts: &Parts, state: &S) -> Result<CustomerClient, KelviqRejection>
where
    Kelviq: FromRef<S>,
{
    if let Some(context) = parts.extensions.get::<KelviqContext>() {
        return Ok(context.customer());
    }
    let customer = parts
        .extensions
        .get::<CustomerId>()
        .ok_or(KelviqRejection::MissingLayer(MissingKelviqLayer))?;
    Ok(Kelviq::from_ref(state).customer(customer.0.clone()))
}
