//! The entitlement cache: on by default, one call per customer, freshness, stale-if-error,
//! applied usage.
//!
//! Freshness, the stale window and the error backoff run on tokio's clock: the tests that
//! let time pass pause it (`start_paused`) and move it with `tokio::time::advance`, or
//! sleep on it (the mock's latencies and delays are tokio timers on the same runtime).

use std::sync::Arc;
use std::time::Duration;

use kelviq_client::cache::Freshness;
use kelviq_client::gate::Admission;
use kelviq_client::{CacheConfig, Kelviq, ReportUsage, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, MockServer, Outcome, Route, Seed, SeedCustomer};

use crate::support::client_for;

fn cached(mock: &MockServer, config: CacheConfig) -> Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(config)
        .build()
        .unwrap()
}

/// A TTL (or stale window) that `expire()` outlives.
const SHORT: Duration = Duration::from_secs(1);
/// A TTL or window no test outlives.
const LONG: Duration = Duration::from_secs(3600);

/// Lets virtual time pass beyond `SHORT + SHORT`: a snapshot with a `SHORT` TTL is no
/// longer fresh, and one with a `SHORT` stale window is past it.
async fn expire() {
    tokio::time::advance(SHORT * 3).await;
}

/// Waits (on the paused clock, 1 ms at a time) until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never held");
}

#[tokio::test]
async fn the_cache_is_on_by_default_and_can_be_turned_off() {
    let mock = MockServer::start().await;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .build()
        .unwrap();
    assert!(kelviq.has_entitlement_cache());
    for feature in ["reports", "api-calls"] {
        assert!(
            kelviq
                .entitlements()
                .has_access("cust_pro", feature)
                .await
                .unwrap()
        );
    }
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
    assert!(kelviq.cached_entitlements("cust_pro").is_some());

    let uncached = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .no_entitlement_cache()
        .build()
        .unwrap();
    assert!(!uncached.has_entitlement_cache());
    for feature in ["reports", "api-calls"] {
        assert!(
            uncached
                .entitlements()
                .has_access("cust_free", feature)
                .await
                .is_ok()
        );
    }
    assert_eq!(mock.entitlement_calls("cust_free"), 2);
    assert!(uncached.cached_entitlements("cust_free").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_first_checks_make_one_call() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(50));
    let kelviq = cached(&mock, CacheConfig::default());
    let checks: Vec<_> = (0..1_000)
        .map(|_| {
            let kelviq = kelviq.clone();
            tokio::spawn(async move {
                kelviq
                    .entitlements()
                    .has_access("cust_pro", "reports")
                    .await
            })
        })
        .collect();
    for check in checks {
        assert!(check.await.unwrap().unwrap());
    }
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
    let sent = mock.requests(Route::Entitlements).pop().unwrap();
    assert_eq!(sent.query.as_deref(), Some("customer_id=cust_pro"));
}

#[tokio::test]
async fn one_snapshot_answers_every_feature_while_fresh() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(LONG));
    let entitlements = kelviq.entitlements();
    assert!(
        entitlements
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert!(
        entitlements
            .has_access("cust_pro", "api-calls")
            .await
            .unwrap()
    );
    assert!(
        !entitlements
            .has_access("cust_pro", "unknown")
            .await
            .unwrap()
    );
    let seats = entitlements
        .get_entitlement("cust_pro", "seats")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seats.limit(), Some(10));
    assert_eq!(
        entitlements
            .get_all_entitlements("cust_pro")
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
    let snapshot = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(matches!(snapshot.freshness(), Freshness::Fresh));
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_snapshot_is_fetched_again() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(SHORT));
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    tokio::time::advance(SHORT / 2).await;
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    assert_eq!(mock.entitlement_calls("cust_pro"), 1, "still fresh");
    expire().await;
    // Past the TTL, within the stale window: answered at once, refreshed in the background.
    let answer = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(matches!(answer.freshness(), Freshness::Refreshing));
    until(|| mock.entitlement_calls("cust_pro") == 2).await;
    until(|| kelviq.cached_entitlements("cust_pro").is_some()).await;
    let answer = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(matches!(answer.freshness(), Freshness::Fresh));
    assert_eq!(mock.entitlement_calls("cust_pro"), 2, "one refresh");
}

async fn stale_is_served_on(fault: Fault) {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(SHORT).stale_window(LONG));
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    expire().await;
    mock.inject(FaultRule::always(fault).on(Route::Entitlements));
    let answer = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(answer.is_stale());
    assert!(answer.snapshot().has_access("reports"));
    // The background refresh fails: the stale snapshot is served with its error.
    until(|| mock.entitlement_calls("cust_pro") == 2).await;
    let mut stale = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    for _ in 0..100 {
        if matches!(stale.freshness(), Freshness::Stale(_)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        stale = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    }
    assert!(matches!(stale.freshness(), Freshness::Stale(_)));
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert_eq!(
        mock.entitlement_calls("cust_pro"),
        2,
        "the failure backs off further calls"
    );
}

#[tokio::test(start_paused = true)]
async fn stale_is_served_when_kelviq_answers_503() {
    stale_is_served_on(Fault::status(503)).await;
}

#[tokio::test(start_paused = true)]
async fn stale_is_served_when_the_connection_drops() {
    stale_is_served_on(Fault::DropConnection).await;
}

#[tokio::test(start_paused = true)]
async fn stale_is_not_served_past_the_window() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(SHORT).stale_window(SHORT));
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    expire().await;
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let error = kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().as_u16(), 503);
}

#[tokio::test(start_paused = true)]
async fn a_client_error_never_serves_stale() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(SHORT).stale_window(LONG));
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    expire().await;
    kelviq.customers().archive("cust_pro").await.unwrap();
    // Answered at once from the stale snapshot while the refresh runs...
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    // ...which Kelviq answers 404: from then on the error, not the stale snapshot.
    until(|| mock.entitlement_calls("cust_pro") == 2).await;
    let mut answer = kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await;
    for _ in 0..100 {
        if answer.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        answer = kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await;
    }
    assert_eq!(answer.unwrap_err().status().unwrap().as_u16(), 404);
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_checks_back_off_then_retry() {
    let mock = MockServer::start().await;
    let backoff = Duration::from_millis(50);
    let kelviq = cached(&mock, CacheConfig::default().error_backoff(backoff));
    mock.inject(FaultRule::next(1, Fault::status(503)).on(Route::Entitlements));
    for _ in 0..10 {
        let error = kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap_err();
        assert_eq!(error.status().unwrap().as_u16(), 503);
    }
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
    tokio::time::advance(backoff * 2).await;
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert_eq!(mock.entitlement_calls("cust_pro"), 2);
}

#[tokio::test]
async fn reported_usage_flips_access_before_any_refresh() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(LONG));
    let entitlements = kelviq.entitlements();
    assert!(
        entitlements
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_free", "api-calls", 99))
        .await
        .unwrap();
    let calls = entitlements
        .get_entitlement("cust_free", "api-calls")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((calls.usage(), calls.remaining()), (Some(99), Some(1)));
    assert!(calls.has_access());
    kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_free", "api-calls", 1))
        .await
        .unwrap();
    assert!(
        !entitlements
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );
    kelviq
        .reporting()
        .report_usage(ReportUsage::set("cust_free", "api-calls", 10))
        .await
        .unwrap();
    let calls = entitlements
        .get_entitlement("cust_free", "api-calls")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(calls.usage(), Some(10));
    assert!(calls.has_access());
    assert_eq!(mock.entitlement_calls("cust_free"), 1);
}

#[tokio::test]
async fn invalidation_makes_the_next_check_fetch() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().ttl(LONG));
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    kelviq.invalidate_entitlements("cust_pro");
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    kelviq.invalidate_all_entitlements();
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    assert_eq!(mock.entitlement_calls("cust_pro"), 3);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let mut seed = Seed::default();
    for index in 0..20 {
        seed = seed.customer(SeedCustomer::new(format!("c{index}")).subscribe("free"));
    }
    let mock = MockServer::builder().seed(seed).start().await.unwrap();
    let kelviq = cached(&mock, CacheConfig::default().max_customers(5));
    for index in 0..20 {
        kelviq
            .entitlements()
            .has_access(&format!("c{index}"), "api-calls")
            .await
            .unwrap();
    }
    kelviq.sync_cache();
    assert!(
        kelviq.cached_customers() <= 5,
        "{}",
        kelviq.cached_customers()
    );
}

#[tokio::test]
async fn without_a_cache_every_check_calls_kelviq() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).no_entitlement_cache().build().unwrap();
    assert!(!kelviq.has_entitlement_cache());
    for _ in 0..3 {
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap();
    }
    assert_eq!(mock.entitlement_calls("cust_pro"), 3);
    assert_eq!(kelviq.cached_customers(), 0);
    let snapshot = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(!snapshot.is_stale());
    let _: &Arc<_> = snapshot.snapshot();
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_snapshot_gets_its_own_stale_window() {
    let mock = MockServer::start().await;
    let window = Duration::from_secs(10);
    let kelviq = cached(
        &mock,
        CacheConfig::default().ttl(SHORT).stale_window(window),
    );
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    // Refresh well into the first snapshot's window (it is usable until 11 s).
    tokio::time::advance(Duration::from_secs(8)).await;
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    until(|| kelviq.cached_entitlements("cust_pro").is_some()).await;
    assert_eq!(mock.entitlement_calls("cust_pro"), 2);
    // At 13 s: past the first snapshot's window, within the refreshed one's (until 19 s):
    // stale is served.
    tokio::time::advance(Duration::from_secs(5)).await;
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let answer = kelviq.entitlements_snapshot("cust_pro").await.unwrap();
    assert!(answer.is_stale());
    // Past the refreshed one's window too: the error.
    tokio::time::advance(Duration::from_secs(7)).await;
    let error = kelviq.entitlements_snapshot("cust_pro").await.unwrap_err();
    assert_eq!(error.status().unwrap().as_u16(), 503);
}

#[tokio::test(start_paused = true)]
async fn an_invalidation_during_a_load_is_not_undone_by_it() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(200));
    let kelviq = cached(&mock, CacheConfig::default().ttl(LONG));
    let loading = {
        let kelviq = kelviq.clone();
        tokio::spawn(async move {
            kelviq
                .entitlements()
                .has_access("cust_pro", "reports")
                .await
        })
    };
    // The load reached Kelviq, which answers in 200 ms: invalidate meanwhile.
    until(|| mock.entitlement_calls("cust_pro") == 1).await;
    kelviq.invalidate_entitlements("cust_pro");
    assert!(
        loading.await.unwrap().unwrap(),
        "the caller still gets its answer"
    );
    mock.set_route_latency(Route::Entitlements, Duration::ZERO);
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    assert_eq!(
        mock.entitlement_calls("cust_pro"),
        2,
        "the pre-invalidation load was not cached"
    );
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    assert_eq!(mock.entitlement_calls("cust_pro"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_load_whose_callers_gave_up_still_fills_the_cache() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(100));
    let kelviq = cached(&mock, CacheConfig::default().ttl(LONG));
    let gave_up = tokio::time::timeout(
        Duration::from_millis(20),
        kelviq.entitlements().has_access("cust_pro", "reports"),
    )
    .await;
    assert!(gave_up.is_err());
    assert!(kelviq.cached_entitlements("cust_pro").is_none());
    // The abandoned load completes on its own task and stores its snapshot.
    until(|| kelviq.cached_entitlements("cust_pro").is_some()).await;
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_longer_than_the_load_timeout_still_fills_the_cache() {
    let mock = MockServer::start().await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(800));
    let kelviq = cached(
        &mock,
        CacheConfig::default()
            .ttl(LONG)
            .load_timeout(Duration::from_millis(500)),
    );
    let asked = tokio::time::Instant::now();
    let error = kelviq.entitlements_snapshot("cust_pro").await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // Tokio's timers tick in whole milliseconds.
    assert!(asked.elapsed() <= Duration::from_millis(501));
    // The call is not cut at the callers' deadline: it ends, and its answer is kept.
    until(|| kelviq.cached_entitlements("cust_pro").is_some()).await;
    let calls = mock.requests(Route::Entitlements);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Responded(200));
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert_eq!(mock.entitlement_calls("cust_pro"), 1);
}

#[tokio::test]
async fn an_unknown_customer_is_remembered_for_the_backoff() {
    let mock = MockServer::start().await;
    let kelviq = cached(&mock, CacheConfig::default().error_backoff(LONG));
    for _ in 0..5 {
        let error = kelviq
            .entitlements()
            .has_access("nobody", "reports")
            .await
            .unwrap_err();
        assert_eq!(error.status().unwrap().as_u16(), 404);
    }
    assert_eq!(mock.entitlement_calls("nobody"), 1);
}

/// A storm of first requests: 3,000 customers never seen before, 150 new ones every 50 ms
/// for a second, against a Kelviq that answers in 200 ms — far more than 32 loads at once
/// can serve within a 500 ms load timeout. Every request is answered within that timeout
/// (allowed, or the failure policy's `503` with `Retry-After`); Kelviq never sees more
/// than 32 calls at once, and no call is abandoned; every call that started fills the
/// cache, so the customers loaded per second approach the cap's throughput
/// (32 / 200 ms = 160/s).
///
/// On tokio's paused clock: the fake's latency is a tokio timer on the same runtime.
#[tokio::test(start_paused = true)]
async fn cold_storm_loads_at_the_cap() {
    const CUSTOMERS: usize = 3_000;
    const WAVES: usize = 20;
    const EVERY: Duration = Duration::from_millis(50);
    const LATENCY: Duration = Duration::from_millis(200);
    const PERMITS: usize = 32;
    const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
    let seed = (0..CUSTOMERS).fold(Seed::default(), |seed, n| {
        seed.customer(SeedCustomer::new(format!("storm-{n}")).subscribe("pro"))
    });
    let mock = MockServer::builder().seed(seed).start().await.unwrap();
    mock.set_route_latency(Route::Entitlements, LATENCY);
    let kelviq = cached(
        &mock,
        CacheConfig::default()
            .ttl(LONG)
            .max_customers(10 * CUSTOMERS as u64)
            .max_concurrent_loads(PERMITS)
            .load_timeout(LOAD_TIMEOUT),
    );
    let gate = kelviq.gate().require("reports").build().unwrap();

    let started = tokio::time::Instant::now();
    let per_wave = CUSTOMERS / WAVES;
    let mut requests = Vec::with_capacity(CUSTOMERS);
    for wave in 0..WAVES {
        for n in wave * per_wave..(wave + 1) * per_wave {
            let gate = gate.clone();
            requests.push(tokio::spawn(async move {
                let asked = tokio::time::Instant::now();
                let decision = match gate.admit(Some(format!("storm-{n}").into())) {
                    Admission::Ready(ready) => ready,
                    Admission::Loading(loading) => loading.await,
                };
                (decision.map(drop), asked.elapsed())
            }));
        }
        tokio::time::sleep(EVERY).await;
    }
    let (mut allowed, mut refused, mut late) = (0, 0, 0);
    for request in requests {
        let (decision, waited) = request.await.unwrap();
        // Tokio's timers tick in whole milliseconds.
        if waited > LOAD_TIMEOUT + Duration::from_millis(1) {
            late += 1;
        }
        match decision {
            Ok(()) => allowed += 1,
            Err(denial) => {
                assert_eq!(denial.status(), 503, "{:?}", denial.error());
                assert!(denial.retry_after().is_some());
                refused += 1;
            }
        }
    }
    // The calls that started after their callers gave up end in the background (within
    // their own request timeout, far longer than the fake's latency)...
    until(|| mock.in_flight(Route::Entitlements) == 0).await;
    let elapsed = started.elapsed();
    // ... and none follows: no load was left waiting for a permit.
    let calls_then = mock.calls(Route::Entitlements);
    tokio::time::sleep(LOAD_TIMEOUT + 2 * LATENCY).await;
    let calls_later = mock.calls(Route::Entitlements);

    let calls = mock.requests(Route::Entitlements);
    let answered = calls
        .iter()
        .filter(|call| call.outcome == Outcome::Responded(200))
        .count();
    let abandoned = calls
        .iter()
        .filter(|call| call.outcome == Outcome::Pending)
        .count();
    let cached = kelviq.cached_customers();
    let peak = mock.peak_in_flight(Route::Entitlements);
    let per_second = cached as f64 / elapsed.as_secs_f64();
    eprintln!(
        "storm: {allowed} allowed, {refused} refused, {late} late; {} calls, {answered} answered, \
         {abandoned} abandoned, peak {peak} at once; {cached} customers cached in {elapsed:?} \
         ({per_second:.0}/s)",
        calls.len()
    );
    assert_eq!(late, 0, "every request answered within the load timeout");
    assert_eq!(
        calls_later, calls_then,
        "no call after the storm's loads ended"
    );
    assert_eq!(allowed + refused, CUSTOMERS);
    assert!(peak <= PERMITS, "{peak} calls at once at Kelviq");
    assert_eq!(abandoned, 0, "no call abandoned");
    assert_eq!(answered, calls.len(), "every call ran to its answer");
    assert_eq!(cached as usize, answered, "every answer was cached");
    // The cap's throughput over the storm: permits × elapsed / latency. The storm and its
    // last loads take about 1.5 s (≈ 240 loads); ask for well over half of it.
    let capacity = PERMITS as f64 * elapsed.as_secs_f64() / LATENCY.as_secs_f64();
    assert!(
        cached as f64 >= 0.6 * capacity,
        "{cached} customers loaded, the cap allows {capacity:.0}"
    );
}
