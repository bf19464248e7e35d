//! [`UsageRecorder`]: record usage of the request's customer from a handler.

use axum::extract::FromRequestParts;
use http::request::Parts;
use kelviq_client::meter::UsageMeter;

use super::context;
use crate::rejection::KelviqRejection;

/// Records usage of the request's customer with the layer's meter, for amounts only the
/// handler knows (or use a [`UsageAmount`](kelviq_tower::UsageAmount) response extension
/// with the layer's `meter`, which also skips failed responses).
///
/// ```
/// use kelviq_axum::extract::UsageRecorder;
///
/// async fn export(usage: UsageRecorder) -> &'static str {
///     let rows = 120;
///     let _ = usage.record("exported-rows", rows);
///     "exported"
/// }
/// # let _ = axum::routing::post(export).with_state::<()>(());
/// ```
#[derive(Debug, Clone)]
pub struct UsageRecorder {
    customer_id: std::sync::Arc<str>,
    meter: UsageMeter,
}

impl UsageRecorder {
    /// Records `amount` units of `feature` for the request's customer, without waiting.
    ///
    /// # Errors
    ///
    /// As [`UsageMeter::record`].
    pub fn record(&self, feature_id: &str, amount: i64) -> kelviq_client::Result<()> {
        self.meter.record(&self.customer_id, feature_id, amount)
    }

    /// The customer usage is recorded for.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UsageRecorder {
    type Rejection = KelviqRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = context::from_layer(parts)?;
        let meter = context.meter().ok_or(KelviqRejection::MissingMeter)?;
        Ok(UsageRecorder {
            customer_id: context.customer_id().into(),
            meter: meter.clone(),
        })
    }
}
