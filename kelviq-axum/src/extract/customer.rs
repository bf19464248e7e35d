//! [`Customer`]: the client scoped to the request's customer.

use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use kelviq_client::{CustomerClient, Kelviq};

use super::context;
use crate::rejection::KelviqRejection;

/// The request's customer and the client scoped to it: `has_access`, `entitlement`,
/// `report_usage`, `record_usage` (with the layer's meter), `report_event`,
/// `subscriptions`, `portal_session`, and `client()` for the whole API.
///
/// ```
/// use kelviq_axum::extract::Customer;
///
/// async fn me(customer: Customer) -> String {
///     let subscriptions = customer.subscriptions().await.map(|page| page.count).unwrap_or(0);
///     format!("{} has {subscriptions} subscription(s)", customer.id())
/// }
/// # let _ = axum::routing::get(me).with_state::<kelviq_client::Kelviq>(kelviq_client::Kelviq::new("k").unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct Customer(pub CustomerClient);

impl Deref for Customer {
    type Target = CustomerClient;

    fn deref(&self) -> &CustomerClient {
        &self.0
    }
}

impl<S> FromRequestParts<S> for Customer
where
    S: Send + Sync,
    Kelviq: FromRef<S>,
{
    type Rejection = KelviqRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        context::customer(parts, state).map(Customer)
    }
}
