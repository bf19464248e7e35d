//! [`UsageRecorder`]: usage of the request's customer, recorded or handed to the layer.

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use http::request::Parts;
use kelviq_client::__private::Refusal;
use kelviq_client::gate::RequestContext;

use super::context::request_context;
use crate::rejection::{FeatureNotEntitled, UsageRecorderRejection};

/// Usage of the request's customer, for amounts only the handler knows.
///
/// - [`set_amount`](UsageRecorder::set_amount): the amount the layer meters for this
///   request instead of its gate's configured one, on the gate's metered feature
///   ([`GateBuilder::meter`](kelviq_client::gate::GateBuilder::meter)), and only if the
///   response is a success. Nothing is metered on a route whose gate does not meter. A
///   [`UsageAmount`](crate::UsageAmount) response extension, if the handler also sets one,
///   wins.
/// - [`reserve`](UsageRecorder::reserve): for an amount learnt while the handler works,
///   holds up to so many units of the metered feature's hard limit first; the layer then
///   meters at most the hold (see [`RequestContext::reserve`]).
/// - [`record`](UsageRecorder::record): records usage of any feature now, with the client's
///   meter, whatever the response.
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
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    context: RequestContext,
}

impl UsageRecorder {
    /// Records `amount` units of `feature` (an id, or a [`feature!`](crate::feature) type)
    /// for the request's customer with the client's meter, without waiting.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`](kelviq_client::meter::UsageMeter::record):
    /// [`Error::Validation`](kelviq_client::Error::Validation) for an empty feature id or
    /// a negative amount, [`Error::MeterClosed`](kelviq_client::Error::MeterClosed) after
    /// the meter shut down.
    pub fn record<'a>(
        &self,
        feature: impl Into<Cow<'a, str>>,
        amount: i64,
    ) -> kelviq_client::Result<()> {
        self.context
            .meter()
            .record(self.context.customer_id(), &feature.into(), amount)
    }

    /// Asks the layer to meter `amount` for this request, if its response is a success,
    /// instead of the gate's configured amount ([`RequestContext::set_usage_amount`]). The
    /// last call wins.
    pub fn set_amount(&self, amount: i64) {
        self.context.set_usage_amount(amount);
    }

    /// Holds up to `units` of the gate's metered feature in total for this request, before
    /// doing work whose amount is known only once done; answers the units held (fewer
    /// than asked when the hard limit leaves fewer). The layer then meters the amount
    /// [`set_amount`](UsageRecorder::set_amount) gives, capped at the hold, and gives back
    /// the rest. See [`RequestContext::reserve`]; without a hard limit, `units` as is.
    ///
    /// # Errors
    ///
    /// [`FeatureNotEntitled`] (`usage_limit_reached`, with the gate's limit status) when
    /// the request holds nothing and the limit leaves nothing: return it from the handler.
    pub async fn reserve(&self, units: i64) -> Result<i64, FeatureNotEntitled> {
        self.context
            .reserve(units)
            .await
            .map_err(|denial| FeatureNotEntitled::from(Refusal::new(denial, &self.context)))
    }

    /// The amount given to [`set_amount`](UsageRecorder::set_amount), if any.
    pub fn amount(&self) -> Option<i64> {
        self.context.usage_amount()
    }

    /// The customer usage is recorded for.
    pub fn customer_id(&self) -> &str {
        self.context.customer_id()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UsageRecorder {
    type Rejection = UsageRecorderRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UsageRecorder {
            context: request_context(parts)?.clone(),
        })
    }
}
