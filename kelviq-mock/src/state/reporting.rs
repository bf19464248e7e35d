//! Usage reports and events, as the mock received them.
//!
//! The usage totals are kept exact per customer and feature; the reports themselves are a
//! log for tests to read, a ring of the last [`USAGE_REPORT_CAPACITY`], so that a fake
//! under load does not grow without bound.

use serde_json::{Map, Value};

use super::State;

/// How many usage reports the mock keeps ([`MockServer::usage_reports`]); older ones are
/// dropped first, their units still counted in
/// [`MockServer::usage_total`].
///
/// [`MockServer::usage_reports`]: crate::MockServer::usage_reports
/// [`MockServer::usage_total`]: crate::MockServer::usage_total
pub const USAGE_REPORT_CAPACITY: usize = 10_000;

/// A usage report the mock accepted (`POST /report/usage/`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UsageReport {
    /// The customer id.
    pub customer_id: String,
    /// The feature id.
    pub feature_id: String,
    /// The reported value.
    pub value: i64,
    /// `SET` or `DELTA`.
    pub behaviour: String,
    /// The optional resource id.
    pub resource_id: Option<String>,
    /// The idempotency key the mock generated for it.
    pub idempotency_key: String,
    /// When it was accepted (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC).
    pub timestamp: String,
}

/// An event the mock accepted (`POST /report/event/`), stored once per idempotency key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredEvent {
    /// The customer id.
    pub customer_id: String,
    /// The event name.
    pub event_name: String,
    /// The idempotency key that de-duplicates deliveries.
    pub idempotency_key: String,
    /// The timestamp as sent.
    pub timestamp: String,
    /// The optional resource id.
    pub resource_id: Option<String>,
    /// The optional properties object.
    pub properties: Option<Map<String, Value>>,
    /// How many times it was delivered (1 + the de-duplicated repeats).
    pub deliveries: u32,
}

impl State {
    /// Applies a usage report: `DELTA` adds, `SET` replaces.
    pub(crate) fn apply_usage(&mut self, report: UsageReport) {
        let key = (report.customer_id.clone(), report.feature_id.clone());
        let current = self.usage.entry(key).or_insert(0);
        if report.behaviour == "SET" {
            *current = report.value;
        } else {
            *current = current.saturating_add(report.value);
        }
        if self.usage_reports.len() >= USAGE_REPORT_CAPACITY {
            self.usage_reports.pop_front();
        }
        self.usage_reports.push_back(report);
    }

    /// The stored event with this idempotency key, counting one more delivery.
    pub(crate) fn redeliver_event(&mut self, idempotency_key: &str) -> Option<&StoredEvent> {
        let event = self
            .events
            .iter_mut()
            .find(|event| event.idempotency_key == idempotency_key)?;
        event.deliveries += 1;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn the_report_log_is_a_ring_and_the_total_stays_exact() {
        let mut state = State::from_seed(&Seed::empty(), 1, "http://127.0.0.1:1".to_owned());
        for value in 0..USAGE_REPORT_CAPACITY + 5 {
            state.apply_usage(UsageReport {
                customer_id: "c".to_owned(),
                feature_id: "calls".to_owned(),
                value: 1,
                behaviour: "DELTA".to_owned(),
                resource_id: None,
                idempotency_key: value.to_string(),
                timestamp: String::new(),
            });
        }
        assert_eq!(state.usage_reports.len(), USAGE_REPORT_CAPACITY);
        assert_eq!(
            state
                .usage_reports
                .front()
                .map(|r| r.idempotency_key.as_str()),
            Some("5")
        );
        assert_eq!(
            state.usage_of("c", "calls"),
            i64::try_from(USAGE_REPORT_CAPACITY + 5).unwrap()
        );
    }
}
