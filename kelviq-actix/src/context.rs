//! What the middleware leaves in the request for guards, extractors and handlers, and what
//! handlers leave for the middleware to meter. The data types are `kelviq_client::gate`'s,
//! shared with the tower/axum adapter.

use std::ops::Deref;

use actix_web::HttpMessage;
use kelviq_client::gate::RequestContext;

pub use kelviq_client::gate::{CustomerId, UsageAmount};

/// Inserted into the request extensions by the [`KelviqMiddleware`](crate::KelviqMiddleware)
/// once it lets a customer through: the customer id, the entitlement snapshot, the client
/// and the meter (see [`RequestContext`] for the accessors). Guards and the extractors of
/// this crate read it; handlers can take it as an extractor too.
///
/// Cheap to clone: reference counts only.
#[derive(Clone, Debug)]
pub struct KelviqContext(pub RequestContext);

impl KelviqContext {
    /// The context the middleware stored in `request`, if it ran and let the request
    /// through.
    pub fn of(request: &impl HttpMessage) -> Option<KelviqContext> {
        request.extensions().get::<KelviqContext>().cloned()
    }
}

impl Deref for KelviqContext {
    type Target = RequestContext;

    fn deref(&self) -> &RequestContext {
        &self.0
    }
}
