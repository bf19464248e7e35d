//! Hard limits that hold: every request a gate meters on a hard-limited feature holds its
//! units while in flight, handlers hold before choosing amounts, cancelled requests give
//! their holds back, and a limit reopens at the period's reset.
//!
//! Through the gate's adapter functions (`admit`, `finish`) as tower and actix call them;
//! the axum and actix suites run the same promises through their frameworks.

use std::sync::Arc;
use std::time::Duration;

use kelviq_client::gate::{Admission, Denial, DenialReason, Gate, Metered, RequestContext};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq, RetryPolicy};
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};

use crate::support::client_for;

/// `acme` on a plan of `limit` hard-limited `exports`, `used` of them used.
async fn mock_with_limit(limit: i64, used: i64) -> MockServer {
    let seed = Seed::empty()
        .plan(Plan::new("metered").feature(Feature::metered("exports").limit(limit)))
        .customer(
            SeedCustomer::new("acme")
                .subscribe("metered")
                .usage("exports", used),
        );
    MockServer::builder().seed(seed).start().await.unwrap()
}

fn client(mock: &MockServer) -> Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(CacheConfig::default().load_timeout(Duration::from_secs(5)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .build()
        .unwrap()
}

async fn admit(gate: &Gate, customer: &str) -> Result<RequestContext, Denial> {
    match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    }
}

/// Delivers everything the meter holds, then reads what the fake recorded.
async fn delivered(kelviq: &Kelviq, mock: &MockServer) -> i64 {
    let report = kelviq
        .usage_meter()
        .unwrap()
        .shutdown(Duration::from_secs(5))
        .await;
    assert!(report.unsent.is_empty() && report.unknown.is_empty() && report.failed.is_empty());
    mock.usage_total("acme", "exports")
}

/// Limit 3, 50 requests admitted at once (each "handler" still running while the others
/// arrive): exactly 3 get through, and Kelviq records 3 — whether the gate requires the
/// feature or only meters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_limit_holds_under_concurrency_on_one_instance() {
    for require in [true, false] {
        let mock = mock_with_limit(3, 0).await;
        let kelviq = client(&mock);
        let mut gate = kelviq.gate().meter("exports", 1);
        if require {
            gate = gate.require("exports");
        }
        let gate = gate.build().unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let requests: Vec<_> = (0..50)
            .map(|_| {
                let (gate, barrier) = (gate.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    let admitted = admit(&gate, "acme").await;
                    // Every request is admitted (or not) before any finishes.
                    barrier.wait().await;
                    match admitted {
                        Ok(context) => {
                            assert!(gate.finish(&context, 200, None).is_recorded());
                            true
                        }
                        Err(denial) => {
                            assert_eq!(denial.reason(), DenialReason::LimitReached);
                            false
                        }
                    }
                })
            })
            .collect();
        let mut allowed = 0;
        for request in requests {
            allowed += usize::from(request.await.unwrap());
        }
        assert_eq!(allowed, 3, "require: {require}");
        assert_eq!(delivered(&kelviq, &mock).await, 3, "require: {require}");
    }
}

/// Holds of random sizes from concurrent handlers, settled with random amounts (some
/// larger than their hold, some failing): the total recorded never passes the limit, and
/// an amount larger than the hold is capped at it and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_amounts_never_pass_the_limit() {
    const LIMIT: i64 = 100;
    let mock = mock_with_limit(LIMIT, 0).await;
    let kelviq = client(&mock);
    let gate = kelviq.gate().meter("exports", 0).build().unwrap();
    let handlers: Vec<_> = (0..40u64)
        .map(|seed| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut kept = 0i64;
                let mut capped = 0i64;
                for _ in 0..10 {
                    let Ok(context) = admit(&gate, "acme").await else {
                        continue;
                    };
                    let asked = rng.i64(1..=30);
                    let Ok(held) = context.reserve(asked).await else {
                        continue;
                    };
                    assert!((1..=asked).contains(&held), "held {held} of {asked}");
                    tokio::task::yield_now().await;
                    // Most use at most the hold; some ask for more than they held.
                    let used = if rng.u8(..10) == 0 {
                        held + rng.i64(1..5)
                    } else {
                        rng.i64(0..=held)
                    };
                    context.set_usage_amount(used);
                    let status = if rng.u8(..5) == 0 { 500 } else { 200 };
                    match gate.finish(&context, status, None) {
                        Metered::Recorded { amount } => kept += amount,
                        Metered::Capped { amount, asked } => {
                            assert_eq!((amount, asked), (held, used));
                            kept += amount;
                            capped += asked - amount;
                        }
                        Metered::NotSuccess | Metered::Zero => {}
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (kept, capped)
            })
        })
        .collect();
    let (mut kept, mut capped) = (0, 0);
    for handler in handlers {
        let (k, c) = handler.await.unwrap();
        kept += k;
        capped += c;
    }
    assert!(kept <= LIMIT, "{kept} units kept of a limit of {LIMIT}");
    let stats = kelviq.usage_meter().unwrap().stats();
    assert_eq!(stats.over_hold, i128::from(capped));
    assert_eq!(delivered(&kelviq, &mock).await, kept);
    eprintln!("handler holds: {kept} of {LIMIT} kept, {capped} capped");
}

/// A handler that holds, then fails or is dropped, gives the hold back: the next request
/// can hold the whole limit. One that asks for more than is left gets what is left.
#[tokio::test]
async fn holds_are_partial_and_given_back() {
    let mock = mock_with_limit(10, 4).await;
    let kelviq = client(&mock);
    let gate = kelviq.gate().meter("exports", 1).build().unwrap();
    let context = admit(&gate, "acme").await.unwrap();
    assert_eq!(context.held_units(), Some(1));
    assert_eq!(
        context.reserve(100).await.unwrap(),
        6,
        "all the limit leaves"
    );
    assert_eq!(context.reserve(3).await.unwrap(), 6, "a hold never shrinks");
    let other = admit(&gate, "acme").await;
    assert_eq!(other.unwrap_err().reason(), DenialReason::LimitReached);
    assert!(matches!(
        gate.finish(&context, 503, None),
        Metered::NotSuccess
    ));
    assert_eq!(context.held_units(), None);
    let context = admit(&gate, "acme").await.unwrap();
    assert_eq!(context.reserve(6).await.unwrap(), 6);
    drop(context);
    let context = admit(&gate, "acme").await.unwrap();
    assert_eq!(context.reserve(6).await.unwrap(), 6);
    context.set_usage_amount(2);
    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Recorded { amount: 2 }
    ));
    let context = admit(&gate, "acme").await.unwrap();
    assert_eq!(
        context.reserve(100).await.unwrap(),
        4,
        "10 − 4 used − 2 kept"
    );
    drop(context);
    assert_eq!(delivered(&kelviq, &mock).await, 6);
}

/// A gate that only meters a hard-limited feature (no `require`) enforces the limit; the
/// explicit opt-out does not.
#[tokio::test]
async fn metered_hard_limit_is_enforced_without_require() {
    let mock = mock_with_limit(3, 1).await;
    let kelviq = client(&mock);
    let metering = kelviq.gate().meter("exports", 1).build().unwrap();
    for _ in 0..2 {
        let context = admit(&metering, "acme").await.unwrap();
        assert!(metering.finish(&context, 200, None).is_recorded());
    }
    let denial = admit(&metering, "acme").await.unwrap_err();
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(denial.status(), 403);
    let unenforced = kelviq
        .gate()
        .meter("exports", 1)
        .unenforced_limit()
        .build()
        .unwrap();
    let context = admit(&unenforced, "acme").await.unwrap();
    assert!(unenforced.finish(&context, 200, None).is_recorded());
    assert!(
        kelviq
            .gate()
            .unenforced_limit()
            .build()
            .is_err_and(|error| error.to_string().contains("meter")),
        "the opt-out needs something metered"
    );
    assert_eq!(delivered(&kelviq, &mock).await, 4);
}

/// Requests dropped at every point of their life give their holds back: the admission
/// before it is polled, after it loaded, the context before the handler ran, during it,
/// and after a hold the handler took; then the whole limit is usable.
#[tokio::test]
async fn cancelled_reservations_are_returned() {
    let mock = mock_with_limit(5, 0).await;
    let kelviq = client(&mock);
    let gate = kelviq
        .gate()
        .require("exports")
        .meter("exports", 1)
        .build()
        .unwrap();
    for round in 0..30 {
        // Dropped before it was polled (a cold customer, then a warm one).
        drop(gate.admit(Some("acme".into())));
        // Admitted, then dropped unfinished (a client that went away mid-handler).
        let context = admit(&gate, "acme").await.unwrap();
        let clone = context.clone();
        drop(context);
        if round % 2 == 0 {
            assert_eq!(clone.reserve(3).await.unwrap(), 3);
        }
        drop(clone);
        // A loading admission dropped mid-load.
        if round % 5 == 0 {
            kelviq.invalidate_entitlements("acme");
            let Admission::Loading(loading) = gate.admit(Some("acme".into())) else {
                panic!("an invalidated customer loads");
            };
            let mut loading = Box::pin(loading);
            let waker = futures::task::noop_waker();
            let _ = loading
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker));
            drop(loading);
        }
    }
    let held: Vec<RequestContext> = futures::future::join_all((0..6).map(|_| admit(&gate, "acme")))
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(held.len(), 5, "the whole limit is usable, and no more");
    for context in &held {
        assert!(gate.finish(context, 200, None).is_recorded());
    }
    assert_eq!(delivered(&kelviq, &mock).await, 5);
}

/// `acme` at its limit of 3 `exports` until the period ends in `seconds`; a client, and a
/// gate requiring and metering `exports`; the period's end.
async fn at_the_limit_until(seconds: i64) -> (MockServer, Kelviq, Gate, jiff::Timestamp) {
    let mock = mock_with_limit(3, 3).await;
    let reset = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap();
    mock.set_period_end(Some(reset));
    let kelviq = client(&mock);
    let gate = kelviq
        .gate()
        .require("exports")
        .meter("exports", 1)
        .build()
        .unwrap();
    (mock, kelviq, gate, reset)
}

/// At its limit before the period's reset, a customer is refused with `Retry-After` until
/// it; within a second after it (the fake answering the new period) it is allowed again,
/// after one more entitlement call — not at the next TTL.
#[tokio::test(start_paused = true)]
async fn limit_reopens_at_reset() {
    let (mock, _kelviq, gate, reset) = at_the_limit_until(3).await;
    let denial = admit(&gate, "acme").await.unwrap_err();
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    let retry_after = denial.retry_after().unwrap();
    assert!(retry_after <= Duration::from_secs(3), "{retry_after:?}");
    assert_eq!(mock.entitlement_calls("acme"), 1);
    // Still refused before the reset, without another call.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(admit(&gate, "acme").await.is_err());
    assert_eq!(mock.entitlement_calls("acme"), 1);
    // The period turns over at Kelviq.
    let next = reset
        .checked_add(jiff::SignedDuration::from_secs(30 * 24 * 3600))
        .unwrap();
    mock.start_period(Some(next));
    tokio::time::advance(Duration::from_secs(3)).await;
    let context = admit(&gate, "acme")
        .await
        .expect("the limit reopened at the reset");
    assert!(gate.finish(&context, 200, None).is_recorded());
    assert_eq!(mock.entitlement_calls("acme"), 2, "one call at the reset");
    // The new snapshot's reset is a month ahead: no more loads.
    for _ in 0..2 {
        let context = admit(&gate, "acme").await.unwrap();
        gate.finish(&context, 200, None);
    }
    assert!(
        admit(&gate, "acme").await.is_err(),
        "3 of the new period used"
    );
    assert_eq!(mock.entitlement_calls("acme"), 2);
}

/// A `resetAt` in the past, or one Kelviq keeps sending after the reset (a stale or
/// hostile answer), loads at most once per snapshot: no tight loop of loads.
#[tokio::test(start_paused = true)]
async fn a_reset_that_does_not_move_loads_once() {
    let (mock, kelviq, gate, _) = at_the_limit_until(2).await;
    assert!(admit(&gate, "acme").await.is_err());
    tokio::time::advance(Duration::from_secs(5)).await;
    // The fake still answers the old reset, now in the past.
    for _ in 0..20 {
        assert!(admit(&gate, "acme").await.is_err());
    }
    assert_eq!(mock.entitlement_calls("acme"), 2, "one reload, then none");
    // A reset in the past from the start never loads.
    mock.set_period_end(Some(
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(60))
            .unwrap(),
    ));
    kelviq.invalidate_entitlements("acme");
    // (Loads that start at the very instant of an invalidation are not kept.)
    tokio::time::advance(Duration::from_millis(1)).await;
    for _ in 0..20 {
        assert!(admit(&gate, "acme").await.is_err());
    }
    assert_eq!(mock.entitlement_calls("acme"), 3);
}

/// A handler holding on a snapshot that a newer one replaced (a webhook, a refresh) is
/// judged on the newer one: usage it never saw still counts.
#[tokio::test(start_paused = true)]
async fn a_hold_after_a_refresh_counts_what_the_refresh_saw() {
    let mock = mock_with_limit(10, 0).await;
    let kelviq = client(&mock);
    let gate = kelviq.gate().meter("exports", 1).build().unwrap();
    let first = admit(&gate, "acme").await.unwrap();
    // Usage reported elsewhere, then a webhook drops the snapshot.
    mock.set_usage("acme", "exports", 6).unwrap();
    kelviq.invalidate_entitlements("acme");
    // (Loads that start at the very instant of an invalidation are not kept.)
    tokio::time::advance(Duration::from_millis(1)).await;
    let second = admit(&gate, "acme").await.unwrap();
    // 10 − 6 used − 2 held: 2 more, not the 8 the first snapshot would leave.
    assert_eq!(first.reserve(100).await.unwrap(), 3);
    assert!(admit(&gate, "acme").await.is_err());
    drop((first, second));
    assert_eq!(
        admit(&gate, "acme")
            .await
            .unwrap()
            .reserve(100)
            .await
            .unwrap(),
        4
    );
}
