//! [`KelviqContext`]: the [`RequestContext`] the layer left in the request; and how every
//! extractor of this module finds it (never by calling Kelviq).

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use kelviq_client::gate::RequestContext;

use crate::rejection::{KelviqContextRejection, MissingKelviqLayer};

kelviq_client::__extractor! {
    /// The context the [`KelviqLayer`](crate::KelviqLayer) left in the request: customer id,
    /// snapshot, client, meter, and the gate's limit status. Dereferences to
    /// [`RequestContext`].
    ///
    /// Without the layer in front of the route: `500` `kelviq_layer_missing`
    /// ([`MissingKelviqLayer`]); as `Option<KelviqContext>` it is then `None`.
    ///
    /// ```
    /// use kelviq_axum::prelude::*;
    ///
    /// async fn whoami(context: KelviqContext) -> String {
    ///     let stale = if context.is_stale() { " (last known plan)" } else { "" };
    ///     format!("{}{stale}", context.customer_id())
    /// }
    /// # let _: axum::routing::MethodRouter = axum::routing::get(whoami);
    /// ```
    KelviqContext(RequestContext)
}

impl<S: Send + Sync> FromRequestParts<S> for KelviqContext {
    type Rejection = KelviqContextRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(KelviqContext(request_context(parts)?.clone()))
    }
}

/// `None` when no Kelviq layer ran in front of the route.
impl<S: Send + Sync> OptionalFromRequestParts<S> for KelviqContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .map(KelviqContext))
    }
}

/// The context the layer inserted, or the rejection naming the missing layer.
pub(super) fn request_context(parts: &Parts) -> Result<&RequestContext, MissingKelviqLayer> {
    parts
        .extensions
        .get::<RequestContext>()
        .ok_or_else(MissingKelviqLayer::default)
}
