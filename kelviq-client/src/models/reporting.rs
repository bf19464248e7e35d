//! Answers to usage and event reports.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A usage report as the service recorded it.
///
/// Every field but `value`, `customer_id` and `feature_id` tolerates being absent: the
/// service has already applied the report when this is decoded, and a missing detail must
/// not turn a delivered report into an error that invites a double-counting retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UsageReport {
    /// The value reported.
    pub value: i64,
    /// The customer.
    pub customer_id: String,
    /// The feature.
    pub feature_id: String,
    /// `SET` or `DELTA`, as the service echoed it.
    #[serde(default)]
    pub behaviour: String,
    /// The resource id, if one was given.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The organisation that owns the customer.
    #[serde(default)]
    pub org_id: String,
    /// The event the service recorded (`$usage.reported`).
    #[serde(default)]
    pub event_name: String,
    /// The idempotency key the service assigned.
    #[serde(default)]
    pub idempotency_key: String,
    /// When the service recorded it.
    #[serde(default)]
    pub timestamp: String,
}

/// An event as the service recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventReport {
    /// The customer.
    pub customer_id: String,
    /// The event name.
    pub event_name: String,
    /// The idempotency key that de-duplicates deliveries.
    pub idempotency_key: String,
    /// The event time as sent.
    #[serde(default)]
    pub timestamp: String,
    /// The organisation that owns the customer.
    #[serde(default)]
    pub org_id: String,
    /// The resource id, if one was given.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The properties, if any were given.
    #[serde(default)]
    pub properties: Option<Map<String, Value>>,
}
