//! What the middleware leaves in the request for guards, extractors and handlers, and what
//! handlers leave for the middleware to meter.

use std::sync::Arc;

use actix_web::HttpMessage;
use kelviq_client::cache::Snapshot;
use kelviq_client::meter::UsageMeter;
use kelviq_client::{CustomerClient, Kelviq};

/// A customer id as an authentication middleware inserts it into the request extensions
/// (`req.extensions_mut().insert(CustomerId::new(..))`): the
/// [`KelviqMiddleware`](crate::KelviqMiddleware)'s default customer source.
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

/// Inserted into the request extensions by the [`KelviqMiddleware`](crate::KelviqMiddleware)
/// once it lets a customer through: the customer id, the entitlement snapshot, the client
/// and the meter. Guards and the extractors of this crate read it; handlers can take it as
/// an extractor too (or as `web::ReqData<KelviqContext>`).
///
/// Cheap to clone: reference counts only.
#[derive(Clone, Debug)]
pub struct KelviqContext {
    customer_id: Arc<str>,
    snapshot: Option<Arc<Snapshot>>,
    stale: bool,
    kelviq: Kelviq,
    meter: UsageMeter,
}

impl KelviqContext {
    pub(crate) fn new(
        customer_id: Arc<str>,
        snapshot: Option<Arc<Snapshot>>,
        stale: bool,
        kelviq: Kelviq,
        meter: UsageMeter,
    ) -> Self {
        KelviqContext {
            customer_id,
            snapshot,
            stale,
            kelviq,
            meter,
        }
    }

    /// The context the middleware stored in `request`, if it ran and let the request
    /// through.
    pub fn of(request: &impl HttpMessage) -> Option<KelviqContext> {
        request.extensions().get::<KelviqContext>().cloned()
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// The customer's entitlement snapshot; `None` only when Kelviq could not be reached
    /// and the middleware let the request through unchecked
    /// ([`FailurePolicy::Allow`](kelviq_client::gate::FailurePolicy::Allow)).
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Whether the snapshot is stale: Kelviq could not be reached and the last known
    /// entitlements were used.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The client.
    pub fn kelviq(&self) -> &Kelviq {
        &self.kelviq
    }

    /// The usage meter.
    pub fn meter(&self) -> &UsageMeter {
        &self.meter
    }

    /// The client scoped to this customer, recording usage with the middleware's meter.
    pub fn customer(&self) -> CustomerClient {
        self.kelviq
            .customer(Arc::clone(&self.customer_id))
            .with_meter(self.meter.clone())
    }
}

/// The amount to meter for this request instead of the middleware's configured one (the
/// number of rows exported, say).
///
/// A handler puts it into the response extensions
/// (`response.extensions_mut().insert(UsageAmount(250))`), or sets it with
/// [`UsageRecorder::set_amount`](crate::UsageRecorder::set_amount) (which works with any
/// responder); the response's wins when both are set. It is read only when the response is a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageAmount(pub i64);
