//! Customer objects.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A customer.
///
/// Both the camelCase keys the service documents and the snake_case ones are accepted.
/// Unlike the official SDK, a response without an `email` key is accepted (as `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Customer {
    /// Kelviq's id for the customer (a UUID).
    #[serde(default)]
    pub id: String,
    /// Your id for the customer.
    #[serde(alias = "customer_id")]
    pub customer_id: String,
    /// The email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Your metadata.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Details Kelviq keeps (billing address and the like).
    #[serde(default)]
    pub details: Option<Value>,
    /// When it was created (ISO 8601).
    #[serde(default, alias = "created_on")]
    pub created_on: Option<String>,
    /// When it was last modified (ISO 8601).
    #[serde(default, alias = "modified_on")]
    pub modified_on: Option<String>,
}

/// The answer to an archive request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArchivedCustomer {
    /// The service's message (`Customer archived successfully.` when it sent none).
    pub message: String,
}
