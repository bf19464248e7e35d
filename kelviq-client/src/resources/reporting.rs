//! `kelviq.reporting()`: report usage of metered features and custom events.

use std::time::SystemTime;

use http::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{customer_id, require};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request, Transport};
use crate::models::{Behaviour, EventReport, UsageReport};

/// Handle for usage and event reporting.
#[derive(Debug, Clone, Copy)]
pub struct ReportingApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`ReportingApi::report_usage`]. Sent camelCase: `value`, `customerId`,
/// `featureId`, `behaviour`, `resourceId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct ReportUsage {
    value: i64,
    customer_id: String,
    feature_id: String,
    behaviour: Behaviour,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
}

impl ReportUsage {
    /// A report of `value` for a customer's feature. A negative `DELTA` is allowed (it
    /// gives usage back), as in the official SDK.
    pub fn new(
        customer_id: impl Into<String>,
        feature_id: impl Into<String>,
        value: i64,
        behaviour: Behaviour,
    ) -> Self {
        ReportUsage {
            value,
            customer_id: customer_id.into(),
            feature_id: feature_id.into(),
            behaviour,
            resource_id: None,
        }
    }

    /// Adds `value` to the recorded usage.
    pub fn delta(
        customer_id: impl Into<String>,
        feature_id: impl Into<String>,
        value: i64,
    ) -> Self {
        ReportUsage::new(customer_id, feature_id, value, Behaviour::Delta)
    }

    /// Replaces the recorded usage with `value`.
    pub fn set(customer_id: impl Into<String>, feature_id: impl Into<String>, value: i64) -> Self {
        ReportUsage::new(customer_id, feature_id, value, Behaviour::Set)
    }

    /// The resource the usage belongs to (default: none).
    pub fn resource_id(mut self, resource_id: impl Into<String>) -> Self {
        self.resource_id = Some(resource_id.into());
        self
    }

    /// The customer.
    pub fn customer_id_value(&self) -> &str {
        &self.customer_id
    }

    /// The feature.
    pub fn feature_id_value(&self) -> &str {
        &self.feature_id
    }

    /// The value.
    pub fn value(&self) -> i64 {
        self.value
    }

    /// How the value applies.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }
}

/// Parameters of [`ReportingApi::report_event`]. Sent camelCase: `customerId`, `eventName`,
/// `idempotencyKey`, `timestamp`, `resourceId`, `properties`.
///
/// The idempotency key defaults to a fresh UUID and the timestamp to now (UTC), so a
/// retried delivery is recognised by the service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct ReportEvent {
    customer_id: String,
    event_name: String,
    idempotency_key: Option<String>,
    timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Map<String, Value>>,
}

impl ReportEvent {
    /// An event named `event_name` for a customer, happening now.
    pub fn new(customer_id: impl Into<String>, event_name: impl Into<String>) -> Self {
        ReportEvent {
            customer_id: customer_id.into(),
            event_name: event_name.into(),
            idempotency_key: None,
            timestamp: None,
            resource_id: None,
            properties: None,
        }
    }

    /// The key that makes deliveries of this event one event (default: a fresh UUID v4,
    /// chosen once per `report_event` call and kept across its retries).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// When the event happened, as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (1 to 6 fraction
    /// digits; checked before sending). Default: now.
    pub fn timestamp(mut self, timestamp: impl Into<String>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// When the event happened. Default: now.
    pub fn at(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(match jiff::Timestamp::try_from(at) {
            Ok(at) => format_timestamp(at),
            // Out of the supported range: keep a value the validation refuses.
            Err(_) => String::new(),
        });
        self
    }

    /// The resource the event concerns (default: none).
    pub fn resource_id(mut self, resource_id: impl Into<String>) -> Self {
        self.resource_id = Some(resource_id.into());
        self
    }

    /// Free-form properties (default: none).
    pub fn properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties = Some(properties);
        self
    }

    /// Fills the idempotency key and timestamp with their defaults if unset, and returns
    /// the key: call it to learn the key before sending.
    pub fn fill_defaults(&mut self) -> &str {
        if self.timestamp.is_none() {
            self.timestamp = Some(format_timestamp(jiff::Timestamp::now()));
        }
        self.idempotency_key
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        require("customer_id", &self.customer_id)?;
        require("event_name", &self.event_name)?;
        if let Some(key) = &self.idempotency_key {
            require("idempotency_key", key)?;
        }
        if let Some(timestamp) = &self.timestamp
            && !is_event_timestamp(timestamp)
        {
            return Err(Error::validation(
                "timestamp",
                format!("\"{timestamp}\" is not in the YYYY-MM-DD HH:MM:SS.ffffff format"),
            ));
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC.
fn format_timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Whether `text` is `YYYY-MM-DD HH:MM:SS.f` with 1 to 6 fraction digits, zero-padded, and
/// names a real date and time.
fn is_event_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() >= 21
        && bytes.len() <= 26
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b' ',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            _ => byte.is_ascii_digit(),
        });
    shape_ok && jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", text).is_ok()
}

impl<'a> ReportingApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        ReportingApi { client }
    }

    /// Reports usage of a metered feature: `POST /report/usage/`.
    ///
    /// Usage reports carry no idempotency key, so a report whose outcome is unknown
    /// (timeout, dropped connection, `502`/`504`) is not retried: the error is returned and
    /// the report may or may not have counted. For at-most-once delivery with coalescing
    /// and visible accounting of such cases, use the usage meter.
    ///
    /// Once Kelviq accepted the report, it is applied to the customer's cached snapshot, if
    /// the entitlement cache is enabled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::ReportUsage;
    ///
    /// let report = kelviq
    ///     .reporting()
    ///     .report_usage(ReportUsage::delta("cust_pro", "api-calls", 1))
    ///     .await?;
    /// assert_eq!(report.value, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty customer or feature id; [`Error::Api`] when the
    /// service refuses it.
    pub async fn report_usage(&self, params: ReportUsage) -> Result<UsageReport> {
        let report = send_usage(self.client.transport(), &params, None, true).await?;
        self.client.cache().apply_usage(
            None,
            &params.customer_id,
            &params.feature_id,
            params.value,
            params.behaviour == Behaviour::Set,
        );
        Ok(report)
    }

    /// Reports an event: `POST /report/event/`. The request carries an idempotency key, so
    /// it is retried even when the outcome of an attempt is unknown.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty customer id, event name or key, or a timestamp
    /// not in the `YYYY-MM-DD HH:MM:SS.ffffff` format.
    pub async fn report_event(&self, params: ReportEvent) -> Result<EventReport> {
        send_event(self.client.transport(), params, None, true).await
    }
}

/// Sends a usage report without touching the entitlement cache (the usage meter applied it
/// when it was recorded), within `deadline` if one is given.
pub(crate) async fn send_usage(
    transport: &Transport,
    params: &ReportUsage,
    deadline: Option<tokio::time::Instant>,
    retry: bool,
) -> Result<UsageReport> {
    customer_id(transport, &params.customer_id)?;
    require("feature_id", &params.feature_id)?;
    let request = Request::new(
        "reporting.report_usage",
        Method::POST,
        Base::Api,
        "/report/usage/",
    )
    .json(params)?
    .deadline(deadline)
    .retry(retry);
    transport.json(request).await
}

/// [`ReportingApi::report_event`] within `deadline`, if one is given.
pub(crate) async fn send_event(
    transport: &Transport,
    mut params: ReportEvent,
    deadline: Option<tokio::time::Instant>,
    retry: bool,
) -> Result<EventReport> {
    params.validate()?;
    customer_id(transport, &params.customer_id)?;
    params.fill_defaults();
    let request = Request::new(
        "reporting.report_event",
        Method::POST,
        Base::Api,
        "/report/event/",
    )
    .json(&params)?
    .replay_safe()
    .deadline(deadline)
    .retry(retry);
    transport.json(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_timestamps() {
        assert!(is_event_timestamp("2025-05-22 08:27:45.123456"));
        assert!(is_event_timestamp("2025-05-22 08:27:45.1"));
        assert!(!is_event_timestamp("2025-05-22 08:27:45"));
        assert!(!is_event_timestamp("2025-05-22T08:27:45.1"));
        assert!(!is_event_timestamp("2025-5-22 08:27:45.1"));
        assert!(!is_event_timestamp("2025-13-22 08:27:45.1"));
        assert!(!is_event_timestamp("2025-05-22 08:27:45.1234567"));
        assert!(is_event_timestamp(
            &format_timestamp(jiff::Timestamp::now())
        ));
    }

    #[test]
    fn defaults_fill_once() {
        let mut event = ReportEvent::new("c", "e");
        let key = event.fill_defaults().to_owned();
        assert_eq!(key.len(), 36);
        assert_eq!(event.fill_defaults(), key);
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(wire["idempotencyKey"], key);
        assert!(is_event_timestamp(wire["timestamp"].as_str().unwrap()));
        assert!(wire.get("resourceId").is_none());
    }
}
