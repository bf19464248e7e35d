//! [`Customer`]: the client scoped to the request's customer.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use kelviq_client::CustomerClient;
use kelviq_client::gate::RequestContext;

use super::context::request_context;
use crate::rejection::CustomerRejection;

kelviq_client::__extractor! {
    /// The request's customer and the client scoped to it: `has_access`, `entitlement`,
    /// `report_usage`, `record_usage` (with the client's meter), `report_event`,
    /// `subscriptions`, `portal_session`, and `client()` for the whole API.
    /// Dereferences to [`CustomerClient`].
    ///
    /// Made from the layer's context, without I/O. Without the layer in front of the route:
    /// `500` `kelviq_layer_missing`; as `Option<Customer>` it is then `None`.
    ///
    /// ```
    /// use kelviq_axum::prelude::*;
    ///
    /// async fn me(customer: Customer) -> String {
    ///     let subscriptions = customer.subscriptions().await.map(|page| page.count).unwrap_or(0);
    ///     format!("{} has {subscriptions} subscription(s)", customer.id())
    /// }
    /// # let _: axum::routing::MethodRouter = axum::routing::get(me);
    /// ```
    Customer(CustomerClient)
}

impl<S: Send + Sync> FromRequestParts<S> for Customer {
    type Rejection = CustomerRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Customer(request_context(parts)?.customer()))
    }
}

/// `None` when no Kelviq layer ran in front of the route.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Customer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .map(|context| Customer(context.customer())))
    }
}
