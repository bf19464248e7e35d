//! [`RequestSnapshot`]: the entitlement snapshot the layer admitted the request on.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use kelviq_client::__private::Refusal;
use kelviq_client::gate::{self, RequestContext};

use super::context::request_context;
use crate::rejection::{KelviqUnavailable, RequestSnapshotRejection};

kelviq_client::__extractor! {
    /// The snapshot the layer loaded (shared, not copied; no I/O), and whether it was
    /// stale. Dereferences to [`kelviq_client::gate::RequestSnapshot`], which dereferences
    /// to the [`Snapshot`](kelviq_client::cache::Snapshot): `snapshot.has_access("reports")`,
    /// `snapshot.get("api-calls")`, `snapshot.to_entitlements()` (serializable, for a
    /// "my plan" endpoint).
    ///
    /// Refuses with `500` `kelviq_layer_missing` without the layer in front of the route, and
    /// `503` `kelviq_unavailable` when the layer let the request through without a snapshot
    /// (Kelviq unreachable, [`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
    ///
    /// `Option<RequestSnapshot>` is `None` in both cases, for handlers that serve everyone and
    /// show more to customers whose plan is known (on a route without the layer it is always
    /// `None`).
    ///
    /// ```
    /// use kelviq_axum::prelude::*;
    ///
    /// async fn dashboard(snapshot: RequestSnapshot) -> &'static str {
    ///     if snapshot.has_access("reports") { "with reports" } else { "basic" }
    /// }
    /// # let _: axum::routing::MethodRouter = axum::routing::get(dashboard);
    /// ```
    RequestSnapshot(gate::RequestSnapshot)
}

impl<S: Send + Sync> FromRequestParts<S> for RequestSnapshot {
    type Rejection = RequestSnapshotRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = request_context(parts)?;
        gate::RequestSnapshot::of(context)
            .map(RequestSnapshot)
            .ok_or_else(|| KelviqUnavailable::from(Refusal::no_snapshot(context)).into())
    }
}

/// `None` when no Kelviq layer ran in front of the route, or when it let the request
/// through without a snapshot.
impl<S: Send + Sync> OptionalFromRequestParts<S> for RequestSnapshot {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .and_then(gate::RequestSnapshot::of)
            .map(RequestSnapshot))
    }
}
