//! Metrics through the `metrics` facade (cargo feature `metrics`): a known sequence of
//! checks, decisions and reports, counted by a debugging recorder.
//!
//! The recorder is local to the test's thread (`metrics::with_local_recorder`) and the
//! runtime is a current-thread one driven on that thread, so the client's background tasks
//! (cache loads, the meter) record into it too, and tests running in parallel on other
//! threads never do.

use std::collections::HashMap;
use std::time::Duration;

use kelviq_client::gate::{Admission, Denial, Gate, RequestContext};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, RetryPolicy, telemetry};
use kelviq_mock::{Fault, FaultRule, MockServer, Route};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::support::client_for;

/// What a gate admits for `customer`, as an adapter gets it.
async fn admit(gate: &Gate, customer: &str) -> Result<RequestContext, Denial> {
    match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    }
}

/// The recorded values by name and sorted `key=value` labels.
type Recorded = HashMap<(String, Vec<String>), DebugValue>;

fn counter(recorded: &Recorded, name: &str, labels: &[&str]) -> u64 {
    let mut labels: Vec<String> = labels.iter().map(|label| (*label).to_owned()).collect();
    labels.sort();
    match recorded.get(&(name.to_owned(), labels)) {
        Some(DebugValue::Counter(value)) => *value,
        None => 0,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
    }
}

/// Runs `test` on a paused current-thread runtime with a debugging recorder local to this
/// thread, and returns what was recorded.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test()));
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

#[test]
fn a_known_sequence_is_counted() {
    let mut denial_code = "";
    let recorded = recorded(|| async {
        telemetry::describe();
        let mock = MockServer::start().await;
        let kelviq = client_for(&mock)
            .retry_policy(RetryPolicy::none())
            .entitlement_cache(
                CacheConfig::default()
                    .ttl(Duration::from_secs(1))
                    .stale_window(Duration::from_secs(3600)),
            )
            .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
            .build()
            .unwrap();
        let gate = kelviq.gate().require("reports").build().unwrap();
        // A miss (loaded), then a hit: both allowed.
        admit(&gate, "cust_pro").await.unwrap();
        admit(&gate, "cust_pro").await.unwrap();
        // A miss, denied: the free plan has no reports.
        denial_code = admit(&gate, "cust_free").await.unwrap_err().code();
        // A report sent.
        let meter = kelviq.usage_meter().unwrap().clone();
        meter.record("cust_pro", "api-calls", 2).unwrap();
        meter.flush().await.unwrap();
        // Past the TTL with Kelviq down: a stale answer while the refresh runs, then (the
        // refresh failed) stale answers with its error.
        tokio::time::advance(Duration::from_secs(3)).await;
        mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
        let answer = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
        assert!(answer.is_stale());
        for _ in 0..1000 {
            if mock.entitlement_calls("cust_pro") == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut stale = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
        for _ in 0..100 {
            if matches!(stale.freshness(), kelviq_client::cache::Freshness::Stale(_)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            stale = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
        }
        // A report whose outcome is unknown: applied, then the connection dropped.
        mock.inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportUsage));
        meter.record("cust_pro", "api-calls", 3).unwrap();
        let report = meter.shutdown(Duration::from_secs(10)).await;
        assert_eq!(report.stats.unknown, 3);
    });

    assert_eq!(counter(&recorded, telemetry::CACHE_HITS, &[]), 1);
    assert_eq!(counter(&recorded, telemetry::CACHE_MISSES, &[]), 2);
    assert_eq!(
        counter(
            &recorded,
            telemetry::CACHE_STALE_ANSWERS,
            &["freshness=refreshing"]
        ),
        1
    );
    assert!(
        counter(
            &recorded,
            telemetry::CACHE_STALE_ANSWERS,
            &["freshness=stale"]
        ) >= 1
    );
    assert_eq!(
        counter(&recorded, telemetry::CACHE_LOAD_ERRORS, &["kind=server"]),
        1
    );
    assert_eq!(
        counter(
            &recorded,
            telemetry::GATE_DECISIONS,
            &["outcome=allowed", "reason=none"]
        ),
        2
    );
    assert_eq!(denial_code, "feature_not_entitled");
    assert_eq!(
        counter(
            &recorded,
            telemetry::GATE_DECISIONS,
            &["outcome=denied", "reason=feature_not_entitled"]
        ),
        1
    );
    assert_eq!(counter(&recorded, telemetry::METER_UNITS_RECORDED, &[]), 5);
    assert_eq!(counter(&recorded, telemetry::METER_REPORTS_SENT, &[]), 1);
    assert_eq!(counter(&recorded, telemetry::METER_UNITS_SENT, &[]), 2);
    assert_eq!(counter(&recorded, telemetry::METER_REPORTS_UNKNOWN, &[]), 1);
    assert_eq!(counter(&recorded, telemetry::METER_UNITS_UNKNOWN, &[]), 3);
    assert_eq!(counter(&recorded, telemetry::METER_REPORTS_RETRIED, &[]), 0);
    assert!(matches!(
        recorded.get(&(
            telemetry::METER_PENDING_UNITS.to_owned(),
            Vec::new()
        )),
        Some(DebugValue::Gauge(units)) if units.0 == 0.0
    ));
    assert!(matches!(
        recorded.get(&(telemetry::CACHE_CUSTOMERS.to_owned(), Vec::new())),
        Some(DebugValue::Gauge(customers)) if customers.0 == 2.0
    ));
    // Upstream latency per operation, never per customer.
    let latency = |route: &str, result: &str| {
        let labels = vec![format!("result={result}"), format!("route={route}")];
        match recorded.get(&(telemetry::UPSTREAM_REQUEST_DURATION.to_owned(), labels)) {
            Some(DebugValue::Histogram(samples)) => samples.len(),
            _ => 0,
        }
    };
    assert_eq!(latency("entitlements.get", "ok"), 2);
    assert_eq!(latency("entitlements.get", "error"), 1);
    assert_eq!(latency("reporting.report_usage", "ok"), 1);
    assert_eq!(latency("reporting.report_usage", "error"), 1);
    assert!(
        recorded
            .keys()
            .all(|(_, labels)| labels.iter().all(|label| !label.contains("cust_"))),
        "no customer id in a label"
    );
}
