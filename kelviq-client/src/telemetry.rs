//! Metrics an operator can scrape: counters, gauges and histograms recorded through the
//! [`metrics`](https://docs.rs/metrics) facade when the cargo feature `metrics` is on.
//!
//! The application picks the exporter (Prometheus, StatsD, OpenTelemetry…) by installing a
//! `metrics` recorder; without one, or without the feature, nothing is recorded and
//! nothing is paid: with the feature off every hook below is an empty inline function.
//! Call [`describe`] once after installing the recorder to give each metric its help
//! text and unit.
//!
//! Labels are bounded sets: never a customer id, a feature id or a filled path.
//!
//! Every metric the crate emits, with its type, its unit (as given to [`describe`]) and its
//! labels; the `kelviq_fleet_*` ones only with the cargo feature `redis`, in a
//! [fleet](crate::fleet). A test fails when a metric is emitted without a row here or
//! without a description.
//!
//! | Name | Type | Unit | Labels | What |
//! | --- | --- | --- | --- | --- |
//! | `kelviq_cache_hits_total` | counter | count | | Checks answered with a fresh cached snapshot (no I/O). |
//! | `kelviq_cache_misses_total` | counter | count | | Checks with no usable snapshot: they waited for a load (or its backoff's error). Every check counts here when the client has no cache. |
//! | `kelviq_cache_stale_answers_total` | counter | count | `freshness` = `refreshing` \| `stale` | Checks answered with a snapshot past its TTL: `refreshing` while a background refresh runs, `stale` because Kelviq could not be reached. |
//! | `kelviq_cache_load_errors_total` | counter | count | `kind` = `timeout` \| `transport` \| `rate_limited` \| `server` \| `unknown_customer` \| `other` | Snapshot loads that failed. |
//! | `kelviq_cache_customers` | gauge | count | | Customers with a snapshot in the cache, updated as snapshots are stored. |
//! | `kelviq_gate_decisions_total` | counter | count | `outcome` = `allowed` \| `denied` \| `unavailable` \| `fallback`; `reason` = `none` \| `missing_customer` \| `invalid_customer` \| `feature_not_entitled` \| `usage_limit_reached` \| `unknown_customer` \| `kelviq_unavailable` (the [`DenialReason`] codes), or `other` for a reason without a label of its own | Gate decisions. `fallback`: decided while Kelviq could not answer, on the fallback entitlements or let through by [`FailurePolicy::Allow`](crate::gate::FailurePolicy::Allow). |
//! | `kelviq_meter_units_recorded_total` | counter | count | | Units recorded by the usage meter. |
//! | `kelviq_meter_units_sent_total` | counter | count | | Units Kelviq confirmed (and, in a fleet, units handed to the fleet's Redis). |
//! | `kelviq_meter_units_pushed_total` | counter | count | | In a fleet (cargo feature `redis`): units handed to the fleet's Redis as durable usage, delivered to Kelviq by whichever instance holds the delivery lease; counted in `kelviq_meter_units_sent_total` too. |
//! | `kelviq_meter_units_failed_total` | counter | count | | Units Kelviq refused (`4xx`). |
//! | `kelviq_meter_units_unknown_total` | counter | count | | Units whose report may or may not have counted (never resent). |
//! | `kelviq_meter_reports_sent_total` | counter | count | | Usage reports Kelviq confirmed. |
//! | `kelviq_meter_reports_retried_total` | counter | count | | Usage reports refused before processing and kept to be retried. |
//! | `kelviq_meter_reports_failed_total` | counter | count | | Usage reports Kelviq refused. |
//! | `kelviq_meter_reports_unknown_total` | counter | count | | Usage reports with an unknown outcome. |
//! | `kelviq_meter_pending_keys` | gauge | count | | (customer, feature) keys waiting to be reported. |
//! | `kelviq_meter_pending_units` | gauge | count | | Units recorded and not yet settled (waiting or in flight). |
//! | `kelviq_upstream_request_duration_seconds` | histogram | seconds | `route` = the operation, `<resource>.<call>` (`entitlements.get`, `reporting.report_usage`, `customers.retrieve`…); `result` = `ok` \| `error` | Time of one API call to Kelviq, retries included. |
//! | `kelviq_fleet_snapshots_total` | counter | count | `source` = `redis` \| `loaded` \| `fallback` | Entitlement snapshots had through the fleet: taken from Redis (`redis`, loaded by another instance or earlier by this one), loaded from Kelviq holding the fleet's lease and stored (`loaded`), or loaded alone because Redis failed or was too slow (`fallback`). |
//! | `kelviq_fleet_reservations_total` | counter | count | `result` = `granted` \| `refused` \| `released` \| `cancelled` \| `expired` \| `fallback` | Strict-limit reservations: `granted` or `refused` (the limit reached fleet-wide) by Redis; `released` (the response was no success, or was dropped); `cancelled` (given back by the guard of an admission dropped before it handed them over); `expired` (holds whose lease ran out, returned to the limit); `fallback` (decided locally because Redis failed or was too slow). |
//! | `kelviq_fleet_invalidations_total` | counter | count | `direction` = `sent` \| `received` | Invalidations this instance published (a webhook, an explicit invalidate), and those received from other instances and applied. |
//! | `kelviq_fleet_redis_errors_total` | counter | count | | Redis commands that failed or timed out, each followed by a fallback. |
//! | `kelviq_fleet_limit_syncs_total` | counter | count | `result` = `synced` \| `fallback` | Fast-limit sync pipelines: answered by Redis (`synced`), or failed, timed out or refused for a key, the limits staying local (`fallback`). |
//! | `kelviq_fleet_subscriber_reconnects_total` | counter | count | | Times the fleet's subscriber (re)subscribed after a failure or a disconnect; each time the local cache was emptied, since invalidations may have been missed. |
//! | `kelviq_fleet_subscriber_connected` | gauge | count | | 1 while the fleet's subscriber is subscribed to its channel, 0 while it reconnects (it then misses invalidations); with several fleet clients in one process, how many are subscribed. |
//!
//! Unit counters are monotonic: negative amounts (credits) are not counted in them;
//! [`MeterStats`](crate::meter::MeterStats) has the exact signed totals.
//!
//! ```
//! # fn main() {
//! // Once, at startup, after installing the application's recorder:
//! kelviq_client::telemetry::describe();
//! # }
//! ```

#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use std::time::Duration;

use crate::error::Error;
use crate::gate::DenialReason;

/// Checks answered with a fresh cached snapshot.
pub const CACHE_HITS: &str = "kelviq_cache_hits_total";
/// Checks with no usable snapshot.
pub const CACHE_MISSES: &str = "kelviq_cache_misses_total";
/// Checks answered with a snapshot past its TTL (label `freshness`).
pub const CACHE_STALE_ANSWERS: &str = "kelviq_cache_stale_answers_total";
/// Snapshot loads that failed (label `kind`).
pub const CACHE_LOAD_ERRORS: &str = "kelviq_cache_load_errors_total";
/// Customers with a cached snapshot.
pub const CACHE_CUSTOMERS: &str = "kelviq_cache_customers";
/// Gate decisions (labels `outcome`, `reason`).
pub const GATE_DECISIONS: &str = "kelviq_gate_decisions_total";
/// Units recorded by the usage meter.
pub const METER_UNITS_RECORDED: &str = "kelviq_meter_units_recorded_total";
/// Units Kelviq confirmed.
pub const METER_UNITS_SENT: &str = "kelviq_meter_units_sent_total";
/// Units handed to a fleet's Redis (durable usage; counted in the units sent too).
pub const METER_UNITS_PUSHED: &str = "kelviq_meter_units_pushed_total";
/// Units Kelviq refused.
pub const METER_UNITS_FAILED: &str = "kelviq_meter_units_failed_total";
/// Units with an unknown outcome.
pub const METER_UNITS_UNKNOWN: &str = "kelviq_meter_units_unknown_total";
/// Usage reports Kelviq confirmed.
pub const METER_REPORTS_SENT: &str = "kelviq_meter_reports_sent_total";
/// Usage reports kept to be retried.
pub const METER_REPORTS_RETRIED: &str = "kelviq_meter_reports_retried_total";
/// Usage reports Kelviq refused.
pub const METER_REPORTS_FAILED: &str = "kelviq_meter_reports_failed_total";
/// Usage reports with an unknown outcome.
pub const METER_REPORTS_UNKNOWN: &str = "kelviq_meter_reports_unknown_total";
/// Keys waiting to be reported.
pub const METER_PENDING_KEYS: &str = "kelviq_meter_pending_keys";
/// Units recorded and not yet settled.
pub const METER_PENDING_UNITS: &str = "kelviq_meter_pending_units";
/// Time of one API call, retries included (labels `route`, `result`).
pub const UPSTREAM_REQUEST_DURATION: &str = "kelviq_upstream_request_duration_seconds";

/// How a report to the meter was settled, for its counters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Report {
    Sent,
    Retried,
    Failed,
    Unknown,
}

/// A gate decision's outcome, for [`GATE_DECISIONS`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Allowed,
    Denied,
    Unavailable,
    Fallback,
}

/// Gives every metric its help text and unit, on the recorder installed now. Does nothing
/// without the `metrics` feature.
pub fn describe() {
    #[cfg(feature = "metrics")]
    on::describe();
}

#[cfg(feature = "metrics")]
mod on {
    use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

    use super::*;

    pub(super) fn describe() {
        let counters = [
            (CACHE_HITS, "Checks answered with a fresh cached snapshot"),
            (CACHE_MISSES, "Checks with no usable cached snapshot"),
            (
                CACHE_STALE_ANSWERS,
                "Checks answered with a snapshot past its TTL",
            ),
            (CACHE_LOAD_ERRORS, "Entitlement snapshot loads that failed"),
            (GATE_DECISIONS, "Gate decisions by outcome and reason"),
        ];
        for (name, help) in counters {
            describe_counter!(name, Unit::Count, help);
        }
        let units = [
            (METER_UNITS_RECORDED, "Usage units recorded"),
            (METER_UNITS_SENT, "Usage units Kelviq confirmed"),
            (
                METER_UNITS_PUSHED,
                "Usage units handed to the fleet's Redis (durable usage)",
            ),
            (METER_UNITS_FAILED, "Usage units Kelviq refused"),
            (METER_UNITS_UNKNOWN, "Usage units with an unknown outcome"),
        ];
        for (name, help) in units {
            describe_counter!(name, Unit::Count, help);
        }
        let reports = [
            (METER_REPORTS_SENT, "Usage reports Kelviq confirmed"),
            (METER_REPORTS_RETRIED, "Usage reports kept to be retried"),
            (METER_REPORTS_FAILED, "Usage reports Kelviq refused"),
            (
                METER_REPORTS_UNKNOWN,
                "Usage reports with an unknown outcome",
            ),
        ];
        for (name, help) in reports {
            describe_counter!(name, Unit::Count, help);
        }
        describe_gauge!(
            CACHE_CUSTOMERS,
            Unit::Count,
            "Customers with a cached snapshot"
        );
        describe_gauge!(
            METER_PENDING_KEYS,
            Unit::Count,
            "Usage keys waiting to be reported"
        );
        describe_gauge!(
            METER_PENDING_UNITS,
            Unit::Count,
            "Usage units recorded and not yet settled"
        );
        #[cfg(feature = "redis")]
        crate::fleet::describe_metrics();
        describe_histogram!(
            UPSTREAM_REQUEST_DURATION,
            Unit::Seconds,
            "Time of one Kelviq API call, retries included"
        );
    }

    #[inline]
    pub(crate) fn cache_hit() {
        counter!(CACHE_HITS).increment(1);
    }

    #[inline]
    pub(crate) fn cache_miss() {
        counter!(CACHE_MISSES).increment(1);
    }

    #[inline]
    pub(crate) fn cache_stale_answer(refreshing: bool) {
        if refreshing {
            counter!(CACHE_STALE_ANSWERS, "freshness" => "refreshing").increment(1);
        } else {
            counter!(CACHE_STALE_ANSWERS, "freshness" => "stale").increment(1);
        }
    }

    pub(crate) fn cache_load_error(error: &Error) {
        let kind = load_error_kind(error);
        counter!(CACHE_LOAD_ERRORS, "kind" => kind).increment(1);
    }

    fn load_error_kind(error: &Error) -> &'static str {
        match error {
            Error::Timeout { .. } => "timeout",
            Error::Transport { .. } => "transport",
            Error::Api(api) if api.status == http::StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            Error::Api(api) if api.status == http::StatusCode::NOT_FOUND => "unknown_customer",
            Error::Api(api) if api.status.is_server_error() => "server",
            Error::Shared(inner) => load_error_kind(inner),
            _ => "other",
        }
    }

    /// Sets the cached-customers gauge to what `count` says (only called with the feature).
    pub(crate) fn cache_customers(count: impl FnOnce() -> u64) {
        #[allow(clippy::cast_precision_loss)]
        gauge!(CACHE_CUSTOMERS).set(count() as f64);
    }

    #[inline]
    pub(crate) fn gate_decision(outcome: Outcome, reason: Option<DenialReason>) {
        // Literal labels only: each key is a `static`, so the warm path allocates nothing.
        macro_rules! decision {
            ($outcome:literal) => {
                match reason.map(DenialReason::code) {
                    None => counter!(GATE_DECISIONS, "outcome" => $outcome, "reason" => "none"),
                    Some("missing_customer") => {
                        counter!(GATE_DECISIONS, "outcome" => $outcome, "reason" => "missing_customer")
                    }
                    Some("invalid_customer") => {
                        counter!(GATE_DECISIONS, "outcome" => $outcome, "reason" => "invalid_customer")
                    }
                    Some("feature_not_entitled") => counter!(
                        GATE_DECISIONS, "outcome" => $outcome, "reason" => "feature_not_entitled"
                    ),
                    Some("usage_limit_reached") => counter!(
                        GATE_DECISIONS, "outcome" => $outcome, "reason" => "usage_limit_reached"
                    ),
                    Some("unknown_customer") => {
                        counter!(GATE_DECISIONS, "outcome" => $outcome, "reason" => "unknown_customer")
                    }
                    Some("kelviq_unavailable") => counter!(
                        GATE_DECISIONS, "outcome" => $outcome, "reason" => "kelviq_unavailable"
                    ),
                    Some(_) => counter!(GATE_DECISIONS, "outcome" => $outcome, "reason" => "other"),
                }
                .increment(1)
            };
        }
        match outcome {
            Outcome::Allowed => decision!("allowed"),
            Outcome::Denied => decision!("denied"),
            Outcome::Unavailable => decision!("unavailable"),
            Outcome::Fallback => decision!("fallback"),
        }
    }

    fn units(value: i128) -> u64 {
        u64::try_from(value).unwrap_or(if value > 0 { u64::MAX } else { 0 })
    }

    #[inline]
    pub(crate) fn meter_recorded(amount: i128) {
        counter!(METER_UNITS_RECORDED).increment(units(amount));
    }

    pub(crate) fn meter_report(report: Report, amount: i128) {
        let amount = units(amount);
        match report {
            Report::Sent => {
                counter!(METER_REPORTS_SENT).increment(1);
                counter!(METER_UNITS_SENT).increment(amount);
            }
            Report::Retried => counter!(METER_REPORTS_RETRIED).increment(1),
            Report::Failed => {
                counter!(METER_REPORTS_FAILED).increment(1);
                counter!(METER_UNITS_FAILED).increment(amount);
            }
            Report::Unknown => {
                counter!(METER_REPORTS_UNKNOWN).increment(1);
                counter!(METER_UNITS_UNKNOWN).increment(amount);
            }
        }
    }

    /// Units that ended unknown without a report of their own (the task stopped, or a
    /// push to a fleet's Redis never answered).
    pub(crate) fn meter_lost(amount: i128) {
        counter!(METER_UNITS_UNKNOWN).increment(units(amount));
    }

    /// Units handed to a fleet's Redis: sent, as far as this instance is concerned.
    pub(crate) fn meter_pushed(amount: i128) {
        counter!(METER_UNITS_SENT).increment(units(amount));
        counter!(METER_UNITS_PUSHED).increment(units(amount));
    }

    #[inline]
    pub(crate) fn meter_pending(keys: usize, units: i128) {
        #[allow(clippy::cast_precision_loss)]
        {
            gauge!(METER_PENDING_KEYS).set(keys as f64);
            gauge!(METER_PENDING_UNITS).set(units as f64);
        }
    }

    pub(crate) fn upstream_request(route: &'static str, ok: bool, elapsed: Duration) {
        let result = if ok { "ok" } else { "error" };
        metrics::histogram!(UPSTREAM_REQUEST_DURATION, "route" => route, "result" => result)
            .record(elapsed);
    }
}

#[cfg(feature = "metrics")]
pub(crate) use on::*;

#[cfg(not(feature = "metrics"))]
mod off {
    use super::*;

    #[inline(always)]
    pub(crate) fn cache_hit() {}
    #[inline(always)]
    pub(crate) fn cache_miss() {}
    #[inline(always)]
    pub(crate) fn cache_stale_answer(_refreshing: bool) {}
    #[inline(always)]
    pub(crate) fn cache_load_error(_error: &Error) {}
    #[inline(always)]
    pub(crate) fn cache_customers(_count: impl FnOnce() -> u64) {}
    #[inline(always)]
    pub(crate) fn gate_decision(_outcome: Outcome, _reason: Option<DenialReason>) {}
    #[inline(always)]
    pub(crate) fn meter_recorded(_amount: i128) {}
    #[inline(always)]
    pub(crate) fn meter_report(_report: Report, _amount: i128) {}
    #[inline(always)]
    pub(crate) fn meter_lost(_amount: i128) {}

    pub(crate) fn meter_pushed(_amount: i128) {}
    #[inline(always)]
    pub(crate) fn meter_pending(_keys: usize, _units: i128) {}
    #[inline(always)]
    pub(crate) fn upstream_request(_route: &'static str, _ok: bool, _elapsed: Duration) {}
}

#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;
