//! Checkout sessions.

use serde::{Deserialize, Serialize};

/// A checkout session: send the customer to `checkout_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CheckoutSession {
    /// The session's id.
    pub checkout_session_id: String,
    /// The hosted checkout page.
    pub checkout_url: String,
}
