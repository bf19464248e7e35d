//! A fleet of clients on a real `redis-server` (cargo feature `redis`): shared snapshots
//! with one loader, fleet-wide invalidation, strict shared limits, and Redis failing
//! without failing a request.
//!
//! Each test uses its own key prefix, so they share one server per test binary
//! ([`RedisServer::shared`]); the tests that stop Redis or kill its connections start
//! their own. Without `redis-server` they print a skip line (and fail when `CI=true`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use kelviq_client::fleet::{FleetConfig, FleetLimits, FleetStats};
use kelviq_client::gate::{Admission, DenialReason, Gate, RequestContext, UsageAmount};
use kelviq_client::meter::MeterConfig;
use kelviq_client::webhook::{self, Reception, Webhook, WebhookRoute};
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::{Feature, MockServer, Plan, RedisServer, Route, Seed, SeedCustomer};

use crate::support::client_for;

/// A key prefix no other test uses.
pub(crate) fn prefix(test: &str) -> String {
    format!("t-{test}-{:08x}", fastrand::u32(..))
}

/// A fleet member for `mock` on `redis`: its own local cache (loads waited for up to 5 s)
/// and meter; Redis commands get 500 ms and leases 2 s, generous for a busy 2-core box
/// (the defaults are 50 ms and 300 ms).
fn member(mock: &MockServer, redis: &str, prefix: &str) -> Kelviq {
    member_with(mock, FleetConfig::redis(redis).prefix(prefix))
}

pub(crate) fn member_with(mock: &MockServer, fleet: FleetConfig) -> Kelviq {
    client_for(mock)
        .entitlement_cache(CacheConfig::default().load_timeout(Duration::from_secs(5)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(20)))
        .fleet(
            fleet
                .command_timeout(Duration::from_millis(500))
                .lease_timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap()
}

/// A gate on `api-calls` metering one unit per success, its hard limit held fleet-wide.
pub(crate) fn strict_gate(kelviq: &Kelviq) -> Gate {
    shared_limit_gate(kelviq, FleetLimits::Strict)
}

/// A gate on `api-calls` metering one unit per success, its hard limit shared as `limits`.
fn shared_limit_gate(kelviq: &Kelviq, limits: FleetLimits) -> Gate {
    kelviq
        .gate()
        .require("api-calls")
        .meter("api-calls", 1)
        .fleet_limits(limits)
        .build()
        .unwrap()
}

/// Shuts every member's meter down, asserting that each delivered everything.
pub(crate) async fn shut_down_cleanly(fleet: &[Kelviq]) {
    for kelviq in fleet {
        let report = kelviq
            .usage_meter()
            .unwrap()
            .shutdown(Duration::from_secs(10))
            .await;
        assert!(report.unsent.is_empty() && report.unknown.is_empty());
    }
}

pub(crate) fn stats(kelviq: &Kelviq) -> FleetStats {
    kelviq.fleet_stats().expect("a fleet member")
}

/// The sum of one counter over the fleet.
pub(crate) fn total(fleet: &[Kelviq], counter: impl Fn(&FleetStats) -> u64) -> u64 {
    fleet.iter().map(|kelviq| counter(&stats(kelviq))).sum()
}

pub(crate) async fn admit(
    gate: &Gate,
    customer: &str,
) -> Result<RequestContext, kelviq_client::gate::Denial> {
    match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    }
}

/// A raw connection for looking at (and tampering with) the fleet's keys.
pub(crate) async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Polls `done` every 2 ms until it holds, for at most `within`.
pub(crate) async fn eventually(within: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

pub(crate) fn seed(customers: &[(&str, &str)]) -> Seed {
    let mut seed = Seed::empty()
        .plan(
            Plan::new("free")
                .feature(Feature::metered("api-calls").limit(1_000))
                .feature(Feature::customizable("seats", 1)),
        )
        .plan(
            Plan::new("pro")
                .feature(Feature::boolean("reports"))
                .feature(Feature::metered("api-calls").limit(1_000_000)),
        );
    for (customer, plan) in customers {
        seed = seed.customer(SeedCustomer::new(*customer).subscribe(*plan));
    }
    seed
}

pub(crate) async fn mock_with(customers: &[(&str, &str)]) -> MockServer {
    MockServer::builder()
        .seed(seed(customers))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_loads_each_customer_once() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    let mock = mock_with(&[("cust_once", "pro")]).await;
    let prefix = prefix("once");
    let fleet: Vec<Kelviq> = (0..4)
        .map(|_| member(&mock, redis.url(), &prefix))
        .collect();
    let checks: Vec<_> = (0..200)
        .map(|i| {
            let kelviq = fleet[i % 4].clone();
            tokio::spawn(async move { kelviq.entitlements_snapshot("cust_once").await })
        })
        .collect();
    for check in checks {
        let snapshot = check.await.unwrap().expect("every first check is answered");
        assert!(snapshot.snapshot().has_access("reports"));
    }
    assert_eq!(mock.entitlement_calls("cust_once"), 1);
    // One instance loaded for the fleet; the three others took its snapshot from Redis.
    assert_eq!(total(&fleet, |s| s.snapshots_loaded), 1);
    assert_eq!(total(&fleet, |s| s.snapshots_shared), 3);
    assert_eq!(total(&fleet, |s| s.load_fallbacks), 0);
    // A fifth instance, started later, costs no call either.
    let late = member(&mock, redis.url(), &prefix);
    assert!(
        late.entitlements()
            .has_access("cust_once", "reports")
            .await
            .unwrap()
    );
    assert_eq!(mock.entitlement_calls("cust_once"), 1);
}

/// A delivery as Kelviq signs it, about `customer`.
pub(crate) fn signed_delivery(secret: &str, id: &str, customer: &str) -> (HeaderMap, Vec<u8>) {
    let body = format!(r#"{{"type":"subscription.updated","data":{{"customerId":"{customer}"}}}}"#)
        .into_bytes();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut headers = HeaderMap::new();
    headers.insert(webhook::ID_HEADER, id.parse().unwrap());
    headers.insert(webhook::TIMESTAMP_HEADER, now.to_string().parse().unwrap());
    headers.insert(
        webhook::SIGNATURE_HEADER,
        webhook::sign(secret, id, now, &body).parse().unwrap(),
    );
    (headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_invalidates_every_instance() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_hook";
    const TRIALS: usize = 100;
    let mock = mock_with(&[(CUSTOMER, "free")]).await;
    let prefix = prefix("hook");
    let fleet: Vec<Kelviq> = (0..4)
        .map(|_| member(&mock, redis.url(), &prefix))
        .collect();
    for kelviq in &fleet {
        assert!(
            !kelviq
                .entitlements()
                .has_access(CUSTOMER, "reports")
                .await
                .unwrap()
        );
    }
    // Instance A's webhook endpoint, as the adapters run it: verify, then invalidate.
    let secret = "whsec_fleet";
    let route = WebhookRoute::new(Webhook::new(secret).unwrap());
    let mut latencies = Vec::with_capacity(3 * TRIALS);
    for trial in 0..TRIALS {
        let pro = trial % 2 == 0;
        mock.set_plan(CUSTOMER, if pro { "pro" } else { "free" })
            .unwrap();
        let (headers, body) = signed_delivery(secret, &format!("msg_{trial}"), CUSTOMER);
        let sent = Instant::now();
        match route.receive(&headers, &body) {
            Reception::Deliver { event, receipt } => {
                fleet[0].invalidate_entitlements(event.customer_id().unwrap());
                receipt.finish(200);
            }
            Reception::Answer(response) => panic!("refused: {}", response.status()),
        }
        // B, C and D, each polling as its requests would, until it answers the new plan.
        let watchers: Vec<_> = fleet[1..]
            .iter()
            .cloned()
            .map(|kelviq| {
                tokio::spawn(async move {
                    let deadline = sent + Duration::from_secs(10);
                    loop {
                        let answer = kelviq.entitlements_snapshot(CUSTOMER).await;
                        if answer.is_ok_and(|cached| cached.snapshot().has_access("reports") == pro)
                        {
                            return sent.elapsed();
                        }
                        assert!(
                            Instant::now() < deadline,
                            "the new plan never reached an instance"
                        );
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        for watcher in watchers {
            latencies.push(watcher.await.unwrap());
        }
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "webhook → other instances: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies[latencies.len() - 1]
    );
    // One upstream call per plan change (and the first load), not one per instance.
    assert_eq!(mock.entitlement_calls(CUSTOMER), TRIALS + 1);
    assert_eq!(
        total(&fleet, |s| s.invalidations_received),
        3 * TRIALS as u64
    );
}

/// Runs requests through `gate` for `customer`: the handler takes `pause` (a yield when
/// zero) and answers 503 to every 7th, 200 to the others. Returns (successes, refusals at
/// the limit).
pub(crate) async fn hammer(
    gate: Gate,
    customer: &'static str,
    requests: usize,
    pause: Duration,
) -> (u64, u64) {
    let (mut successes, mut refused) = (0, 0);
    for request in 0..requests {
        match admit(&gate, customer).await {
            Ok(context) => {
                let status = if request % 7 == 3 { 503 } else { 200 };
                if pause.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(pause).await;
                }
                gate.finish(&context, status, None);
                if status == 200 {
                    successes += 1;
                }
            }
            Err(denial) => {
                assert_eq!(denial.reason(), DenialReason::LimitReached, "{denial:?}");
                refused += 1;
            }
        }
    }
    (successes, refused)
}

/// The value of a customer's shared counter of `api-calls` (one period per test).
async fn counter(url: &str, prefix: &str, customer: &str) -> i64 {
    let mut raw = raw(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:{{{customer}}}:used:*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let value: Option<i64> = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut raw)
        .await
        .unwrap();
    value.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_limit_holds_across_instances() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_strict";
    let mock = mock_with(&[(CUSTOMER, "free")]).await;
    let prefix = prefix("strict");
    let fleet: Vec<Kelviq> = (0..4)
        .map(|_| member(&mock, redis.url(), &prefix))
        .collect();
    let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();
    // 4 instances × 32 workers × 12 requests: 1,536 attempts for a limit of 1,000.
    let workers: Vec<_> = (0..4 * 32)
        .map(|worker| {
            tokio::spawn(hammer(
                gates[worker % 4].clone(),
                CUSTOMER,
                12,
                Duration::ZERO,
            ))
        })
        .collect();
    let (mut successes, mut refused) = (0, 0);
    for worker in workers {
        let (ok, no) = worker.await.unwrap();
        successes += ok;
        refused += no;
    }
    assert!(refused > 0, "the limit refused nothing");
    assert!(
        successes <= 1_000,
        "{successes} successes for a limit of 1,000"
    );
    // Units given back by the 503s may land after the last attempts: use them up.
    let filled = eventually(Duration::from_secs(10), async || {
        while let Ok(context) = admit(&gates[0], CUSTOMER).await {
            gates[0].finish(&context, 200, None);
            successes += 1;
        }
        counter(redis.url(), &prefix, CUSTOMER).await == i64::try_from(successes).unwrap()
    })
    .await;
    assert!(filled, "the shared counter never matched the successes");
    assert_eq!(successes, 1_000);
    assert_eq!(total(&fleet, |s| s.reservation_fallbacks), 0);
    // Each instance applied only its own share locally: Redis is what refused.
    for kelviq in &fleet {
        let local = kelviq.cached_entitlements(CUSTOMER).unwrap();
        assert!(local.get("api-calls").unwrap().usage().unwrap() < 1_000);
    }
    shut_down_cleanly(&fleet).await;
    assert_eq!(mock.usage_total(CUSTOMER, "api-calls"), 1_000);
}

/// A fleet member whose fast limits sync every `interval`, and its fast gate on
/// `api-calls` (one unit per success).
fn fast_member(mock: &MockServer, redis: &str, prefix: &str, interval: Duration) -> (Kelviq, Gate) {
    let kelviq = member_with(
        mock,
        FleetConfig::redis(redis)
            .prefix(prefix)
            .sync_interval(interval),
    );
    let gate = shared_limit_gate(&kelviq, FleetLimits::Fast);
    (kelviq, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_limit_overshoot_is_bounded() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_fast";
    const LIMIT: u64 = 1_000;
    const INSTANCES: u64 = 4;
    const WORKERS: u64 = 32;
    let mock = mock_with(&[(CUSTOMER, "free")]).await;
    let prefix = prefix("fast");
    let (fleet, gates): (Vec<Kelviq>, Vec<Gate>) = (0..INSTANCES)
        .map(|_| fast_member(&mock, redis.url(), &prefix, Duration::from_millis(10)))
        .unzip();
    // 4 instances × 32 workers × 40 requests of 1 ms: 5,120 attempts for a limit of 1,000.
    let workers: Vec<_> = (0..INSTANCES * WORKERS)
        .map(|worker| {
            let gate = gates[usize::try_from(worker % INSTANCES).unwrap()].clone();
            tokio::spawn(hammer(gate, CUSTOMER, 40, Duration::from_millis(1)))
        })
        .collect();
    let (mut successes, mut refused) = (0, 0);
    for worker in workers {
        let (ok, no) = worker.await.unwrap();
        successes += ok;
        refused += no;
    }
    assert!(refused > 0, "the limit refused nothing");
    // The limit is reachable: once every view is synced, whatever is left can be used.
    let reached = eventually(Duration::from_secs(10), async || {
        while let Ok(context) = admit(&gates[0], CUSTOMER).await {
            gates[0].finish(&context, 200, None);
            successes += 1;
        }
        successes >= LIMIT
    })
    .await;
    assert!(reached, "only {successes} successes for a limit of {LIMIT}");
    // The documented bound, (N − 1) × A + (N + 1) × C × a, with A measured by the instances
    // once each has applied a round that read everything it recorded.
    let synced: Vec<u64> = fleet
        .iter()
        .map(|kelviq| stats(kelviq).limit_syncs)
        .collect();
    let caught_up = eventually(Duration::from_secs(5), async || {
        fleet
            .iter()
            .zip(&synced)
            .all(|(kelviq, before)| stats(kelviq).limit_syncs >= before + 2)
    })
    .await;
    assert!(caught_up, "the instances stopped syncing");
    // Every round reached Redis (else the bound does not hold, and a failure below would
    // mislead).
    assert_eq!(total(&fleet, |s| s.limit_sync_fallbacks), 0);
    let most_per_sync = fleet
        .iter()
        .map(|kelviq| stats(kelviq).limit_sync_max_units)
        .max()
        .unwrap();
    let bound = (INSTANCES - 1) * most_per_sync + (INSTANCES + 1) * WORKERS;
    eprintln!(
        "fast limits: {successes} successes for a limit of {LIMIT}; A = {most_per_sync}, \
         bound {LIMIT} + {bound}"
    );
    assert!(
        successes <= LIMIT + bound,
        "{successes} successes: beyond {LIMIT} + {bound}"
    );
    assert!(total(&fleet, |s| s.limit_syncs) > 0);
    assert_eq!(total(&fleet, |s| s.reservations_granted), 0);
    shut_down_cleanly(&fleet).await;
    assert_eq!(
        mock.usage_total(CUSTOMER, "api-calls"),
        i64::try_from(successes).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_limits_flip_an_idle_instance_within_a_few_syncs() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_fast_flip";
    let interval = Duration::from_millis(50);
    let mock = mock_with(&[(CUSTOMER, "free")]).await;
    let prefix = prefix("fast-flip");
    let (busy, busy_gate) = fast_member(&mock, redis.url(), &prefix, interval);
    let (idle, idle_gate) = fast_member(&mock, redis.url(), &prefix, interval);
    // The idle instance serves the customer once, then nothing more.
    let context = admit(&idle_gate, CUSTOMER).await.unwrap();
    idle_gate.finish(&context, 200, None);
    // The busy one uses the rest of the limit in one response: it holds all its view
    // leaves, and uses it.
    let context = admit(&busy_gate, CUSTOMER).await.unwrap();
    let held = context.reserve(999).await.unwrap();
    assert!(held >= 99, "{held}");
    busy_gate.finish(&context, 200, Some(UsageAmount(held)));
    let started = Instant::now();
    // Two syncs of each instance suffice (busy adds, idle reads); 20 leave room for a
    // busy box.
    let flipped = eventually(interval * 20, async || {
        matches!(
            admit(&idle_gate, CUSTOMER).await,
            Err(denial) if denial.reason() == DenialReason::LimitReached
        )
    })
    .await;
    assert!(
        flipped,
        "the idle instance still admits after 20 sync intervals"
    );
    eprintln!(
        "fast limits flipped the idle instance after {:?}",
        started.elapsed()
    );
    assert!(stats(&idle).limit_syncs > 0);
    assert_eq!(stats(&busy).limit_sync_fallbacks, 0);
    shut_down_cleanly(&[busy, idle]).await;
    assert_eq!(mock.usage_total(CUSTOMER, "api-calls"), 1_000);
}

/// `A`, the window of the overshoot bound, runs from the last round whose total was
/// applied: units taken by rounds that timed out (their answers lost) are in the next
/// window measured, not forgotten with those rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sync_rounds_lengthen_the_measured_window() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().unwrap();
    const CUSTOMER: &str = "cust_window";
    const UNITS: u64 = 100;
    let mock = mock_with(&[(CUSTOMER, "free")]).await;
    let kelviq = client_for(&mock)
        .entitlement_cache(CacheConfig::default().load_timeout(Duration::from_secs(5)))
        .fleet(
            FleetConfig::redis(redis.url())
                .prefix(prefix("window"))
                .sync_interval(Duration::from_millis(10))
                .command_timeout(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let gate = shared_limit_gate(&kelviq, FleetLimits::Fast);
    let context = admit(&gate, CUSTOMER).await.unwrap();
    gate.finish(&context, 200, None);
    assert!(
        eventually(Duration::from_secs(5), async || stats(&kelviq).limit_syncs
            >= 2)
        .await
    );
    assert!(stats(&kelviq).limit_sync_max_units < UNITS);
    // Redis stops answering for 600 ms: the rounds meanwhile take the units and time out.
    let mut pauser = raw(redis.url()).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600)
        .arg("ALL")
        .query_async(&mut pauser)
        .await
        .unwrap();
    for _ in 0..UNITS {
        let context = admit(&gate, CUSTOMER).await.unwrap();
        gate.finish(&context, 200, None);
    }
    assert!(
        eventually(Duration::from_secs(5), async || {
            stats(&kelviq).limit_sync_fallbacks >= 2
        })
        .await,
        "no round failed during the pause"
    );
    let synced = stats(&kelviq).limit_syncs;
    assert!(
        eventually(Duration::from_secs(10), async || {
            stats(&kelviq).limit_syncs >= synced + 2
        })
        .await,
        "the rounds did not resume"
    );
    let window = stats(&kelviq).limit_sync_max_units;
    assert!(
        window >= UNITS,
        "A = {window}: the failed rounds' units were forgotten"
    );
    assert!(window <= UNITS + 1, "A = {window}: more than was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_counter_is_seeded_from_kelviq_and_never_counts_twice() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_seeded";
    let mock = MockServer::builder()
        .seed(
            seed(&[]).customer(
                SeedCustomer::new(CUSTOMER)
                    .subscribe("free")
                    .usage("api-calls", 990),
            ),
        )
        .start()
        .await
        .unwrap();
    let prefix = prefix("seeded");
    let fleet: Vec<Kelviq> = (0..2)
        .map(|_| member(&mock, redis.url(), &prefix))
        .collect();
    let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();
    // Admits (and succeeds) up to `most` requests, until the first refusal.
    let admit_up_to = async |gate: &Gate, most: u64| {
        let mut successes = 0;
        while successes < most {
            let Ok(context) = admit(gate, CUSTOMER).await else {
                break;
            };
            gate.finish(&context, 200, None);
            successes += 1;
        }
        successes
    };
    let shared_counter = async || counter(redis.url(), &prefix, CUSTOMER).await;
    // An invalidation on the first instance; once the second has heard of it, the second
    // loads the customer again from Kelviq (storing it, and seeding the counter).
    let reload_through_a_webhook = async |fleet: &[Kelviq]| {
        fleet[0].invalidate_entitlements(CUSTOMER);
        let heard = eventually(Duration::from_secs(5), async || {
            fleet[1].cached_entitlements(CUSTOMER).is_none()
        })
        .await;
        assert!(heard, "the invalidation never arrived");
        fleet[1].entitlements_snapshot(CUSTOMER).await.unwrap();
    };
    // A request dropped before its response gives its unit back.
    let dropped = admit(&gates[1], CUSTOMER).await.unwrap();
    assert_eq!(
        shared_counter().await,
        991,
        "seeded from Kelviq's 990, plus 1"
    );
    drop(dropped);
    assert!(
        eventually(Duration::from_secs(5), async || shared_counter().await
            == 990)
        .await
    );
    // Kelviq counts 990 of 1,000. Five are used and delivered: they are now in Kelviq's
    // usage *and* in the counter.
    assert_eq!(admit_up_to(&gates[0], 5).await, 5);
    for kelviq in &fleet {
        kelviq.usage_meter().unwrap().flush().await.unwrap();
    }
    assert_eq!(mock.usage_total(CUSTOMER, "api-calls"), 995);
    // A new snapshot (after an invalidation) sets the counter to max(counter, usage):
    // 995, not 1,000 — the last five are still there, shared by both instances.
    reload_through_a_webhook(&fleet).await;
    assert_eq!(mock.entitlement_calls(CUSTOMER), 2);
    assert_eq!(shared_counter().await, 995);
    assert_eq!(
        admit_up_to(&gates[0], 3).await + admit_up_to(&gates[1], 100).await,
        5
    );
    assert_eq!(shared_counter().await, 1_000);
    assert_eq!(admit_up_to(&gates[0], 100).await, 0);
    // Someone lowers the usage in Kelviq's dashboard: the counter keeps the units it
    // counted (erring towards refusing) until it expires or the period ends.
    for kelviq in &fleet {
        kelviq.usage_meter().unwrap().flush().await.unwrap();
    }
    mock.set_usage(CUSTOMER, "api-calls", 990).unwrap();
    reload_through_a_webhook(&fleet).await;
    assert_eq!(shared_counter().await, 1_000);
    assert_eq!(admit_up_to(&gates[1], 100).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_loader_blocks_nobody() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    let mock = mock_with(&[("cust_dead", "pro")]).await;
    let prefix = prefix("dead");
    // A loader took the lease and died: nobody renews it.
    let mut raw = raw(redis.url()).await;
    let started = Instant::now();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:{{cust_dead}}:lease"))
        .arg("dead-loader")
        .arg("PX")
        .arg(300)
        .query_async(&mut raw)
        .await
        .unwrap();
    let kelviq = member(&mock, redis.url(), &prefix);
    let cached = kelviq.entitlements_snapshot("cust_dead").await.unwrap();
    assert!(cached.snapshot().has_access("reports"));
    // It waited for the dead lease to run out, then loaded for the fleet itself.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let stats = stats(&kelviq);
    assert_eq!((stats.load_waits, stats.snapshots_loaded), (1, 1));
    assert_eq!(mock.entitlement_calls("cust_dead"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_customer_ids_are_kept_apart() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    let ids = [
        ("a", "free"),
        ("a:b", "pro"),
        ("a}b", "free"),
        ("{a}", "pro"),
        ("a b", "free"),
        ("a%7Db", "pro"),
        ("ünï 客户", "pro"),
        ("}:snap", "free"),
    ];
    let mock = mock_with(&ids).await;
    let prefix = prefix("hostile");
    let loader = member(&mock, redis.url(), &prefix);
    let reader = member(&mock, redis.url(), &prefix);
    for (id, _) in ids {
        loader.entitlements_snapshot(id).await.unwrap();
    }
    for (id, plan) in ids {
        let has_reports = reader
            .entitlements()
            .has_access(id, "reports")
            .await
            .unwrap();
        assert_eq!(has_reports, plan == "pro", "{id:?}");
        assert_eq!(mock.entitlement_calls(id), 1, "{id:?}: taken from Redis");
    }
    let mut raw = raw(redis.url()).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*:snap"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(keys.len(), ids.len(), "{keys:?}");
    for key in &keys {
        // One hash tag, closed by the fleet's own brace: nothing inside it can end it.
        let tag = &key[prefix.len() + 1..key.len() - ":snap".len()];
        assert!(tag.starts_with('{') && tag.ends_with('}'), "{key}");
        assert!(
            !tag[1..tag.len() - 1].contains(['{', '}', ':', ' ']),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_load_keeps_its_result_out_of_redis() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    let mock = mock_with(&[("cust_race", "free")]).await;
    mock.set_route_latency(Route::Entitlements, Duration::from_millis(300));
    let prefix = prefix("race");
    let loader = member(&mock, redis.url(), &prefix);
    let other = member(&mock, redis.url(), &prefix);
    let load = tokio::spawn({
        let loader = loader.clone();
        async move { loader.entitlements_snapshot("cust_race").await }
    });
    assert!(
        eventually(Duration::from_secs(5), async || mock
            .entitlement_calls("cust_race")
            == 1)
        .await
    );
    // The plan changes while the (old) answer is on its way.
    other.invalidate_entitlements("cust_race");
    assert!(
        eventually(Duration::from_secs(5), async || stats(&other)
            .invalidations_sent
            == 1)
        .await
    );
    load.await.unwrap().unwrap();
    let mut raw = raw(redis.url()).await;
    let shared: bool = redis::cmd("EXISTS")
        .arg(format!("{prefix}:{{cust_race}}:snap"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!shared, "a load older than an invalidation was shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriber_reconnects_by_itself() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().unwrap();
    let mock = mock_with(&[("cust_sub", "free")]).await;
    let prefix = prefix("sub");
    let sender = member(&mock, redis.url(), &prefix);
    let receiver = member(&mock, redis.url(), &prefix);
    assert!(
        !receiver
            .entitlements()
            .has_access("cust_sub", "reports")
            .await
            .unwrap()
    );
    // Every subscriber connection is cut.
    let mut raw = raw(redis.url()).await;
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || stats(&receiver)
            .subscriber_reconnects
            >= 1)
        .await,
        "the subscriber did not come back"
    );
    mock.set_plan("cust_sub", "pro").unwrap();
    sender.invalidate_entitlements("cust_sub");
    assert!(
        eventually(Duration::from_secs(10), async || {
            receiver
                .entitlements()
                .has_access("cust_sub", "reports")
                .await
                .unwrap()
        })
        .await,
        "an invalidation after the reconnection did not arrive"
    );
}

#[tokio::test]
async fn without_redis_every_step_falls_back_to_one_instance() {
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock = mock_with(&[("cust_alone", "free")]).await;
    let kelviq = client_for(&mock)
        .fleet(FleetConfig::redis(format!("redis://127.0.0.1:{port}")).prefix(prefix("alone")))
        .build()
        .unwrap();
    let gate = strict_gate(&kelviq);
    let context = admit(&gate, "cust_alone")
        .await
        .expect("admitted on the local snapshot");
    assert!(gate.finish(&context, 200, None).is_recorded());
    kelviq.invalidate_entitlements("cust_alone");
    assert!(admit(&gate, "cust_alone").await.is_ok());
    let stats = stats(&kelviq);
    assert_eq!(stats.load_fallbacks, 2);
    assert_eq!(stats.reservation_fallbacks, 2);
    assert!(stats.redis_errors >= 4, "{stats:?}");
}

#[tokio::test]
async fn fleet_limits_need_a_fleet_and_a_meter() {
    let mock = mock_with(&[]).await;
    let alone = client_for(&mock).build().unwrap();
    let error = alone
        .gate()
        .meter("api-calls", 1)
        .fleet_limits(FleetLimits::Strict)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("fleet"), "{error}");
    let member = client_for(&mock)
        .fleet(FleetConfig::redis("redis://127.0.0.1:1"))
        .build()
        .unwrap();
    let error = member
        .gate()
        .require("api-calls")
        .fleet_limits(FleetLimits::Strict)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("meter"), "{error}");
    let error = client_for(&mock)
        .no_entitlement_cache()
        .fleet(FleetConfig::redis("redis://127.0.0.1:1"))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("cache"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_no_request() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().unwrap();
    let customers: Vec<String> = (0..20).map(|i| format!("cust_{i}")).collect();
    let mut seed = seed(&[]);
    for customer in &customers {
        seed = seed.customer(SeedCustomer::new(customer.as_str()).subscribe("pro"));
    }
    let mock = MockServer::builder().seed(seed).start().await.unwrap();
    let prefix = prefix("outage");
    // The default command timeout (50 ms) and lease (300 ms), as in production.
    let fleet: Vec<Kelviq> = (0..2)
        .map(|_| {
            client_for(&mock)
                .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(20)))
                .fleet(FleetConfig::redis(redis.url()).prefix(&prefix))
                .build()
                .unwrap()
        })
        .collect();
    let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();
    let customers: Arc<Vec<String>> = Arc::new(customers);
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..16)
        .map(|worker| {
            let gate = gates[worker % 2].clone();
            let kelviq = fleet[worker % 2].clone();
            let (customers, stop, failed, served) = (
                customers.clone(),
                stop.clone(),
                failed.clone(),
                served.clone(),
            );
            tokio::spawn(async move {
                let mut request = worker;
                while !stop.load(Ordering::Relaxed) {
                    let customer = &customers[request % customers.len()];
                    match admit(&gate, customer).await {
                        Ok(context) => {
                            gate.finish(&context, 200, None);
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // Now and then a webhook: the customer is loaded again.
                    if request % 50 == 0 {
                        kelviq.invalidate_entitlements(customer);
                    }
                    request += 16;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    let reserved = |fleet: &[Kelviq]| total(fleet, |s| s.reservations_granted);
    assert!(eventually(Duration::from_secs(10), async || reserved(&fleet) > 100).await);
    redis.stop();
    let errors_before = total(&fleet, |s| s.redis_errors);
    assert!(
        eventually(Duration::from_secs(10), async || total(&fleet, |s| s
            .redis_errors)
            > errors_before + 50)
        .await,
        "the outage was not noticed"
    );
    let served_in_outage = served.load(Ordering::Relaxed);
    assert!(
        eventually(Duration::from_secs(10), async || served
            .load(Ordering::Relaxed)
            > served_in_outage + 200)
        .await
    );
    redis.restart().unwrap();
    let after_restart = reserved(&fleet);
    assert!(
        eventually(Duration::from_secs(20), async || reserved(&fleet)
            > after_restart + 100)
        .await,
        "the fleet did not come back to Redis"
    );
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed because Redis did"
    );
    assert!(total(&fleet, |s| s.reservation_fallbacks) > 0);
    assert!(
        eventually(Duration::from_secs(10), async || total(&fleet, |s| s
            .subscriber_reconnects)
            >= 2)
        .await,
        "a subscriber did not come back"
    );
    // Every unit is delivered, or reported as unknown or pending: none is lost silently.
    let (mut sent, mut unknown, mut recorded, mut pushed) = (0, 0, 0, 0);
    for kelviq in &fleet {
        let report = kelviq
            .usage_meter()
            .unwrap()
            .shutdown(Duration::from_secs(10))
            .await;
        let stats = report.stats;
        assert_eq!(
            stats.recorded,
            stats.sent + stats.failed + stats.unknown + stats.pending
        );
        assert_eq!(stats.failed, 0);
        (sent, unknown, recorded, pushed) = (
            sent + stats.sent,
            unknown + stats.unknown,
            recorded + stats.recorded,
            pushed + stats.pushed,
        );
    }
    assert!(pushed > 0, "no usage went through redis");
    assert_eq!(recorded, i128::from(served.load(Ordering::Relaxed)));
    let delivered: i64 = customers
        .iter()
        .map(|c| mock.usage_total(c, "api-calls"))
        .sum();
    // Nothing twice. This Redis runs without persistence: the usage it held when it was
    // killed is gone with it (durable usage is as durable as the Redis), so only what
    // was delivered directly is sure to be there.
    let delivered = i128::from(delivered);
    assert!(
        delivered <= sent + unknown,
        "{delivered} > {sent} + {unknown}"
    );
    assert!(
        delivered >= sent - pushed,
        "{delivered} < {sent} - {pushed}"
    );
}

/// Whether the fleet's delivery lease is held (by anyone) under `prefix`.
async fn delivery_lease_held(url: &str, prefix: &str) -> bool {
    let held: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}:fleet:delivery"))
        .query_async(&mut raw(url).await)
        .await
        .unwrap();
    held.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_usage_outlives_its_instance() {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    const CUSTOMER: &str = "cust_durable";
    let mock = mock_with(&[(CUSTOMER, "pro")]).await;
    let before = mock.usage_total(CUSTOMER, "api-calls");
    let prefix = prefix("durable");
    // B starts first and takes the delivery lease at its first flush.
    let b = member(&mock, redis.url(), &prefix);
    b.usage_meter().unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || {
            delivery_lease_held(redis.url(), &prefix).await
        })
        .await
    );
    // A records on a runtime of its own, pushes, and dies with it: no shutdown, no drain.
    let (url, prefix_a) = (redis.url().to_owned(), prefix.clone());
    let (a_stats, a_fleet) = {
        let (api, edge, token) = (
            mock.url().to_owned(),
            mock.edge_url().to_owned(),
            mock.token().to_owned(),
        );
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let stats = runtime.block_on(async {
                let a = Kelviq::builder()
                    .access_token(token)
                    .api_url(api)
                    .edge_url(edge)
                    .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(20)))
                    .fleet(
                        FleetConfig::redis(&url)
                            .prefix(&prefix_a)
                            .command_timeout(Duration::from_millis(500)),
                    )
                    .build()
                    .unwrap();
                let meter = a.usage_meter().unwrap();
                for _ in 0..100 {
                    meter.record(CUSTOMER, "api-calls", 1).unwrap();
                }
                let pushed = eventually(Duration::from_secs(10), async || {
                    meter.stats().pushed == 100
                })
                .await;
                assert!(pushed, "{:?}", meter.stats());
                (meter.stats(), a)
            });
            // The process dies: its tasks stop where they are.
            runtime.shutdown_background();
            let (stats, a) = stats;
            (stats, a.fleet_stats().unwrap())
        })
        .join()
        .unwrap()
    };
    assert_eq!(a_stats.sent, 100);
    assert_eq!(a_stats.sent_requests, 0, "A sent nothing to Kelviq itself");
    // B, the lease holder, delivers what A pushed.
    assert!(
        eventually(Duration::from_secs(10), async || {
            mock.usage_total(CUSTOMER, "api-calls") == before + 100
        })
        .await,
        "A's pushed usage was not delivered: {}",
        mock.usage_total(CUSTOMER, "api-calls") - before
    );
    // Mostly B, the lease holder; A too, had it taken the lease over (a busy machine
    // can keep B from renewing it in time). Counted right after the report.
    let delivered = eventually(Duration::from_secs(5), async || {
        stats(&b).usage_delivered + a_fleet.usage_delivered == 100
    })
    .await;
    assert!(delivered, "{:?} {a_fleet:?}", stats(&b));
    let report = b
        .usage_meter()
        .unwrap()
        .shutdown(Duration::from_secs(5))
        .await;
    assert_eq!(report.stats.recorded, 0);
    assert_eq!(mock.usage_total(CUSTOMER, "api-calls"), before + 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_during_delivery_delivers_once() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().unwrap();
    const CUSTOMER: &str = "cust_paused";
    let mock = mock_with(&[(CUSTOMER, "pro")]).await;
    let before = mock.usage_total(CUSTOMER, "api-calls");
    let prefix = prefix("paused");
    // Redis commands get 50 ms: a pause of Redis makes them time out mid-delivery.
    let kelviq = client_for(&mock)
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .fleet(FleetConfig::redis(redis.url()).prefix(&prefix))
        .build()
        .unwrap();
    let meter = kelviq.usage_meter().unwrap().clone();
    let recording = {
        let meter = meter.clone();
        tokio::spawn(async move {
            for _ in 0..400 {
                meter.record(CUSTOMER, "api-calls", 1).unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut pauser = raw(redis.url()).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(120)
            .arg("ALL")
            .query_async(&mut pauser)
            .await
            .unwrap();
    }
    recording.await.unwrap();
    // Every unit reaches Kelviq once: those whose settlement timed out stay in flight
    // (never sent again), those whose take timed out are given back and delivered.
    assert!(
        eventually(Duration::from_secs(20), async || {
            meter.flush().await.unwrap();
            let stats = meter.stats();
            let delivered = mock.usage_total(CUSTOMER, "api-calls") - before;
            i128::from(delivered) == stats.sent && stats.pending == 0
        })
        .await,
        "{:?} {:?} delivered {}",
        meter.stats(),
        stats(&kelviq),
        mock.usage_total(CUSTOMER, "api-calls") - before
    );
    let stats_now = meter.stats();
    assert_eq!(stats_now.recorded, 400);
    assert_eq!(stats_now.recorded, stats_now.sent + stats_now.unknown);
    assert!(
        stats(&kelviq).redis_errors > 0,
        "the pauses were not noticed"
    );
    for _ in 0..5 {
        meter.flush().await.unwrap();
    }
    assert_eq!(
        i128::from(mock.usage_total(CUSTOMER, "api-calls") - before),
        stats_now.sent,
        "a unit was delivered twice"
    );
}
