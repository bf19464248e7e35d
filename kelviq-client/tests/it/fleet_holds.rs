//! Strict fleet reservations at their edges (cargo feature `redis`): admissions dropped at
//! every await point give their units back, a vanished instance's holds lapse within the
//! hold time, and a request longer than the hold time keeps its hold while it lives.
//!
//! Real time here, not tokio's: the holds lapse on Redis's clock. The waits are bounded and
//! the assertions count units and requests, never durations.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use kelviq_client::Kelviq;
use kelviq_client::fleet::FleetConfig;
use kelviq_client::gate::{Admission, DenialReason, Gate};
use kelviq_mock::{Feature, MockServer, Plan, RedisServer, Seed, SeedCustomer};

use crate::fleet::{admit, eventually, member_with, prefix, raw, stats, strict_gate};

/// The hard limit of `api-calls` on the `tiny` plan.
const LIMIT: u64 = 5;

/// A mock whose `customer` is on a plan with a hard limit of [`LIMIT`] metered calls.
async fn tiny_mock(customer: &str) -> MockServer {
    let seed = Seed::empty()
        .plan(Plan::new("tiny").feature(Feature::metered("api-calls").limit(5)))
        .customer(SeedCustomer::new(customer).subscribe("tiny"));
    MockServer::builder().seed(seed).start().await.unwrap()
}

/// A fleet member whose strict holds last `hold_time` without renewal.
fn holding_member(mock: &MockServer, redis: &str, prefix: &str, hold_time: Duration) -> Kelviq {
    member_with(
        mock,
        FleetConfig::redis(redis)
            .prefix(prefix)
            .hold_time(hold_time),
    )
}

/// Polls `future` exactly once (it is not polled again unless the caller does).
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

/// The number of holds in Redis on the customer's `api-calls` limit.
async fn holds(url: &str, prefix: &str, customer: &str) -> usize {
    let mut raw = raw(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:{{{customer}}}:holds:*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    let mut total = 0;
    for key in keys {
        let len: usize = redis::cmd("HLEN")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        total += len;
    }
    total
}

/// The customer's shared counter of `api-calls` (0 when missing).
async fn counter(url: &str, prefix: &str, customer: &str) -> u64 {
    let mut raw = raw(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:{{{customer}}}:used:*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    let Some(key) = keys.first() else {
        return 0;
    };
    let value: Option<u64> = redis::cmd("GET")
        .arg(key)
        .query_async(&mut raw)
        .await
        .unwrap();
    value.unwrap_or(0)
}

/// Admits through `gate` until the first refusal (at most `most`), each a success that
/// keeps its unit. Returns how many were admitted.
async fn use_up(gate: &Gate, customer: &str, most: u64) -> u64 {
    let mut admitted = 0;
    while admitted < most {
        match admit(gate, customer).await {
            Ok(context) => {
                gate.finish(&context, 200, None);
                admitted += 1;
            }
            Err(denial) => {
                assert_eq!(denial.reason(), DenialReason::LimitReached, "{denial:?}");
                break;
            }
        }
    }
    admitted
}

/// The admission of a request through a strict gate: always a future (it reserves in
/// Redis).
fn admitting(gate: &Gate, customer: &str) -> kelviq_client::gate::Admitting {
    match gate.admit(Some(customer.into())) {
        Admission::Loading(admitting) => admitting,
        Admission::Ready(ready) => panic!("a strict gate reserves in Redis: {ready:?}"),
    }
}

/// Pauses Redis's writes and scripts (reads go on), or resumes them.
async fn pause(pauser: &mut redis::aio::MultiplexedConnection, paused: bool) {
    let mut command = redis::cmd("CLIENT");
    if paused {
        command.arg("PAUSE").arg(5_000).arg("WRITE");
    } else {
        command.arg("UNPAUSE");
    }
    let _: () = command.query_async(pauser).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reservations_are_returned() {
    if !RedisServer::available() {
        return;
    }
    // Its own server: the test pauses it.
    let redis = RedisServer::start().unwrap();
    const CUSTOMER: &str = "cust_cancel";
    const ROUNDS: u64 = 15;
    let mock = tiny_mock(CUSTOMER).await;
    let prefix = prefix("cancel");
    let kelviq = holding_member(&mock, redis.url(), &prefix, Duration::from_secs(30));
    let gate = strict_gate(&kelviq);
    // Warm: the snapshot is cached and the connection up (a failure gives its unit back).
    let warm = admit(&gate, CUSTOMER).await.unwrap();
    gate.finish(&warm, 503, None);
    drop(warm);
    let settled = async || {
        eventually(Duration::from_secs(5), async || {
            holds(redis.url(), &prefix, CUSTOMER).await == 0
        })
        .await
    };
    assert!(settled().await, "the warm-up's unit never came back");
    let mut pauser = raw(redis.url()).await;
    for round in 0..ROUNDS {
        // 1. Dropped before it is polled: nothing was sent.
        drop(admitting(&gate, CUSTOMER));

        // 2. Dropped while its script is held in Redis: writes (and scripts) are paused,
        // the reservation is sent, and the admission is dropped before any answer.
        pause(&mut pauser, true).await;
        let mut in_flight = admitting(&gate, CUSTOMER);
        assert!(poll_once(&mut in_flight).await.is_pending());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            poll_once(&mut in_flight).await.is_pending(),
            "answered while Redis was paused"
        );
        drop(in_flight);
        pause(&mut pauser, false).await;
        // The paused script runs, then the guard's release after it.
        assert!(settled().await, "a reservation in flight kept its unit");

        // 3. Dropped after Redis answered, before the caller saw the answer: sent while
        // Redis is paused (so that the one poll is certainly pending), answered once it
        // resumes (the hold is in Redis), and never polled again.
        pause(&mut pauser, true).await;
        let mut answered = admitting(&gate, CUSTOMER);
        assert!(poll_once(&mut answered).await.is_pending());
        pause(&mut pauser, false).await;
        let granted = eventually(Duration::from_secs(5), async || {
            holds(redis.url(), &prefix, CUSTOMER).await == 1
        })
        .await;
        assert!(
            granted,
            "round {round}: the reservation never reached Redis"
        );
        drop(answered);
        assert!(settled().await, "an answered reservation kept its unit");
    }
    let fleet_stats = stats(&kelviq);
    // Every admission polled at least once had a guard, and every guard gave back.
    assert_eq!(fleet_stats.reservations_cancelled, 2 * ROUNDS);
    assert_eq!(counter(redis.url(), &prefix, CUSTOMER).await, 0);
    // The whole limit is there, and no more.
    assert_eq!(use_up(&gate, CUSTOMER, LIMIT + 1).await, LIMIT);
    assert_eq!(counter(redis.url(), &prefix, CUSTOMER).await, LIMIT);
    let denial = admit(&gate, CUSTOMER).await.unwrap_err();
    assert_eq!(denial.reason(), DenialReason::LimitReached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_instance_holds_expire() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_vanished";
    let mock = tiny_mock(CUSTOMER).await;
    let prefix = prefix("vanished");
    // The instance that dies holds the whole limit, on a runtime of its own, with holds of
    // 2 s; its contexts are forgotten (no Drop runs, nothing is given back) and its runtime
    // shut down (its renewals stop, as when a process dies).
    let doomed = holding_member(&mock, redis.url(), &prefix, Duration::from_secs(2));
    let dying = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let gate = strict_gate(&doomed);
            for _ in 0..LIMIT {
                let context = admit(&gate, CUSTOMER).await.unwrap();
                #[allow(clippy::mem_forget)]
                std::mem::forget(context);
            }
        });
        runtime.shutdown_background();
        drop(doomed);
    });
    dying.await.unwrap();
    assert_eq!(holds(redis.url(), &prefix, CUSTOMER).await, LIMIT as usize);
    let survivor = holding_member(&mock, redis.url(), &prefix, Duration::from_secs(2));
    let gate = strict_gate(&survivor);
    // Held by the dead instance: refused, until its holds lapse on Redis's clock; then the
    // whole limit is usable again, and no more.
    let mut admitted = use_up(&gate, CUSTOMER, LIMIT).await;
    assert_eq!(admitted, 0, "the dead instance's holds were not counted");
    let reopened = eventually(Duration::from_secs(20), async || {
        admitted += use_up(&gate, CUSTOMER, LIMIT - admitted).await;
        admitted == LIMIT
    })
    .await;
    assert!(
        reopened,
        "{admitted} of {LIMIT} usable after the holds lapsed"
    );
    assert_eq!(use_up(&gate, CUSTOMER, 1).await, 0);
    assert_eq!(stats(&survivor).holds_expired, LIMIT);
    assert!(
        eventually(Duration::from_secs(5), async || {
            counter(redis.url(), &prefix, CUSTOMER).await == LIMIT
                && holds(redis.url(), &prefix, CUSTOMER).await == 0
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_requests_keep_their_holds() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_long";
    let mock = tiny_mock(CUSTOMER).await;
    let prefix = prefix("long");
    let hold_time = Duration::from_secs(1);
    let fleet: Vec<Kelviq> = (0..2)
        .map(|_| holding_member(&mock, redis.url(), &prefix, hold_time))
        .collect();
    let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();
    // One long request on the first instance, the rest of the limit held on the second.
    let long = admit(&gates[0], CUSTOMER).await.unwrap();
    let mut others = Vec::new();
    for _ in 1..LIMIT {
        others.push(admit(&gates[1], CUSTOMER).await.unwrap());
    }
    // For several hold times, every further request is refused: the holds are renewed.
    let mut refused = 0;
    for _ in 0..16 {
        tokio::time::sleep(hold_time / 4).await;
        match admit(&gates[1], CUSTOMER).await {
            Ok(context) => panic!("admitted past the limit: a live hold lapsed ({context:?})"),
            Err(denial) => assert_eq!(denial.reason(), DenialReason::LimitReached),
        }
        refused += 1;
    }
    assert_eq!(refused, 16);
    assert_eq!(holds(redis.url(), &prefix, CUSTOMER).await, LIMIT as usize);
    // They all succeed: the limit is used, exactly.
    gates[0].finish(&long, 200, None);
    for context in &others {
        gates[1].finish(context, 200, None);
    }
    drop((long, others));
    assert!(
        eventually(Duration::from_secs(5), async || {
            holds(redis.url(), &prefix, CUSTOMER).await == 0
        })
        .await
    );
    assert_eq!(counter(redis.url(), &prefix, CUSTOMER).await, LIMIT);
    assert_eq!(use_up(&gates[0], CUSTOMER, 1).await, 0);
    for kelviq in &fleet {
        assert_eq!(stats(kelviq).holds_expired, 0);
        assert_eq!(stats(kelviq).reservation_fallbacks, 0);
    }
}

/// Handler holds in a strict fleet: each instance's hold is granted by the shared counter
/// too, so holds taken on two instances never add up past the limit; the unused part of
/// each is given back, and a gate that only meters (no `require`) enforces the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_holds_are_shared_across_the_fleet() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_fleet_hold";
    let mock = tiny_mock(CUSTOMER).await;
    let prefix = prefix("fleet-hold");
    let members: Vec<(Kelviq, Gate)> = (0..2)
        .map(|_| {
            let kelviq = holding_member(&mock, redis.url(), &prefix, Duration::from_secs(30));
            let gate = kelviq
                .gate()
                .meter("api-calls", 0)
                .fleet_limits(kelviq_client::fleet::FleetLimits::Strict)
                .build()
                .unwrap();
            (kelviq, gate)
        })
        .collect();
    let first = admit(&members[0].1, CUSTOMER).await.unwrap();
    let second = admit(&members[1].1, CUSTOMER).await.unwrap();
    // Each asks for 4: the first gets them, the second only what the fleet has left.
    assert_eq!(first.reserve(4).await.unwrap(), 4);
    assert_eq!(second.reserve(4).await.unwrap(), 1);
    // The fleet is at its limit: a new request is refused at admission, though the gate
    // only meters.
    let refused = admit(&members[1].1, CUSTOMER).await.unwrap_err();
    assert_eq!(refused.reason(), DenialReason::LimitReached);
    // The first used 2 of its 4: 2 go back to the fleet.
    first.set_usage_amount(2);
    assert!(members[0].1.finish(&first, 200, None).is_recorded());
    let counted = eventually(Duration::from_secs(5), async || {
        counter(redis.url(), &prefix, CUSTOMER).await == 3
    })
    .await;
    assert!(
        counted,
        "2 kept + 1 held: {}",
        counter(redis.url(), &prefix, CUSTOMER).await
    );
    let fourth = admit(&members[1].1, CUSTOMER).await.unwrap();
    assert_eq!(fourth.reserve(10).await.unwrap(), 2);
    drop((second, fourth));
    assert_eq!(
        stats(&members[0].0).reservations_refused + stats(&members[1].0).reservations_refused,
        1
    );
}
