//! The verified content of a delivery.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::Value;

/// The keys that may name the event type, in the order they are looked up.
const TYPE_KEYS: [&str; 4] = ["type", "event", "eventType", "event_type"];

/// The keys that may hold a customer id, in the order they are looked up.
const CUSTOMER_KEYS: [&str; 2] = ["customerId", "customer_id"];

/// A verified webhook delivery: its id and timestamp from the headers, and its JSON body.
///
/// Kelviq does not document the payload's shape, so the accessors are tolerant guesses:
/// [`event_type`](Self::event_type) reads a `type`, `event`, `eventType` or `event_type`
/// key, [`data`](Self::data) the `data` key (or the whole body without one), and
/// [`customer_id`](Self::customer_id) a `customerId` or `customer_id` key. The whole body is
/// always available as [`raw`](Self::raw); [`data_as`](Self::data_as) deserializes the
/// data into your own type.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    id: String,
    timestamp: SystemTime,
    unix_timestamp: u64,
    raw: Value,
}

impl WebhookEvent {
    pub(super) fn new(id: String, timestamp: SystemTime, unix_timestamp: u64, raw: Value) -> Self {
        WebhookEvent {
            id,
            timestamp,
            unix_timestamp,
            raw,
        }
    }

    /// The delivery id, from the `webhook-id` header. Kelviq may deliver one event more
    /// than once: use it to ignore duplicates.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the delivery was signed, from the `webhook-timestamp` header.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    /// When the delivery was signed, in unix seconds, from the `webhook-timestamp` header.
    pub fn unix_timestamp(&self) -> u64 {
        self.unix_timestamp
    }

    /// The event type (e.g. `subscription.updated`): the first string among the body's
    /// `type`, `event`, `eventType` and `event_type` keys, if any.
    pub fn event_type(&self) -> Option<&str> {
        TYPE_KEYS
            .iter()
            .find_map(|key| self.raw.get(key).and_then(Value::as_str))
    }

    /// The event's data: the body's `data` key when the body is an object that has one,
    /// otherwise the whole body.
    pub fn data(&self) -> &Value {
        self.raw.get("data").unwrap_or(&self.raw)
    }

    /// The customer the event concerns, if the payload names one: a non-empty string at
    /// `customerId` or `customer_id` in [`data`](Self::data), or in a `customer` object
    /// there (`customer.customerId`, `customer.customer_id`), or else the same keys at the
    /// top level of the body.
    ///
    /// Use it to invalidate that customer's cached entitlements.
    pub fn customer_id(&self) -> Option<&str> {
        let data = self.data();
        customer_id_in(data).or_else(|| {
            if std::ptr::eq(data, &self.raw) {
                None
            } else {
                customer_id_in(&self.raw)
            }
        })
    }

    /// The whole JSON body.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The whole JSON body, by value.
    pub fn into_raw(self) -> Value {
        self.raw
    }

    /// Deserializes [`data`](Self::data) into your own type.
    ///
    /// # Errors
    ///
    /// The [`serde_json::Error`] of a data shape that does not fit `T`.
    pub fn data_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        T::deserialize(self.data())
    }
}

/// A non-empty customer id directly in `value`, or in its `customer` object.
fn customer_id_in(value: &Value) -> Option<&str> {
    direct_customer_id(value).or_else(|| value.get("customer").and_then(direct_customer_id))
}

fn direct_customer_id(value: &Value) -> Option<&str> {
    CUSTOMER_KEYS.iter().find_map(|key| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
    })
}
