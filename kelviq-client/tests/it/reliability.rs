//! The usage meter under hostile input, a refusing or silent Kelviq, and shutdown: no
//! panic, no wrap, no unit missing, a deadline kept, memory bounded.
//!
//! Time-dependent tests run on tokio's paused clock: `Instant`s below are virtual time.

use std::fmt::Write as _;
use std::time::Duration;

use kelviq_client::gate::{Admission, DenialReason, Gate, Metered, RequestContext, UsageAmount};
use kelviq_client::meter::{MeterConfig, MeterStats, ShutdownReport};
use kelviq_client::{Error, Kelviq, ReportEvent, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, MockServer, Route, SeedCustomer};
use proptest::prelude::*;
use tokio::time::Instant;

use crate::support::client_for;

/// Every recorded unit is in exactly one place, and what is pending is exactly what the
/// report hands back unsent.
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

fn balance_holds(stats: &MeterStats) -> bool {
    stats.recorded == stats.sent + stats.failed + stats.unknown + stats.pending
}

async fn admit(gate: &Gate, customer: &str) -> Result<RequestContext, kelviq_client::gate::Denial> {
    match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    }
}

#[tokio::test(start_paused = true)]
async fn meter_survives_hostile_input() {
    let mock = MockServer::builder()
        .customer(SeedCustomer::new("cust_big").subscribe("free"))
        .start()
        .await
        .unwrap();
    let kelviq = client_for(&mock)
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap().clone();
    let gate = kelviq
        .gate()
        .require("api-calls")
        .meter("api-calls", 1)
        .build()
        .unwrap();
    // Warm snapshots: the free plan has a hard limit of 100 api-calls.
    admit(&gate, "cust_free").await.unwrap();
    admit(&gate, "cust_big").await.unwrap();
    let pro = admit(&gate, "cust_pro").await.unwrap();

    // A 429 whose Retry-After is the largest number a header can carry.
    mock.inject(FaultRule::next(1, Fault::rate_limited(u64::MAX)).on(Route::ReportUsage));
    meter.record("cust_pro", "api-calls", 2).unwrap();
    meter.flush().await.unwrap();
    let stats = meter.stats();
    assert_eq!(
        (stats.retried, stats.pending, stats.sent),
        (1, 2, 0),
        "{stats:?}"
    );
    assert!(!stats.stopped);

    // The largest amounts, twice on one key (beyond one report) and once on another.
    meter.record("cust_free", "api-calls", i64::MAX).unwrap();
    meter.record("cust_free", "api-calls", i64::MAX).unwrap();
    meter.record("cust_big", "api-calls", i64::MAX).unwrap();

    // Negative per-response amounts: refused, counted, nothing metered.
    assert!(matches!(
        gate.finish(&pro, 200, Some(UsageAmount(-5))),
        Metered::Refused { amount: -5 }
    ));
    pro.set_usage_amount(i64::MIN);
    assert!(matches!(
        gate.finish(&pro, 200, None),
        Metered::Refused { amount: i64::MIN }
    ));
    assert_eq!(meter.stats().refused_amounts, 2);

    // Usage recorded after the fault, on the key in backoff.
    meter.record("cust_pro", "api-calls", 3).unwrap();

    // The hard limit still denies: the usage saturated, it did not wrap round.
    for customer in ["cust_free", "cust_big"] {
        let denial = admit(&gate, customer).await.unwrap_err();
        assert_eq!(denial.reason(), DenialReason::LimitReached, "{customer}");
    }
    assert!(admit(&gate, "cust_pro").await.is_ok());

    let started = Instant::now();
    let report = meter.shutdown(Duration::from_secs(600)).await;
    // The Retry-After was capped (at a minute), not honoured for 584 billion years.
    assert!(
        started.elapsed() <= Duration::from_secs(61),
        "{:?}",
        started.elapsed()
    );
    balanced(&report);
    let stats = report.stats;
    let max = i128::from(i64::MAX);
    assert_eq!(stats.recorded, 2 + 3 + 3 * max);
    assert_eq!(stats.sent, stats.recorded, "{stats:?}");
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.refused_amounts, 2);
    assert!(report.unsent.is_empty());
    // Once healthy, the mock got what was recorded after the fault (12 seeded + 2 + 3).
    assert_eq!(mock.usage_total("cust_pro", "api-calls"), 12 + 2 + 3);
    assert_eq!(mock.usage_total("cust_free", "api-calls"), i64::MAX);
    assert_eq!(mock.usage_total("cust_big", "api-calls"), i64::MAX);
    // One refused report, then cust_pro once, cust_free in two reports, cust_big once.
    assert_eq!(mock.calls(Route::ReportUsage), 1 + 1 + 2 + 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_respects_deadline() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock)
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap().clone();
    // Kelviq is down: reports hang for an hour.
    mock.inject(FaultRule::always(Fault::Delay(Duration::from_secs(3600))).on(Route::ReportUsage));
    let mut id = String::new();
    for index in 0..10_000 {
        id.clear();
        write!(id, "cust_{index}").unwrap();
        meter.record(&id, "api-calls", 1).unwrap();
    }
    // A periodic flush is under way, stuck on the silent Kelviq, when the shutdown comes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(meter.stats().pending_keys < 10_000, "a flush took the keys");

    let started = Instant::now();
    let report = meter.shutdown(Duration::from_secs(1)).await;
    let elapsed = started.elapsed();
    assert!(elapsed <= Duration::from_millis(1200), "{elapsed:?}");

    balanced(&report);
    let stats = report.stats;
    assert_eq!(stats.recorded, 10_000);
    assert_eq!(stats.sent, 0);
    // Every line is in the report: never sent (unsent) or cut in flight (unknown).
    assert_eq!(report.unsent.len() + report.unknown.len(), 10_000);
    assert_eq!(stats.pending + stats.unknown, 10_000);
    assert_eq!(
        i128::try_from(report.unknown.len()).unwrap(),
        stats.unknown,
        "{stats:?}"
    );
    assert!(stats.unknown <= 8, "at most the concurrency is in flight");
    assert!(meter.is_closed());
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_an_enormous_deadline_does_not_panic() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).build().unwrap();
    let meter = kelviq.usage_meter().unwrap();
    meter.record("cust_free", "api-calls", 1).unwrap();
    let report = meter.shutdown(Duration::MAX).await;
    balanced(&report);
    assert_eq!(report.stats.sent, 1);
}

#[tokio::test(start_paused = true)]
async fn pending_is_bounded() {
    const N: usize = 100;
    let mock = MockServer::start().await;
    // Kelviq refuses everything before processing: nothing leaves the pending set.
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::ReportUsage));
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::ReportEvent));
    let kelviq = client_for(&mock)
        .retry_policy(RetryPolicy::none())
        .usage_meter(
            MeterConfig::default()
                .flush_interval(Duration::from_secs(3600))
                .max_keys(N)
                .max_events(3),
        )
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap();
    for index in 0..N {
        meter.record(&format!("c{index}"), "api-calls", 1).unwrap();
    }
    let full = meter.record("one-too-many", "api-calls", 1).unwrap_err();
    assert!(
        matches!(
            full,
            Error::MeterFull {
                what: "keys",
                limit: N
            }
        ),
        "{full:?}"
    );
    let stats = meter.stats();
    assert_eq!((stats.refused, stats.pending_keys), (1, 100));
    // Keys already pending still coalesce.
    meter.record("c0", "api-calls", 5).unwrap();

    // A million new keys later, the set holds the same keys: flat memory.
    let mut id = String::new();
    for index in 0..1_000_000u32 {
        id.clear();
        write!(id, "x{index}").unwrap();
        assert!(matches!(
            meter.record(&id, "api-calls", 1),
            Err(Error::MeterFull { .. })
        ));
        if index % 100_000 == 0 {
            assert_eq!(meter.stats().pending_keys, 100);
        }
    }
    let stats = meter.stats();
    assert_eq!(stats.refused, 1_000_001);
    assert_eq!(stats.pending_keys, 100);
    assert_eq!(stats.recorded, 100 + 5);
    assert_eq!(stats.pending, 100 + 5);
    assert!(balance_holds(&stats));

    // A refused delivery puts the keys back: still every unit, still full (keys in
    // flight — an early flush may be under way — count against the cap too).
    meter.flush().await.unwrap();
    let stats = meter.stats();
    assert!(stats.retried >= 100, "{stats:?}");
    assert_eq!(stats.pending, 105, "{stats:?}");
    assert!(stats.pending_keys <= 100, "{stats:?}");
    assert!(balance_holds(&stats));
    assert!(meter.record("late", "api-calls", 1).is_err());

    // Events have their own cap.
    for _ in 0..3 {
        meter
            .record_event(ReportEvent::new("cust_free", "signup"))
            .unwrap();
    }
    let full = meter
        .record_event(ReportEvent::new("cust_free", "signup"))
        .unwrap_err();
    assert!(
        matches!(
            full,
            Error::MeterFull {
                what: "events",
                limit: 3
            }
        ),
        "{full:?}"
    );
    assert_eq!(meter.stats().events_refused, 1);

    let report = meter.shutdown(Duration::from_millis(100)).await;
    balanced(&report);
    // Nothing pending was lost: every key, with every unit, comes back unsent.
    assert_eq!(report.unsent.len(), N);
    assert_eq!(report.stats.pending, 105);
    assert_eq!(report.unsent_events.len(), 3);
}

#[test]
fn a_meter_whose_task_is_gone_refuses_records_and_says_so() {
    let mock_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mock = mock_runtime.block_on(MockServer::start());
    let kelviq = client_for(&mock).build().unwrap();
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let meter = first.block_on(async {
        let meter = kelviq.usage_meter().unwrap().clone();
        meter.record("cust_free", "api-calls", 3).unwrap();
        tokio::task::yield_now().await;
        meter
    });
    // The runtime the task ran on stops: the task is gone without a shutdown.
    drop(first);
    assert!(matches!(
        meter.record("cust_free", "api-calls", 1),
        Err(Error::MeterStopped)
    ));
    let stats = meter.stats();
    assert!(stats.stopped);
    assert_eq!(stats.pending, 3);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        assert!(matches!(meter.flush().await, Err(Error::MeterStopped)));
        let report = meter.shutdown(Duration::from_secs(1)).await;
        balanced(&report);
        assert_eq!(report.unsent[0].units, 3);
    });
    assert!(matches!(
        meter.record("cust_free", "api-calls", 1),
        Err(Error::MeterClosed)
    ));
    drop(mock_runtime);
}

#[test]
fn meter_durations_build_or_fail_never_panic() {
    let long = Duration::from_secs(24 * 60 * 60 + 1);
    for config in [
        MeterConfig::default().flush_interval(Duration::MAX),
        MeterConfig::default().flush_interval(long),
        MeterConfig::default().retry_backoff(Duration::MAX, Duration::MAX),
        MeterConfig::default().retry_backoff(Duration::ZERO, Duration::MAX),
        MeterConfig::default().max_keys(0),
        MeterConfig::default().max_events(0),
    ] {
        let error = Kelviq::builder()
            .access_token("k")
            .usage_meter(config)
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
    }
}

/// Amounts mixing the extremes with ordinary values.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0),
        Just(-1),
        -1_000i64..1_000,
        any::<i64>(),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..120_000).prop_map(Duration::from_millis),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
    ]
}

#[test]
fn hostile_values_never_panic_or_wrap() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let mock = runtime.block_on(MockServer::start());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        proptest::collection::vec((0usize..4, amount()), 1..12),
        prop_oneof![Just(u64::MAX), any::<u64>(), 0u64..120],
        (duration(), duration(), duration(), duration()),
        proptest::collection::vec(amount(), 0..4),
    );
    runner
        .run(
            &strategy,
            |(records, retry_after, (interval, initial, max, deadline), responses)| {
                runtime.block_on(async {
                    one_hostile_case(
                        &mock,
                        &records,
                        retry_after,
                        [interval, initial, max],
                        deadline,
                        &responses,
                    )
                    .await;
                });
                Ok(())
            },
        )
        .unwrap();
}

async fn one_hostile_case(
    mock: &MockServer,
    records: &[(usize, i64)],
    retry_after: u64,
    [interval, initial, max]: [Duration; 3],
    deadline: Duration,
    responses: &[i64],
) {
    const KEYS: [(&str, &str); 4] = [
        ("cust_free", "api-calls"),
        ("cust_pro", "api-calls"),
        ("cust_free", "seats"),
        ("cust_pro", "reports"),
    ];
    let config = MeterConfig::default()
        .flush_interval(interval)
        .retry_backoff(initial, max);
    let kelviq = match client_for(mock).usage_meter(config).build() {
        Ok(kelviq) => kelviq,
        Err(error) => {
            assert!(matches!(error, Error::Config(_)), "{error:?}");
            client_for(mock).build().unwrap()
        }
    };
    let meter = kelviq.usage_meter().unwrap().clone();
    let gate = kelviq
        .gate()
        .require("api-calls")
        .meter("api-calls", 1)
        .build()
        .unwrap();
    let context = admit(&gate, "cust_pro").await.ok();
    mock.inject(FaultRule::next(1, Fault::rate_limited(retry_after)).on(Route::ReportUsage));
    for &(key, amount) in records {
        let (customer, feature) = KEYS[key];
        meter.record(customer, feature, amount).unwrap();
        assert!(balance_holds(&meter.stats()));
    }
    if let Some(context) = &context {
        for &amount in responses {
            let metered = gate.finish(context, 200, Some(UsageAmount(amount)));
            match amount {
                0 => assert!(matches!(metered, Metered::Zero)),
                a if a < 0 => assert!(matches!(metered, Metered::Refused { .. })),
                _ => assert!(metered.is_recorded(), "{metered:?}"),
            }
        }
        // The snapshot the request was gated with: usage saturated, never wrapped.
        if let Some(snapshot) = context.snapshot() {
            let _ = snapshot.has_access("api-calls");
            let _ = snapshot.get("api-calls").map(|e| e.remaining());
            let _ = snapshot.to_entitlements();
        }
    }
    meter.flush().await.unwrap();
    assert!(balance_holds(&meter.stats()));
    let report = meter.shutdown(deadline.min(Duration::from_secs(120))).await;
    balanced(&report);
    mock.clear_faults();
}
