//! Customer portal sessions.

use serde::{Deserialize, Serialize};

use super::tolerant::null_as_default;

/// A customer portal session: send the customer to `customer_portal_url`.
///
/// The token and the URL (which carries it) let anyone into the customer's portal: `Debug`
/// prints neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortalSession {
    /// The session token.
    pub token: String,
    /// The customer's email address (empty when the service sends none or `null`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub email: String,
    /// The portal page.
    pub customer_portal_url: String,
}

impl std::fmt::Debug for PortalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSession")
            .field("token", &"***")
            .field("email", &self.email)
            .field("customer_portal_url", &"***")
            .finish()
    }
}
