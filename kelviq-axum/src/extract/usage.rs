//! [`UsageRecorder`]: usage of the request's customer, recorded or handed to the layer.

use axum::extract::FromRequestParts;
use http::request::Parts;
use kelviq_client::gate;

use super::context::request_context;
use crate::rejection::{FeatureNotEntitled, UsageRecorderRejection};

kelviq_client::__extractor! {
    usage_recorder:
    /// Usage of the request's customer, for amounts only the handler knows. Dereferences to
    /// [`kelviq_client::gate::UsageRecorder`]:
    ///
    /// - `set_amount(n)`: the amount the layer meters for this request instead of its gate's
    ///   configured one, on the gate's metered feature
    ///   ([`GateBuilder::meter`](kelviq_client::gate::GateBuilder::meter)), and only if the
    ///   response is a success. Nothing is metered on a route whose gate does not meter. A
    ///   [`UsageAmount`](crate::UsageAmount) response extension, if the handler also sets one,
    ///   wins.
    /// - [`reserve`](UsageRecorder::reserve): for an amount learnt while the handler works,
    ///   holds up to so many units of the metered feature's hard limit first; the layer then
    ///   meters at most the hold.
    /// - `record(feature, n)`: records usage of any feature now, with the client's meter,
    ///   whatever the response.
    ///
    /// Without the layer in front of the route: `500` `kelviq_layer_missing`.
    ///
    /// ```
    /// use kelviq_axum::prelude::*;
    ///
    /// feature! {
    ///     pub ExportedRows = "exported-rows";
    ///     pub Exports = "exports";
    /// }
    ///
    /// // Behind `gates.clone().meter(ExportedRows, 1).into_layer()`.
    /// async fn export(usage: UsageRecorder) -> Result<String, kelviq_axum::rejection::FeatureNotEntitled> {
    ///     // Up to 500 rows, as far as the plan's hard limit allows (403 when it allows none).
    ///     let held = usage.reserve(500).await?;
    ///     let rows = 120.min(held);
    ///     usage.set_amount(rows); // metered by the layer if the export succeeds
    ///     let _ = usage.record(Exports, 1); // recorded now
    ///     Ok(format!("exported {rows} rows"))
    /// }
    /// # let _: axum::routing::MethodRouter = axum::routing::post(export);
    /// ```
    UsageRecorder
}

impl<S: Send + Sync> FromRequestParts<S> for UsageRecorder {
    type Rejection = UsageRecorderRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = request_context(parts)?.clone();
        Ok(UsageRecorder(gate::UsageRecorder::new(context)))
    }
}
