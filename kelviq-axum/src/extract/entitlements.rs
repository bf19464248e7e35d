//! [`Entitlements`]: the request customer's entitlement snapshot.

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use kelviq_client::cache::Snapshot;
use kelviq_client::gate::{Refusal, RequestContext};

use super::context::request_context;
use crate::rejection::{EntitlementsRejection, KelviqUnavailable};

/// The snapshot the layer loaded (shared, not copied; no I/O). Dereferences to the
/// [`Snapshot`]: `entitlements.has_access("reports")`, `entitlements.get("api-calls")`,
/// `entitlements.to_entitlements()`.
///
/// Refuses with `500` `kelviq_layer_missing` without the layer in front of the route, and
/// `503` `kelviq_unavailable` when the layer let the request through without a snapshot
/// (Kelviq unreachable, [`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
///
/// `Option<Entitlements>` is `None` in both cases, for handlers that serve everyone and
/// show more to customers whose plan is known (on a route without the layer it is always
/// `None`).
///
/// ```
/// use kelviq_axum::prelude::*;
///
/// async fn dashboard(entitlements: Entitlements) -> &'static str {
///     if entitlements.has_access("reports") { "with reports" } else { "basic" }
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(dashboard);
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

    /// The entitlements of a context, if it has a snapshot.
    pub(super) fn of(context: &RequestContext) -> Option<Self> {
        context.snapshot().map(|snapshot| Entitlements {
            snapshot: Arc::clone(snapshot),
            stale: context.is_stale(),
        })
    }
}

impl Deref for Entitlements {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Entitlements {
    type Rejection = EntitlementsRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = request_context(parts)?;
        Entitlements::of(context)
            .ok_or_else(|| KelviqUnavailable::from(Refusal::no_snapshot(context)).into())
    }
}

/// `None` when no Kelviq layer ran in front of the route, or when it let the request
/// through without a snapshot.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Entitlements {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .and_then(Entitlements::of))
    }
}
