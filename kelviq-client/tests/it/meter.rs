//! The usage meter: coalescing, delivery rules, accounting, shutdown, the usage ledger,
//! and seeded chaos.
//!
//! The meter runs on tokio's clock: tests whose outcome depends on time (deadlines,
//! backoffs, flush intervals against records) pause it and let it advance on its own while
//! the runtime waits, so they never wait on the wall clock.

use std::collections::BTreeMap;
use std::time::Duration;

use kelviq_client::meter::{MeterConfig, ShutdownReport, UsageMeter};
use kelviq_client::{CacheConfig, Error, Kelviq, KelviqBuilder, ReportEvent, RetryPolicy};
use kelviq_mock::{
    Fault, FaultRule, Feature, MockServer, Plan, RandomFaults, Route, Seed, SeedCustomer,
};

use crate::support::client_for;

/// A meter that flushes every 10 ms and backs off from 1 ms to 20 ms.
fn fast() -> MeterConfig {
    MeterConfig::default()
        .flush_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(20))
}

/// The meter of the client `builder` builds, configured with `config`; the client stays
/// alive in the meter's background task.
fn meter(builder: KelviqBuilder, config: MeterConfig) -> UsageMeter {
    let kelviq = builder.usage_meter(config).build().unwrap();
    kelviq.usage_meter().unwrap().clone()
}

/// Every recorded unit is in exactly one place, each counted on its own, and what is
/// still pending is exactly what the report hands back.
fn balanced(report: &ShutdownReport) {
    let stats = report.stats;
    assert_eq!(
        stats.recorded,
        stats.sent + stats.failed + stats.unknown + stats.pending,
        "{stats:?}"
    );
    let unsent: i128 = report
        .unsent
        .iter()
        .map(|line| i128::from(line.units))
        .sum();
    assert_eq!(stats.pending, unsent, "{stats:?}");
}

#[tokio::test]
async fn ten_thousand_records_of_one_key_are_a_handful_of_reports() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock), MeterConfig::default());
    for _ in 0..10_000 {
        meter.record("cust_free", "api-calls", 1).unwrap();
    }
    let report = meter.shutdown(Duration::from_secs(10)).await;
    balanced(&report);
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 10_000);
    assert_eq!(report.stats.sent, 10_000);
    assert_eq!(report.stats.coalesced, 9_999);
    let reports = mock.calls(Route::ReportUsage);
    assert!((1..=5).contains(&reports), "{reports} reports");
    assert_eq!(report.stats.sent_requests, u64::try_from(reports).unwrap());
    let body = mock.requests(Route::ReportUsage)[0].json().unwrap();
    assert_eq!(body["behaviour"], "DELTA");
}

#[tokio::test]
async fn a_report_refused_before_processing_stays_pending_and_is_retried() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock).retry_policy(RetryPolicy::none()), fast());
    mock.inject(FaultRule::next(1, Fault::status(503)).on(Route::ReportUsage));
    mock.inject(FaultRule::next(1, Fault::rate_limited(0)).on(Route::ReportUsage));
    meter.record("cust_free", "api-calls", 7).unwrap();
    let report = meter.shutdown(Duration::from_secs(10)).await;
    balanced(&report);
    assert_eq!(report.stats.retried, 2);
    assert_eq!(report.stats.sent, 7);
    assert_eq!(mock.calls(Route::ReportUsage), 3);
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 7);
}

#[tokio::test]
async fn an_unknown_outcome_is_counted_and_never_resent() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock), fast());
    mock.inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportUsage));
    meter.record("cust_free", "api-calls", 5).unwrap();
    let report = meter.shutdown(Duration::from_secs(10)).await;
    balanced(&report);
    assert_eq!(report.stats.unknown, 5);
    assert_eq!(report.unknown[0].units, 5);
    assert_eq!(report.unknown[0].customer_id, "cust_free");
    assert_eq!(mock.calls(Route::ReportUsage), 1);
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 5);
}

#[tokio::test]
async fn a_refused_report_is_counted_failed() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock), fast());
    meter.record("cust_free", "reports", 2).unwrap();
    meter.record("cust_free", "api-calls", 3).unwrap();
    let report = meter.shutdown(Duration::from_secs(10)).await;
    balanced(&report);
    assert_eq!(report.stats.failed, 2);
    assert_eq!(report.failed[0].feature_id, "reports");
    assert_eq!(report.stats.sent, 3);
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_what_could_not_be_sent() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock).retry_policy(RetryPolicy::none()), fast());
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::ReportUsage));
    meter.record("cust_free", "api-calls", 4).unwrap();
    meter.record("cust_pro", "api-calls", 6).unwrap();
    let mut report = meter.shutdown(Duration::from_millis(200)).await;
    balanced(&report);
    report
        .unsent
        .sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    let unsent: Vec<(&str, i64)> = report
        .unsent
        .iter()
        .map(|line| (line.customer_id.as_str(), line.units))
        .collect();
    assert_eq!(unsent, [("cust_free", 4), ("cust_pro", 6)]);
    assert_eq!(report.stats.pending, 10);
    assert_eq!(report.stats.sent, 0);
    assert!(matches!(
        meter.record("cust_free", "api-calls", 1),
        Err(Error::MeterClosed)
    ));
    assert!(matches!(
        meter.record("", "api-calls", 1),
        Err(Error::Validation { .. })
    ));
}

#[tokio::test]
async fn recorded_usage_flips_access_before_any_refresh() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).usage_meter(fast()).build().unwrap();
    let meter = kelviq.usage_meter().unwrap();
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    for _ in 0..99 {
        meter.record("cust_free", "api-calls", 1).unwrap();
    }
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    meter.record("cust_free", "api-calls", 1).unwrap();
    assert!(
        !kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    assert_eq!(mock.entitlement_calls("cust_free"), 1);
    meter.shutdown(Duration::from_secs(10)).await;
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 100);
}

#[tokio::test]
async fn events_are_retried_with_their_key_even_when_the_outcome_is_unknown() {
    let mock = MockServer::start().await;
    let meter = meter(client_for(&mock).retry_policy(RetryPolicy::none()), fast());
    mock.inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportEvent));
    let key = meter
        .record_event(ReportEvent::new("cust_pro", "report.exported"))
        .unwrap();
    let report = meter.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.events_sent, 1);
    assert_eq!(report.stats.events_retried, 1);
    let events = mock.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].idempotency_key, key);
    assert_eq!(events[0].deliveries, 2);
}

/// Records `total` units spread over `keys` customers of one metered feature, in small
/// bursts with (virtual) pauses so that many flushes happen, and returns what was recorded
/// per customer.
async fn record_spread(meter: &UsageMeter, keys: usize, total: usize) -> BTreeMap<String, i64> {
    let mut recorded = BTreeMap::new();
    let mut rng = fastrand::Rng::with_seed(20_000);
    for burst in 0..(total / 100) {
        for _ in 0..100 {
            let customer = format!("c{}", rng.usize(..keys));
            meter.record(&customer, "calls", 1).unwrap();
            *recorded.entry(customer).or_insert(0) += 1;
        }
        if burst % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    recorded
}

async fn chaos_mock(keys: usize) -> MockServer {
    let mut seed = Seed::empty().plan(Plan::new("p").feature(Feature::metered("calls")));
    for index in 0..keys {
        seed = seed.customer(SeedCustomer::new(format!("c{index}")).subscribe("p"));
    }
    MockServer::builder().seed(seed).start().await.unwrap()
}

fn per_customer(lines: &[kelviq_client::meter::UsageLine]) -> BTreeMap<String, i64> {
    let mut units = BTreeMap::new();
    for line in lines {
        *units.entry(line.customer_id.clone()).or_insert(0) += line.units;
    }
    units
}

#[tokio::test(start_paused = true)]
async fn chaos_refusals_before_processing_lose_and_duplicate_nothing() {
    let mock = chaos_mock(50).await;
    mock.set_random_faults(
        RandomFaults::new(7)
            .with(0.20, Fault::status(503))
            .with(0.10, Fault::rate_limited(0))
            .on([Route::ReportUsage]),
    );
    let meter = meter(client_for(&mock), fast());
    let recorded = record_spread(&meter, 50, 20_000).await;
    let report = meter.shutdown(Duration::from_secs(60)).await;
    balanced(&report);
    assert_eq!(report.stats.recorded, 20_000);
    assert_eq!(
        (
            report.stats.unknown,
            report.stats.failed,
            report.stats.pending
        ),
        (0, 0, 0)
    );
    for (customer, units) in &recorded {
        assert_eq!(mock.usage_total(customer, "calls"), *units, "{customer}");
    }
    let refused = mock
        .requests(Route::ReportUsage)
        .iter()
        .filter(|request| matches!(request.status(), Some(429 | 503)))
        .count();
    assert!(refused > 0);
}

/// The same accounting with records on several threads at once while the meter's task
/// flushes on another: no clock involved, the tasks only yield between bursts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_records_from_several_threads_lose_and_duplicate_nothing() {
    let mock = chaos_mock(50).await;
    mock.set_random_faults(
        RandomFaults::new(17)
            .with(0.20, Fault::status(503))
            .with(0.10, Fault::rate_limited(0))
            .on([Route::ReportUsage]),
    );
    let meter = meter(client_for(&mock), fast());
    let tasks: Vec<_> = (0..4_u64)
        .map(|task| {
            let meter = meter.clone();
            tokio::spawn(async move {
                let mut recorded = BTreeMap::new();
                let mut rng = fastrand::Rng::with_seed(task);
                for _ in 0..50 {
                    for _ in 0..100 {
                        let customer = format!("c{}", rng.usize(..50));
                        meter.record(&customer, "calls", 1).unwrap();
                        *recorded.entry(customer).or_insert(0) += 1;
                    }
                    tokio::task::yield_now().await;
                }
                recorded
            })
        })
        .collect();
    let mut recorded: BTreeMap<String, i64> = BTreeMap::new();
    for task in tasks {
        for (customer, units) in task.await.unwrap() {
            *recorded.entry(customer).or_insert(0) += units;
        }
    }
    let report = meter.shutdown(Duration::from_secs(60)).await;
    balanced(&report);
    assert_eq!(report.stats.recorded, 20_000);
    assert_eq!(
        (
            report.stats.unknown,
            report.stats.failed,
            report.stats.pending
        ),
        (0, 0, 0)
    );
    for (customer, units) in &recorded {
        assert_eq!(mock.usage_total(customer, "calls"), *units, "{customer}");
    }
}

#[tokio::test(start_paused = true)]
async fn chaos_with_dropped_connections_accounts_for_every_unit() {
    let mock = chaos_mock(50).await;
    mock.set_random_faults(
        RandomFaults::new(11)
            .with(0.20, Fault::status(503))
            .with(0.10, Fault::rate_limited(0))
            .with(0.05, Fault::DropConnection)
            .on([Route::ReportUsage]),
    );
    let meter = meter(client_for(&mock), fast());
    let recorded = record_spread(&meter, 50, 20_000).await;
    let report = meter.shutdown(Duration::from_secs(60)).await;
    balanced(&report);
    assert_eq!(report.stats.pending, 0);
    assert!(report.stats.unknown > 0, "the seed drops some connections");
    // A connection dropped before processing is indistinguishable, for a client, from one
    // dropped after: those units are unknown, never resent. Everything else arrived once.
    let unknown = per_customer(&report.unknown);
    let mut arrived = 0;
    for (customer, units) in &recorded {
        let total = mock.usage_total(customer, "calls");
        assert_eq!(
            total + unknown.get(customer).copied().unwrap_or(0),
            *units,
            "{customer}"
        );
        arrived += total;
    }
    assert_eq!(i128::from(arrived), report.stats.sent);
}

#[tokio::test(start_paused = true)]
async fn chaos_with_applied_then_lost_responses_never_overcounts() {
    let mock = chaos_mock(50).await;
    mock.set_random_faults(
        RandomFaults::new(13)
            .with(0.10, Fault::status(503))
            .with(0.05, Fault::ApplyThenDrop)
            .with(0.03, Fault::ApplyThenDelay(Duration::from_secs(2)))
            .on([Route::ReportUsage]),
    );
    let meter = meter(
        client_for(&mock).timeout(Duration::from_millis(200)),
        fast().concurrency(16),
    );
    let recorded = record_spread(&meter, 50, 20_000).await;
    let report = meter.shutdown(Duration::from_secs(60)).await;
    balanced(&report);
    assert_eq!(report.stats.pending, 0);
    assert!(report.stats.unknown > 0);
    let unknown = per_customer(&report.unknown);
    for (customer, units) in &recorded {
        let unknown = unknown.get(customer).copied().unwrap_or(0);
        let sent = units - unknown;
        let total = mock.usage_total(customer, "calls");
        assert!(
            total >= sent && total <= sent + unknown,
            "{customer}: {total} vs sent {sent} + unknown {unknown}"
        );
        assert!(total <= *units);
    }
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_snapshot_still_counts_usage_not_yet_sent() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock)
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(1)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap();
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    meter.record("cust_free", "api-calls", 100).unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    // The snapshot expired and is refreshed in the background: Kelviq has not seen the 100
    // units yet, and the refreshed snapshot counts them.
    assert!(
        !kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    for _ in 0..1000 {
        if kelviq.cached_entitlements("cust_free").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let refreshed = kelviq.cached_entitlements("cust_free").unwrap();
    assert!(!refreshed.has_access("api-calls"));
    assert_eq!(mock.entitlement_calls("cust_free"), 2);
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 0);
    meter.shutdown(Duration::from_secs(5)).await;
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 100);
}

/// The ledger: units recorded and not yet delivered count in every snapshot fetched
/// meanwhile, and stop counting once delivered (Kelviq's answer has them then).
#[tokio::test]
async fn the_ledger_counts_undelivered_usage_once_and_delivered_usage_never_twice() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock)
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap();
    let remaining = async || {
        kelviq.invalidate_entitlements("cust_free");
        let fetched = kelviq.entitlements_snapshot("cust_free").await.unwrap();
        fetched.snapshot().get("api-calls").unwrap().remaining()
    };
    assert_eq!(remaining().await, Some(100));

    meter.record("cust_free", "api-calls", 30).unwrap();
    meter.record("cust_free", "api-calls", 5).unwrap();
    // Another customer's and another feature's units are not this snapshot's.
    meter.record("cust_pro", "api-calls", 7).unwrap();
    assert_eq!(remaining().await, Some(65), "undelivered units count");
    assert_eq!(remaining().await, Some(65), "and count once per fetch");
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 0);

    meter.flush().await.unwrap();
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 35);
    assert_eq!(meter.stats().pending, 0);
    assert_eq!(
        remaining().await,
        Some(65),
        "delivered units are Kelviq's, not counted again"
    );

    // Units recorded after the delivery count on top of Kelviq's.
    meter.record("cust_free", "api-calls", 10).unwrap();
    assert_eq!(remaining().await, Some(55));
    assert_eq!(mock.entitlement_calls("cust_free"), 5);
    meter.shutdown(Duration::from_secs(5)).await;
    assert_eq!(remaining().await, Some(55));
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 45);
}

#[tokio::test]
async fn the_client_has_one_meter_shared_by_its_clones() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).usage_meter(fast()).build().unwrap();
    let clone = kelviq.clone();
    kelviq
        .usage_meter()
        .unwrap()
        .record("cust_free", "api-calls", 2)
        .unwrap();
    clone
        .usage_meter()
        .unwrap()
        .record("cust_free", "api-calls", 3)
        .unwrap();
    kelviq
        .customer("cust_free")
        .record_usage("api-calls", 4)
        .unwrap();
    assert_eq!(clone.usage_meter().unwrap().stats().recorded, 9);
    let report = clone
        .usage_meter()
        .unwrap()
        .shutdown(Duration::from_secs(5))
        .await;
    assert_eq!(report.stats.sent, 9);
    assert_eq!(
        report.stats.sent_requests, 1,
        "the units coalesced in one meter"
    );
    // The client's meter stays closed after its shutdown.
    assert!(kelviq.usage_meter().unwrap().is_closed());
    assert!(matches!(
        kelviq
            .usage_meter()
            .unwrap()
            .record("cust_free", "api-calls", 1),
        Err(Error::MeterClosed)
    ));
    assert_eq!(mock.usage_total("cust_free", "api-calls"), 9);
}

#[test]
fn the_meter_needs_a_runtime_and_a_valid_config() {
    let outside = Kelviq::new("k").unwrap();
    let error = outside.usage_meter().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("tokio runtime"), "{error}");
    for config in [
        MeterConfig::default().flush_interval(Duration::ZERO),
        MeterConfig::default().concurrency(0),
    ] {
        let error = Kelviq::builder()
            .access_token("k")
            .usage_meter(config)
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("flush interval"), "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_starts_no_wait_past_its_deadline() {
    let mock = MockServer::start().await;
    let meter = meter(
        client_for(&mock),
        MeterConfig::default().flush_interval(Duration::from_secs(3600)),
    );
    mock.inject(FaultRule::always(Fault::rate_limited(30)).on(Route::ReportUsage));
    meter.record("cust_free", "api-calls", 3).unwrap();
    let started = tokio::time::Instant::now();
    let report = meter.shutdown(Duration::from_millis(300)).await;
    balanced(&report);
    // One attempt: waiting 30 s for the retry would outlast the deadline.
    assert_eq!(mock.calls(Route::ReportUsage), 1);
    assert_eq!(report.unsent[0].units, 3);
    assert_eq!(report.stats.unknown, 0);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Below the key cap, each key is sent at most once per flush interval however many keys
/// are in use: nothing flushes early, whatever the number of pending keys.
#[tokio::test(start_paused = true)]
async fn coalescing_holds_at_scale() {
    let keys = 3_000;
    let mock = chaos_mock(keys).await;
    let interval = Duration::from_secs(60);
    let meter = meter(
        client_for(&mock),
        MeterConfig::default()
            .flush_interval(interval)
            .max_reports_per_second(1_000),
    );
    // Three records of every key, spread over most of one interval.
    for round in 0..3 {
        for index in 0..keys {
            meter.record(&format!("c{index}"), "calls", 1).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(
            mock.calls(Route::ReportUsage),
            0,
            "round {round}: nothing sent early"
        );
    }
    // The interval's flush sends each key once (3,000 keys within a 60,000-report budget).
    tokio::time::sleep(Duration::from_secs(20)).await;
    meter.flush().await.unwrap();
    assert_eq!(mock.calls(Route::ReportUsage), keys);
    let stats = meter.stats();
    assert_eq!(stats.sent, i128::try_from(3 * keys).unwrap());
    assert_eq!(stats.sent_requests, u64::try_from(keys).unwrap());
    assert_eq!(stats.coalesced, u64::try_from(2 * keys).unwrap());
    for index in [0, keys / 2, keys - 1] {
        assert_eq!(mock.usage_total(&format!("c{index}"), "calls"), 3);
    }
    balanced(&meter.shutdown(Duration::from_secs(10)).await);
}

/// With more keys than the report budget lets through in a flush interval, each flush
/// sends its budget's worth, longest-waiting keys first; keys wait longer but every unit
/// arrives, once, and the upstream rate stays within the budget.
#[tokio::test(start_paused = true)]
async fn the_report_budget_stretches_delivery_and_keeps_totals_exact() {
    let keys = 500;
    let mock = chaos_mock(keys).await;
    let meter = meter(
        client_for(&mock),
        MeterConfig::default()
            .flush_interval(Duration::from_secs(1))
            .max_reports_per_second(100),
    );
    for index in 0..keys {
        meter.record(&format!("c{index}"), "calls", 2).unwrap();
    }
    // One interval's budget per flush: 100 keys a flush, so 500 keys take five flushes.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(mock.calls(Route::ReportUsage), 100);
    // A key recorded again while waiting coalesces: it still goes once.
    for index in 0..keys {
        meter.record(&format!("c{index}"), "calls", 1).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mock.calls(Route::ReportUsage), 300, "100 a second");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let stats = meter.stats();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert_eq!(stats.sent, i128::try_from(3 * keys).unwrap());
    // 500 first reports, and the 100 keys sent first come back once for their new units.
    assert_eq!(mock.calls(Route::ReportUsage), keys + 100);
    for index in 0..keys {
        assert_eq!(
            mock.usage_total(&format!("c{index}"), "calls"),
            3,
            "c{index}"
        );
    }
    balanced(&meter.shutdown(Duration::from_secs(10)).await);
}
