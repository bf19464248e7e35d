//! [`Entitlements`]: the request customer's entitlement snapshot.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use kelviq_client::Kelviq;
use kelviq_client::cache::Snapshot;

use super::context;
use crate::rejection::KelviqRejection;

/// The snapshot the layer loaded (shared, not copied), or one loaded now when there is no
/// layer. As `Option<Entitlements>` it is `None` when the layer let the request through
/// without a snapshot (Kelviq unreachable, fail-open policy), or when there is neither a
/// layer nor a customer.
///
/// ```
/// use kelviq_axum::extract::Entitlements;
///
/// async fn dashboard(entitlements: Entitlements) -> &'static str {
///     if entitlements.has_access("reports") { "with reports" } else { "basic" }
/// }
/// # let _ = axum::routing::get(dashboard).with_state::<kelviq_client::Kelviq>(kelviq_client::Kelviq::new("k").unwrap());
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

    /// Whether it is stale (Kelviq unreachable, last known state).
    pub fn is_stale(&self) -> bool {
        self.stale
    }
}

impl Deref for Entitlements {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

/// The snapshot of a context, or the unavailable denial when there is none.
fn from_context(context: &kelviq_tower::KelviqContext) -> Option<Entitlements> {
    context.snapshot().map(|snapshot| Entitlements {
        snapshot: Arc::clone(snapshot),
        stale: context.is_stale(),
    })
}

/// No snapshot: the layer let the request through while Kelviq was unreachable.
fn unavailable() -> KelviqRejection {
    KelviqRejection::Denied(kelviq_client::gate::Denial::unavailable(
        kelviq_client::Error::Config(
            "no entitlements: Kelviq was unreachable and the layer let the request through"
                .to_owned(),
        ),
    ))
}

impl<S> FromRequestParts<S> for Entitlements
where
    S: Send + Sync,
    Kelviq: FromRef<S>,
{
    type Rejection = KelviqRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(context) = context::from_layer(parts) {
            return from_context(context).ok_or_else(unavailable);
        }
        let context = context::load(parts, state).await?;
        from_context(&context).ok_or_else(unavailable)
    }
}

impl<S> OptionalFromRequestParts<S> for Entitlements
where
    S: Send + Sync,
    Kelviq: FromRef<S>,
{
    type Rejection = KelviqRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Ok(context) = context::from_layer(parts) {
            return Ok(from_context(context));
        }
        // No layer and no customer: absence, not an error.
        if parts.extensions.get::<kelviq_tower::CustomerId>().is_none() {
            return Ok(None);
        }
        let context = context::load(parts, state).await?;
        Ok(from_context(&context))
    }
}
