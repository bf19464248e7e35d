//! What the framework adapters leave in a request for handlers, and what handlers leave in
//! a response for the adapters: the same types for tower/axum and actix-web.

use std::sync::Arc;

use crate::cache::Snapshot;
use crate::client::Kelviq;
use crate::customer_client::CustomerClient;
use crate::meter::UsageMeter;

/// The customer id of the current request, as an authentication layer or middleware
/// inserts it into the request extensions: the adapters' default customer source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerId(pub Arc<str>);

impl CustomerId {
    /// A customer id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        CustomerId(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CustomerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Put into the response extensions by a handler to meter this amount instead of the
/// route's configured one (the number of rows exported, say). Read only when the response
/// is a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageAmount(pub i64);

/// What an adapter knows of a request it let through: the customer, the entitlement
/// snapshot, the client and the meter. Cheap to clone: reference counts only.
#[derive(Clone, Debug)]
pub struct RequestContext {
    customer_id: Arc<str>,
    snapshot: Option<Arc<Snapshot>>,
    stale: bool,
    kelviq: Kelviq,
    meter: Option<UsageMeter>,
    limit_reached_status: u16,
}

impl RequestContext {
    /// A context for a customer let through with this snapshot (`None` when Kelviq was
    /// unreachable and the failure policy let the request through).
    pub fn new(
        customer_id: Arc<str>,
        snapshot: Option<Arc<Snapshot>>,
        stale: bool,
        kelviq: Kelviq,
        meter: Option<UsageMeter>,
    ) -> Self {
        RequestContext {
            customer_id,
            snapshot,
            stale,
            kelviq,
            meter,
            limit_reached_status: 403,
        }
    }

    /// The status the adapter answers a reached usage limit with (default `403`), so that
    /// extractors refuse exactly as the layer would.
    #[must_use]
    pub fn with_limit_reached_status(mut self, status: u16) -> Self {
        self.limit_reached_status = status;
        self
    }

    /// The status of a "usage limit reached" refusal on this request.
    pub fn limit_reached_status(&self) -> u16 {
        self.limit_reached_status
    }

    /// Judges one feature against the snapshot as the adapter's gate would (see
    /// [`evaluate_feature`](super::evaluate_feature)), with this request's limit status.
    /// `None` when there is no snapshot (Kelviq unreachable, request let through).
    pub fn evaluate_feature(&self, feature_id: &str) -> Option<Result<(), super::Denial>> {
        self.snapshot.as_ref().map(|snapshot| {
            super::requirement::evaluate_feature_with(
                snapshot,
                feature_id,
                self.limit_reached_status,
            )
        })
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// The customer's entitlement snapshot; `None` when Kelviq was unreachable and the
    /// request was let through (fail open).
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Whether the snapshot is stale (Kelviq unreachable, last known state served).
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The client.
    pub fn kelviq(&self) -> &Kelviq {
        &self.kelviq
    }

    /// The usage meter, if the adapter has one.
    pub fn meter(&self) -> Option<&UsageMeter> {
        self.meter.as_ref()
    }

    /// The client scoped to this customer (with the meter, if any).
    pub fn customer(&self) -> CustomerClient {
        let customer = self.kelviq.customer(Arc::clone(&self.customer_id));
        match &self.meter {
            Some(meter) => customer.with_meter(meter.clone()),
            None => customer,
        }
    }
}

/// The JSON body of an error answer that is not a [`Denial`](super::Denial) (a
/// misconfiguration, a missing layer, an invalid webhook), in the same shape:
/// `{"error": code, "message": message, "feature": null}`.
pub fn error_body(code: &str, message: &str) -> String {
    let code = serde_json::Value::String(code.to_owned());
    let message = serde_json::Value::String(message.to_owned());
    format!("{{\"error\":{code},\"message\":{message},\"feature\":null}}")
}
