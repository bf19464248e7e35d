//! What the layer leaves in the request for handlers, and what handlers leave in the
//! response for the layer.

use std::sync::Arc;

use kelviq_client::cache::Snapshot;
use kelviq_client::meter::UsageMeter;
use kelviq_client::{CustomerClient, Kelviq};

/// Inserted into the request extensions by the layer once the customer is let through.
#[derive(Clone, Debug)]
pub struct KelviqContext {
    customer_id: Arc<str>,
    snapshot: Option<Arc<Snapshot>>,
    stale: bool,
    kelviq: Kelviq,
    meter: Option<UsageMeter>,
}

impl KelviqContext {
    /// A context, as the layer builds it; for integrations that load entitlements
    /// themselves (the extractors of kelviq-axum do without the layer).
    pub fn new(
        customer_id: Arc<str>,
        snapshot: Option<Arc<Snapshot>>,
        stale: bool,
        kelviq: Kelviq,
        meter: Option<UsageMeter>,
    ) -> Self {
        KelviqContext {
            customer_id,
            snapshot,
            stale,
            kelviq,
            meter,
        }
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// The customer's entitlements snapshot; `None` when Kelviq was unreachable and the
    /// layer let the request through (fail open).
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

    /// The usage meter, if the layer has one.
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

/// Put into the response extensions by a handler to meter this amount instead of the
/// layer's configured one (e.g. the number of rows exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageAmount(pub i64);
