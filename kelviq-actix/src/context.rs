//! [`KelviqContext`]: what the middleware leaves in a request it let through — the
//! [`RequestContext`] of [`kelviq_client::gate`], the same type the tower and axum
//! integrations store — as an extractor.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use kelviq_client::gate::RequestContext;

use crate::rejection::MissingKelviqLayer;

kelviq_client::__extractor! {
    /// The [`RequestContext`] the [`KelviqMiddleware`](crate::KelviqMiddleware) stored in the
    /// request extensions when it let the customer through: the customer id, the entitlement
    /// snapshot, the client and its usage meter (it dereferences to the context). Guards and
    /// the other extractors of this crate read the same context.
    ///
    /// As an extractor it answers `500` `kelviq_layer_missing` ([`MissingKelviqLayer`]) without
    /// the middleware; `Option<KelviqContext>` is `None` instead. `web::ReqData<RequestContext>`
    /// reads the same value.
    ///
    /// Cheap to clone: one reference count.
    ///
    /// ```
    /// use kelviq_actix::prelude::*;
    ///
    /// async fn whoami(context: KelviqContext) -> String {
    ///     format!("{} (stale: {})", context.customer_id(), context.is_stale())
    /// }
    /// # let _ = actix_web::web::get().to(whoami);
    /// ```
    KelviqContext(RequestContext)
}

impl KelviqContext {
    /// The context the middleware stored in `request` (an `HttpRequest` or a
    /// `ServiceRequest`), if it ran and let the request through.
    pub fn of(request: &impl HttpMessage) -> Option<KelviqContext> {
        request
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .map(KelviqContext)
    }
}

impl FromRequest for KelviqContext {
    type Error = MissingKelviqLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(KelviqContext::of(request).ok_or_else(MissingKelviqLayer::default))
    }
}
