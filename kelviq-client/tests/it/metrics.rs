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
use kelviq_client::{CacheConfig, ReportUsage, RetryPolicy, telemetry};
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

/// What a debugging recorder saw: each metric's key, unit, description and value.
type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Runs `test` on a current-thread runtime (its clock paused when `paused`) with a
/// debugging recorder local to this thread, and returns what the recorder saw.
fn snapshot<F: Future<Output = ()>>(paused: bool, test: impl FnOnce() -> F) -> Snapshot {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test()));
    snapshotter.snapshot().into_vec()
}

/// Runs `test` on a paused current-thread runtime with a debugging recorder local to this
/// thread, and returns what was recorded.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Recorded {
    snapshot(true, test)
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

/// A client on `mock` whose snapshots turn stale after a second and are answered stale for
/// an hour, flushing its usage every 10 ms, with no retries: the metrics tests' client.
fn stale_prone_client(mock: &MockServer) -> kelviq_client::Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(
            CacheConfig::default()
                .ttl(Duration::from_secs(1))
                .stale_window(Duration::from_secs(3600)),
        )
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .build()
        .unwrap()
}

#[test]
fn a_known_sequence_is_counted() {
    let mut denial_code = "";
    let recorded = recorded(|| async {
        telemetry::describe();
        let mock = MockServer::start().await;
        let kelviq = stale_prone_client(&mock);
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

/// A cold admission its hold refuses counts once, as a reached limit (not as allowed):
/// the loading path counts as the warm one does.
#[test]
fn a_limit_refused_by_its_hold_is_counted_once_as_denied() {
    let recorded = recorded(|| async {
        let seed = kelviq_mock::Seed::empty()
            .plan(
                kelviq_mock::Plan::new("one")
                    .feature(kelviq_mock::Feature::metered("exports").limit(1)),
            )
            .customer(kelviq_mock::SeedCustomer::new("acme").subscribe("one"));
        let mock = MockServer::builder().seed(seed).start().await.unwrap();
        let kelviq = client_for(&mock).build().unwrap();
        let gate = kelviq.gate().meter("exports", 1).build().unwrap();
        // Two requests at once on a cold cache: both load, one holds the only unit.
        let (first, second) = tokio::join!(admit(&gate, "acme"), admit(&gate, "acme"));
        assert_eq!(usize::from(first.is_ok()) + usize::from(second.is_ok()), 1);
    });
    let allowed = counter(
        &recorded,
        telemetry::GATE_DECISIONS,
        &["outcome=allowed", "reason=none"],
    );
    let refused = counter(
        &recorded,
        telemetry::GATE_DECISIONS,
        &["outcome=denied", "reason=usage_limit_reached"],
    );
    assert_eq!((allowed, refused), (1, 1));
}

/// One metric as the recorder saw it: its name, labels, kind, and what `describe` gave it.
#[derive(Debug)]
struct Seen {
    name: String,
    labels: Vec<(String, String)>,
    kind: &'static str,
    unit: Option<&'static str>,
    description: Option<String>,
}

/// Runs `test` on a current-thread runtime (its clock paused when `paused`) with a
/// debugging recorder local to this thread, and returns every metric recorded.
fn seen<F: Future<Output = ()>>(paused: bool, test: impl FnOnce() -> F) -> Vec<Seen> {
    snapshot(paused, test)
        .into_iter()
        .map(|(key, unit, description, _)| {
            let kind = match key.kind() {
                metrics_util::MetricKind::Counter => "counter",
                metrics_util::MetricKind::Gauge => "gauge",
                metrics_util::MetricKind::Histogram => "histogram",
            };
            let key = key.key();
            Seen {
                name: key.name().to_owned(),
                labels: key
                    .labels()
                    .map(|label| (label.key().to_owned(), label.value().to_owned()))
                    .collect(),
                kind,
                unit: unit.map(|unit| unit.as_str()),
                description: description.map(|text| text.to_string()),
            }
        })
        .collect()
}

/// A row of the table in `kelviq_client::telemetry`'s documentation.
struct Row {
    kind: String,
    unit: String,
    labels: String,
}

/// The table in `kelviq_client::telemetry`'s documentation, read from its source, by
/// metric name.
fn table() -> HashMap<String, Row> {
    let source = include_str!("../../src/telemetry.rs");
    let mut rows = HashMap::new();
    for line in source.lines() {
        let Some(row) = line.strip_prefix("//! | `kelviq_") else {
            continue;
        };
        // An escaped `\|` separates label values, not cells.
        let row = row.replace("\\|", "/");
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let [name, kind, unit, labels, what, ..] = cells[..] else {
            panic!("a row of the metrics table without five cells: {line}");
        };
        assert!(!what.is_empty(), "{name}: the row says nothing");
        let name = format!("kelviq_{}", name.trim_end_matches('`'));
        let row = Row {
            kind: kind.to_owned(),
            unit: unit.to_owned(),
            labels: labels.to_owned(),
        };
        assert!(rows.insert(name.clone(), row).is_none(), "{name} twice");
    }
    rows
}

/// Asserts every metric in `seen` has a description with the unit and a row in the
/// telemetry table with its type, unit and labels (each label's values listed, but for
/// `route`, the open set of operations).
fn assert_documented(seen: &[Seen]) {
    let table = table();
    for metric in seen {
        let name = &metric.name;
        let row = table
            .get(name)
            .unwrap_or_else(|| panic!("{name} is emitted but not in the telemetry table"));
        assert!(
            metric
                .description
                .as_deref()
                .is_some_and(|text| !text.is_empty()),
            "{name} is emitted without a description (telemetry::describe)"
        );
        assert_eq!(row.kind, metric.kind, "{name}: the table's type");
        assert_eq!(Some(row.unit.as_str()), metric.unit, "{name}: the unit");
        for (key, value) in &metric.labels {
            assert!(
                row.labels.contains(&format!("`{key}`")),
                "{name}: the label {key} is not in the table"
            );
            assert!(
                key == "route" || row.labels.contains(&format!("`{value}`")),
                "{name}: the value {key}={value} is not in the table"
            );
        }
    }
}

#[test]
fn every_metric_emitted_is_described_and_in_the_table() {
    let seen = seen(true, || async {
        telemetry::describe();
        let mock = MockServer::start().await;
        let kelviq = stale_prone_client(&mock);
        let gate = kelviq.gate().require("reports").build().unwrap();
        // Allowed (a miss, then a hit), every kind of denial the gate decides alone.
        admit(&gate, "cust_pro").await.unwrap();
        admit(&gate, "cust_pro").await.unwrap();
        admit(&gate, "cust_free").await.unwrap_err();
        admit(&gate, "nobody").await.unwrap_err();
        admit(&gate, &"c".repeat(1024)).await.unwrap_err();
        let _ = gate.admit(None);
        let limited = kelviq.gate().require("api-calls").build().unwrap();
        kelviq
            .reporting()
            .report_usage(ReportUsage::delta("cust_free", "api-calls", 1_000))
            .await
            .unwrap();
        admit(&limited, "cust_free").await.unwrap_err();
        kelviq.customers().retrieve("cust_pro").await.unwrap();
        // Reports sent, retried (429), refused (400) and unknown (dropped).
        let meter = kelviq.usage_meter().unwrap().clone();
        meter.record("cust_pro", "api-calls", 2).unwrap();
        meter.flush().await.unwrap();
        mock.inject(FaultRule::next(1, Fault::status(429)).on(Route::ReportUsage));
        meter.record("cust_pro", "api-calls", 1).unwrap();
        meter.flush().await.unwrap();
        mock.inject(FaultRule::next(1, Fault::status(400)).on(Route::ReportUsage));
        meter.record("cust_free", "api-calls", 1).unwrap();
        meter.flush().await.unwrap();
        // Kelviq down: stale answers, load errors, unavailable and fallback decisions.
        tokio::time::advance(Duration::from_secs(3)).await;
        mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
        let _ = kelviq.entitlements_snapshot("cust_pro").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = kelviq.entitlements_snapshot("cust_pro").await;
        admit(&gate, "cust_new").await.unwrap_err();
        let open = kelviq
            .gate()
            .require("reports")
            .failure_policy(kelviq_client::gate::FailurePolicy::Allow)
            .build()
            .unwrap();
        admit(&open, "cust_other").await.unwrap();
        mock.inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportUsage));
        meter.record("cust_pro", "api-calls", 3).unwrap();
        meter.shutdown(Duration::from_secs(10)).await;
    });
    let names: std::collections::BTreeSet<&str> =
        seen.iter().map(|metric| metric.name.as_str()).collect();
    // The run reaches every metric of the cache, the gate, the meter and the transport.
    for name in [
        telemetry::CACHE_HITS,
        telemetry::CACHE_MISSES,
        telemetry::CACHE_STALE_ANSWERS,
        telemetry::CACHE_LOAD_ERRORS,
        telemetry::CACHE_CUSTOMERS,
        telemetry::GATE_DECISIONS,
        telemetry::METER_UNITS_RECORDED,
        telemetry::METER_UNITS_SENT,
        telemetry::METER_UNITS_FAILED,
        telemetry::METER_UNITS_UNKNOWN,
        telemetry::METER_REPORTS_SENT,
        telemetry::METER_REPORTS_RETRIED,
        telemetry::METER_REPORTS_FAILED,
        telemetry::METER_REPORTS_UNKNOWN,
        telemetry::METER_PENDING_KEYS,
        telemetry::METER_PENDING_UNITS,
        telemetry::UPSTREAM_REQUEST_DURATION,
    ] {
        assert!(names.contains(name), "{name} not emitted: {names:?}");
    }
    assert_documented(&seen);
}

#[cfg(feature = "redis")]
#[test]
fn every_fleet_metric_emitted_is_described_and_in_the_table() {
    use kelviq_client::fleet::{self, FleetConfig, FleetLimits};
    use kelviq_mock::RedisServer;

    use crate::fleet::{member_with, prefix, strict_gate};

    let Some(redis) = RedisServer::shared() else {
        return;
    };
    // Real time: the members talk to a real Redis.
    let seen = seen(false, || async {
        telemetry::describe();
        let mock = MockServer::start().await;
        let prefix = prefix("metrics");
        let one = member_with(&mock, FleetConfig::redis(redis.url()).prefix(&prefix));
        let two = member_with(&mock, FleetConfig::redis(redis.url()).prefix(&prefix));
        // Snapshots loaded and shared; reservations granted, kept and released.
        let gate = strict_gate(&one);
        let context = admit(&gate, "cust_pro").await.unwrap();
        gate.finish(&context, 200, None);
        let context = admit(&gate, "cust_pro").await.unwrap();
        gate.finish(&context, 500, None);
        two.entitlements_snapshot("cust_pro").await.unwrap();
        // An invalidation, sent by one and received by the other.
        one.invalidate_entitlements("cust_pro");
        for _ in 0..500 {
            if two.fleet_stats().unwrap().invalidations_received > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Fast limits sync.
        let fast = member_with(
            &mock,
            FleetConfig::redis(redis.url())
                .prefix(&prefix)
                .sync_interval(Duration::from_millis(10)),
        );
        let fast_gate = fast
            .gate()
            .require("api-calls")
            .meter("api-calls", 1)
            .fleet_limits(FleetLimits::Fast)
            .build()
            .unwrap();
        let context = admit(&fast_gate, "cust_pro").await.unwrap();
        fast_gate.finish(&context, 200, None);
        for _ in 0..500 {
            if fast.fleet_stats().unwrap().limit_syncs > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // A member whose Redis is gone: errors, fallbacks, the subscriber reconnecting.
        let lost = member_with(
            &mock,
            FleetConfig::redis("redis://127.0.0.1:1").prefix(&prefix),
        );
        let lost_gate = strict_gate(&lost);
        let context = admit(&lost_gate, "cust_free").await.unwrap();
        lost_gate.finish(&context, 200, None);
        for kelviq in [one, two, fast, lost] {
            kelviq
                .usage_meter()
                .unwrap()
                .shutdown(Duration::from_secs(5))
                .await;
        }
    });
    let names: std::collections::BTreeSet<&str> =
        seen.iter().map(|metric| metric.name.as_str()).collect();
    for name in [
        fleet::FLEET_SNAPSHOTS,
        fleet::FLEET_RESERVATIONS,
        fleet::FLEET_INVALIDATIONS,
        fleet::FLEET_REDIS_ERRORS,
        fleet::FLEET_LIMIT_SYNCS,
        fleet::FLEET_SUBSCRIBER_CONNECTED,
        telemetry::METER_UNITS_PUSHED,
    ] {
        assert!(names.contains(name), "{name} not emitted: {names:?}");
    }
    assert_documented(&seen);
}

/// Every `counter!`, `gauge!` and `histogram!` in the sources that emit metrics, read
/// statically: each name constant has a row, and each literal label value is listed in it
/// (values no run reaches easily, such as `cancelled` and `expired` holds, included).
#[test]
fn every_metric_in_the_source_is_in_the_table() {
    let sources = [
        include_str!("../../src/telemetry.rs"),
        include_str!("../../src/fleet/stats.rs"),
    ];
    let constants: HashMap<&str, &str> = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            Some((name, value.strip_suffix("\";")?))
        })
        .collect();
    let table = table();
    let mut checked = 0;
    for source in sources {
        for (index, _) in source.match_indices("!(") {
            let before = &source[..index];
            let kind = ["counter", "gauge", "histogram"]
                .into_iter()
                .find(|kind| before.ends_with(kind) && !before.ends_with(&format!("_{kind}")));
            let Some(kind) = kind else { continue };
            let call = &source[index + 2..];
            let call = &call[..call.find(')').unwrap()];
            let constant = call.split(',').next().unwrap().trim();
            let name = constants
                .get(constant)
                .unwrap_or_else(|| panic!("{kind}!({call}): not a name constant"));
            let row = table
                .get(*name)
                .unwrap_or_else(|| panic!("{name} is emitted but not in the telemetry table"));
            assert_eq!(row.kind, kind, "{name}: the table's type");
            for pair in call.split(',').skip(1) {
                let Some((key, value)) = pair.split_once("=>") else {
                    continue;
                };
                let key = key.trim().trim_matches('"');
                assert!(
                    row.labels.contains(&format!("`{key}`")),
                    "{name}: label {key}"
                );
                let value = value.trim();
                if let Some(value) = value.strip_prefix('"') {
                    let value = value.trim_end_matches('"');
                    assert!(
                        row.labels.contains(&format!("`{value}`")),
                        "{name}: the value {key}={value} is not in the table"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} metric calls found");
}
