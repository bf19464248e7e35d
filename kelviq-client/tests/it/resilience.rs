//! The gate under a slow, rate-limiting or unreachable Kelviq, and under made-up customer
//! ids: no check waits past its load timeout, stale snapshots answer at once, refreshes
//! happen ahead of expiry, loads are capped, and a fallback keeps serving. All on tokio's
//! paused clock: the fake's 30 s delays cost no real time.

use std::time::Duration;

use kelviq_client::gate::{Admission, Decision, FailurePolicy, Fallback, Gate};
use kelviq_client::{CacheConfig, Kelviq, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, Feature, MockServer, Plan, Route, Seed, SeedCustomer};
use tokio::time::Instant;

use crate::support::client_for;

const TTL: Duration = Duration::from_secs(60);
const LOAD_TIMEOUT: Duration = Duration::from_millis(300);

fn client(mock: &MockServer, cache: CacheConfig) -> Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::default())
        .entitlement_cache(cache.ttl(TTL).load_timeout(LOAD_TIMEOUT))
        .build()
        .unwrap()
}

/// The gate's decision, as an adapter gets it, and how long it took (virtual time).
async fn admit(gate: &Gate, customer: &str) -> (Decision, Duration) {
    let started = Instant::now();
    let decision = match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    };
    let decision = match decision {
        Ok(context) => Decision::Allow {
            snapshot: context.snapshot().cloned(),
            stale: context.is_stale(),
        },
        Err(denial) => Decision::Deny(denial),
    };
    (decision, started.elapsed())
}

/// Runs `rounds` rounds of `checks` concurrent checks; every check is allowed on a stale
/// snapshot within the load timeout.
async fn concurrent_stale_checks(gate: &Gate, checks: usize, rounds: usize) {
    for round in 0..rounds {
        let tasks: Vec<_> = (0..checks)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { admit(&gate, "cust_pro").await })
            })
            .collect();
        for task in tasks {
            let (decision, took) = task.await.unwrap();
            assert!(took <= LOAD_TIMEOUT, "round {round}: a check took {took:?}");
            match decision {
                Decision::Allow {
                    snapshot: Some(snapshot),
                    stale,
                } => {
                    assert!(stale, "round {round}: answered from the stale snapshot");
                    assert!(snapshot.has_access("reports"));
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        tokio::time::advance(Duration::from_secs(1)).await;
    }
}

async fn slow_kelviq_case(fault: Fault) -> usize {
    let mock = MockServer::start().await;
    let kelviq = client(
        &mock,
        CacheConfig::default().stale_window(Duration::from_secs(3600)),
    );
    let gate = kelviq.gate().require("reports").build().unwrap();
    assert!(admit(&gate, "cust_pro").await.0.is_allowed());
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    mock.inject(FaultRule::always(fault).on(Route::Entitlements));
    concurrent_stale_checks(&gate, 50, 2).await;
    mock.entitlement_calls("cust_pro") - 1
}

#[tokio::test(start_paused = true)]
async fn slow_kelviq_keeps_latency_bounded() {
    // Entitlement calls delayed 30 s: two rounds of 50 checks, each answered at once on the
    // stale snapshot; one refresh in flight (it outlives both rounds).
    let refreshes = slow_kelviq_case(Fault::Delay(Duration::from_secs(30))).await;
    assert_eq!(refreshes, 1, "one refresh for the customer");

    // Rate limited, Retry-After 30: the refresh is refused, its Retry-After becomes the
    // customer's backoff instead of being slept, and no other call is made meanwhile.
    let refreshes = slow_kelviq_case(Fault::rate_limited(30)).await;
    assert_eq!(refreshes, 1, "at most one upstream call per backoff period");
}

#[tokio::test(start_paused = true)]
async fn a_cold_check_waits_at_most_the_load_timeout_then_follows_the_failure_policy() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_secs(30));
    let kelviq = client(&mock, CacheConfig::default());
    let gate = kelviq.gate().require("reports").build().unwrap();
    let (decision, took) = admit(&gate, "cust_pro").await;
    assert!(took <= LOAD_TIMEOUT + Duration::from_millis(1), "{took:?}");
    let denial = decision.into_result().unwrap_err();
    assert_eq!(denial.status(), 503);
    assert_eq!(denial.code(), "kelviq_unavailable");
    let response = gate.deny(&denial);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_is_never_slept_on_a_check_it_becomes_the_backoff() {
    let mock = MockServer::start().await;
    mock.inject(FaultRule::always(Fault::rate_limited(2)).on(Route::Entitlements));
    // A load timeout longer than the Retry-After: still not waited out.
    let kelviq = client_for(&mock)
        .entitlement_cache(CacheConfig::default().load_timeout(Duration::from_secs(10)))
        .build()
        .unwrap();
    let gate = kelviq.gate().require("reports").build().unwrap();
    let (decision, took) = admit(&gate, "cust_pro").await;
    assert!(
        took < Duration::from_secs(2),
        "the Retry-After was slept: {took:?}"
    );
    let denial = decision.into_result().unwrap_err();
    assert_eq!(denial.code(), "kelviq_unavailable");
    assert_eq!(gate.deny(&denial).headers()["retry-after"], "2");
    // Within the backoff: no new call.
    assert!(!admit(&gate, "cust_pro").await.0.is_allowed());
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_hides_ttl_expiry() {
    let mock = MockServer::start().await;
    let kelviq = client(&mock, CacheConfig::default());
    let gate = kelviq.gate().require("reports").build().unwrap();
    assert!(admit(&gate, "cust_pro").await.0.is_allowed());
    // Checked every second across five TTLs: every check decided from memory.
    for second in 0..(5 * TTL.as_secs()) {
        tokio::time::advance(Duration::from_secs(1)).await;
        match gate.admit(Some("cust_pro".into())) {
            Admission::Ready(Ok(context)) => {
                assert!(!context.is_stale(), "second {second}: never stale");
            }
            other => panic!("second {second}: waited for a load: {other:?}"),
        }
        // Let a background refresh, if one started, reach the fake and store.
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }
    let calls = mock.entitlement_calls("cust_pro");
    assert!(
        (5..=7).contains(&calls),
        "about one refresh per TTL, got {calls} calls in five TTLs"
    );
}

/// Runs on real time: the fake's arrival times are wall-clock instants. Nothing waits on
/// the clock; the assertion is causal (a load can only start when one in flight ended, at
/// least the fake's latency after it arrived).
#[tokio::test]
async fn unknown_customers_are_rate_limited() {
    let mock = MockServer::start().await;
    let latency = Duration::from_millis(5);
    mock.set_route_latency(Route::Entitlements, latency);
    // 32 loads at once (the default), so the 500 fit the queue (16 per permit): every id
    // gets its answer from Kelviq, none is refused for a full queue.
    let width = 32;
    let kelviq = client_for(&mock)
        .entitlement_cache(
            CacheConfig::default()
                .max_concurrent_loads(width)
                .load_timeout(Duration::from_secs(30))
                .unknown_customer_ttl(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let gate = kelviq.gate().build().unwrap();
    let ids: Vec<String> = (0..500).map(|n| format!("made-up-{n}")).collect();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let gate = gate.clone();
            tokio::spawn(async move { admit(&gate, &id).await.0 })
        })
        .collect();
    for task in tasks {
        let denial = task.await.unwrap().into_result().unwrap_err();
        assert_eq!(denial.code(), "unknown_customer", "{:?}", denial.error());
    }
    let mut arrivals: Vec<_> = mock
        .requests(Route::Entitlements)
        .iter()
        .map(|request| request.received_at)
        .collect();
    assert_eq!(arrivals.len(), 500);
    arrivals.sort();
    // Never more than `width` loads at the fake at once: any `width + 1` arrivals span at
    // least the latency.
    for window in arrivals.windows(width + 1) {
        assert!(
            window[width] - window[0] >= latency,
            "more than {width} loads in flight"
        );
    }
    // The same ids again, within the 404 window: no new call.
    for id in &ids {
        let decision = admit(&gate, id).await.0;
        assert_eq!(decision.denial().unwrap().code(), "unknown_customer");
    }
    assert_eq!(
        mock.calls(Route::Entitlements),
        500,
        "remembered for the 404 window"
    );
}

#[tokio::test(start_paused = true)]
async fn fallback_entitlements_when_kelviq_is_down() {
    let mock = MockServer::start().await;
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let kelviq = client(&mock, CacheConfig::default());
    let continuity = kelviq
        .gate()
        .failure_policy(FailurePolicy::fallback(Fallback::new().grant("reports")));
    let reports = continuity.clone().require("reports").build().unwrap();
    let exports = continuity.require("exports").build().unwrap();

    // A customer never seen before: reports allowed, degraded; exports denied.
    match reports.admit(Some("cust_new".into())) {
        Admission::Loading(loading) => {
            let context = loading.await.unwrap();
            assert!(context.is_degraded());
            assert!(context.snapshot().unwrap().is_fallback());
        }
        Admission::Ready(ready) => panic!("a cold customer loads first: {ready:?}"),
    }
    assert_eq!(reports.fallback_decisions(), 1);
    let denied = admit(&exports, "cust_new")
        .await
        .0
        .into_result()
        .unwrap_err();
    assert_eq!(denied.code(), "feature_not_entitled");
    assert_eq!(exports.fallback_decisions(), 1);

    // The strict preset: both answer 503, with Retry-After.
    let strict = kelviq.gate().failure_policy(FailurePolicy::Deny);
    for feature in ["reports", "exports"] {
        let gate = strict.clone().require(feature).build().unwrap();
        let denial = admit(&gate, "cust_other")
            .await
            .0
            .into_result()
            .unwrap_err();
        assert_eq!(denial.status(), 503, "{feature}");
        assert!(gate.deny(&denial).headers().contains_key("retry-after"));
    }
}

#[tokio::test]
async fn a_reached_limit_says_when_it_resets() {
    let seed = Seed::empty()
        .plan(Plan::new("small").feature(Feature::metered("calls").limit(2)))
        .customer(SeedCustomer::new("c").subscribe("small").usage("calls", 2));
    let mock = MockServer::builder().seed(seed).start().await.unwrap();
    let kelviq = client(&mock, CacheConfig::default());
    let gate = kelviq.gate().require("calls").build().unwrap();
    let denial = admit(&gate, "c").await.0.into_result().unwrap_err();
    assert_eq!(denial.code(), "usage_limit_reached");
    let snapshot = kelviq.cached_entitlements("c").unwrap();
    let resets = snapshot.get("calls").unwrap().items()[0]
        .reset_at()
        .map(str::to_owned);
    assert!(resets.is_some(), "the mock gives the period's end");
    // The reset (the start of next month) is told in the problem details; a wait of
    // days or weeks is no Retry-After.
    let quota = denial.quota().expect("a reached limit has its counts");
    let wait = quota.resets_in().expect("a reset time in the future");
    assert!(wait > Duration::ZERO);
    assert_eq!(
        denial.retry_after().is_some(),
        wait <= gate.max_retry_after()
    );
    assert!(denial.body()["resetAt"].is_string());
    // A gate that accepts long waits sends it.
    let patient = kelviq
        .gate()
        .require("calls")
        .max_retry_after(Duration::from_secs(40 * 24 * 3600))
        .build()
        .unwrap();
    let denial = admit(&patient, "c").await.0.into_result().unwrap_err();
    assert!(denial.retry_after().is_some());
    let header = patient.deny(&denial).headers()["retry-after"].clone();
    assert!(header.to_str().unwrap().parse::<u64>().unwrap() >= 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any durations in the cache and retry settings build a client (or a clear error),
    /// never a panic; any Retry-After a denial carries writes a header.
    #[test]
    fn any_duration_setting_builds_or_errors_never_panics(
        ttl in proptest::num::u64::ANY,
        window in proptest::num::u64::ANY,
        backoff in proptest::num::u64::ANY,
        unknown in proptest::num::u64::ANY,
        load in proptest::num::u64::ANY,
        ahead in proptest::num::u64::ANY,
        retry in proptest::num::u64::ANY,
        nanos in 0u32..1_000_000_000,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let cache = CacheConfig::default()
                .ttl(Duration::new(ttl, nanos))
                .stale_window(Duration::new(window, nanos))
                .error_backoff(Duration::new(backoff, nanos))
                .unknown_customer_ttl(Duration::new(unknown, nanos))
                .load_timeout(Duration::new(load, nanos))
                .refresh_ahead(Duration::new(ahead, nanos));
            let policy = RetryPolicy::default()
                .initial_backoff(Duration::new(retry, nanos))
                .max_backoff(Duration::new(retry, nanos))
                .max_retry_after(Duration::new(retry, nanos));
            let built = Kelviq::builder()
                .access_token("k")
                .entitlement_cache(cache)
                .retry_policy(policy)
                .build();
            if let Ok(kelviq) = built {
                // A check with nothing cached and nothing to reach: bounded, no panic.
                let _ = kelviq.cached_entitlements("c");
                let _ = kelviq.gate().build();
            }
            let denial = kelviq_client::gate::Denial::missing_customer()
                .with_retry_after(Duration::new(retry, nanos));
            let response = denial.to_response();
            let header = response.headers()["retry-after"].to_str().unwrap().to_owned();
            proptest::prop_assert!(header.parse::<u64>().unwrap() >= 1);
            Ok(())
        })?;
    }
}

/// Real time, nothing waits on the clock: the queue of loads is bounded, so a flood of
/// made-up ids neither grows memory nor delays the answer past the queue's end.
#[tokio::test]
async fn the_queue_of_loads_is_bounded() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(20));
    let kelviq = client_for(&mock)
        .entitlement_cache(
            CacheConfig::default()
                .max_concurrent_loads(1)
                .load_timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let gate = kelviq.gate().build().unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let gate = gate.clone();
            tokio::spawn(async move { admit(&gate, &format!("flood-{n}")).await.0 })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().denial().unwrap().code());
    }
    let refused = codes
        .iter()
        .filter(|code| **code == "kelviq_unavailable")
        .count();
    let unknown = codes
        .iter()
        .filter(|code| **code == "unknown_customer")
        .count();
    assert_eq!(unknown, 16, "one permit, sixteen loads queued at most");
    assert_eq!(
        refused, 24,
        "the rest answered at once by the failure policy"
    );
    assert_eq!(mock.calls(Route::Entitlements), 16);
}
