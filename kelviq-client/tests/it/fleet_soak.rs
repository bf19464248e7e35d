//! Soak tests of a fleet (cargo feature `redis`): two instances on a real `redis-server`
//! under steady load, in real time, for longer than every periodic thing the fleet has
//! (the subscriber's 5 s heartbeat, the cache's TTL and its refresh-ahead, the meter's
//! flushes, the delivery lease).
//!
//! The one place real time is the point: a heartbeat that failed every 5 s emptied every
//! fleet cache every 5 s, and no test lived 5 s. So these tests assert counts over many
//! cycles (reconnects, Redis errors, warnings, upstream calls per TTL, units delivered),
//! never durations. Each starts its own Redis, so that no other test's load or tampering
//! reaches it, and counts the warnings logged on its own runtime's threads only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kelviq_client::fleet::FleetConfig;
use kelviq_client::gate::Gate;
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::{MockServer, RedisServer, Route};
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::fleet::{admit, eventually, prefix, raw, seed, stats, strict_gate, total};
use crate::support::client_for;

/// Customers under load, every one of them in use all along.
const CUSTOMERS: usize = 300;
/// The cache's TTL: short, so that the soak lives through several.
const TTL: Duration = Duration::from_secs(5);
/// How long the load runs: nine TTLs, nine heartbeats.
const SOAK: Duration = Duration::from_secs(45);
/// Concurrent requesters, spread over the two instances.
const WORKERS: usize = 8;
/// Each requester's pause between two requests: about 500 requests a second in all.
const PACE: Duration = Duration::from_millis(15);

/// The warnings (and errors) logged by kelviq-client, as `target field=value …`.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Those logged by the fleet.
    fn fleet(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|warning| warning.starts_with("kelviq_client::fleet"))
            .collect()
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        if matches!(*metadata.level(), Level::WARN | Level::ERROR)
            && metadata.target().starts_with("kelviq_client")
        {
            let mut line = metadata.target().to_owned();
            event.record(&mut Fields(&mut line));
            self.0.lock().unwrap().push(line);
        }
    }
}

thread_local! {
    /// The capturing subscriber, as this thread's default while it runs the soak.
    static CAPTURE: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `soak` on a multi-threaded runtime of its own whose every thread (and this one)
/// logs into `warnings`, so that the fleet's background tasks are heard and no other
/// test's are.
fn capturing<F: Future<Output = ()>>(warnings: &Warnings, soak: F) {
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(LevelFilter::WARN)
            .with(warnings.clone()),
    );
    let on_start = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&on_start);
            CAPTURE.with(|capture| *capture.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| CAPTURE.with(|capture| drop(capture.borrow_mut().take())))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || runtime.block_on(soak));
    runtime.shutdown_timeout(Duration::from_secs(10));
}

/// The soak's customers, `cust_soak_0` …, on the pro plan (`api-calls` up to a million:
/// nobody reaches a limit).
fn customers() -> Arc<Vec<String>> {
    Arc::new((0..CUSTOMERS).map(|i| format!("cust_soak_{i}")).collect())
}

/// A mock knowing `customers`, whose journal keeps every request of the soak.
async fn soak_mock(customers: &[String]) -> MockServer {
    let pairs: Vec<(&str, &str)> = customers.iter().map(|c| (c.as_str(), "pro")).collect();
    MockServer::builder()
        .seed(seed(&pairs))
        .journal_capacity(1 << 20)
        .start()
        .await
        .unwrap()
}

/// A fleet member as `fleet::member`'s (commands get 500 ms on a busy 2-core box), with
/// the soak's short TTL.
fn soak_member(mock: &MockServer, redis: &str, prefix: &str) -> Kelviq {
    client_for(mock)
        .entitlement_cache(
            CacheConfig::default()
                .ttl(TTL)
                .load_timeout(Duration::from_secs(5)),
        )
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(20)))
        .fleet(
            FleetConfig::redis(redis)
                .prefix(prefix)
                .command_timeout(Duration::from_millis(500))
                .lease_timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap()
}

/// Steady load: [`WORKERS`] requesters take the customers in turn, each request admitted
/// through a strict gate (a reservation in Redis) and finished with a 200 (one unit
/// metered).
struct Load {
    stop: Arc<AtomicBool>,
    admitted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(gates: &[Gate], customers: &Arc<Vec<String>>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let admitted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let workers = (0..WORKERS)
            .map(|worker| {
                let gate = gates[worker % gates.len()].clone();
                let (customers, stop, admitted, refused) = (
                    Arc::clone(customers),
                    Arc::clone(&stop),
                    Arc::clone(&admitted),
                    Arc::clone(&refused),
                );
                tokio::spawn(async move {
                    let mut request = worker;
                    while !stop.load(Ordering::Relaxed) {
                        let customer = &customers[request % customers.len()];
                        match admit(&gate, customer).await {
                            Ok(context) => {
                                assert!(gate.finish(&context, 200, None).is_recorded());
                                admitted.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(denial) => {
                                eprintln!("refused: {denial:?}");
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        request += WORKERS;
                        tokio::time::sleep(PACE).await;
                    }
                })
            })
            .collect();
        Load {
            stop,
            admitted,
            refused,
            workers,
        }
    }

    /// Stops the load; answers the units admitted (each one metered) and the refusals.
    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.unwrap();
        }
        (
            self.admitted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// What both meters did, shut down one after the other (the first delivers the fleet's
/// usage in Redis, the second what is left), summed.
#[derive(Debug, Default)]
struct Delivery {
    recorded: i128,
    sent: i128,
    pushed: i128,
    unknown: i128,
    failed: i128,
    pending: i128,
}

async fn shut_down(fleet: &[Kelviq]) -> Delivery {
    let mut delivery = Delivery::default();
    for kelviq in fleet {
        let stats = kelviq
            .usage_meter()
            .unwrap()
            .shutdown(Duration::from_secs(10))
            .await
            .stats;
        delivery.recorded += stats.recorded;
        delivery.sent += stats.sent;
        delivery.pushed += stats.pushed;
        delivery.unknown += stats.unknown;
        delivery.failed += stats.failed;
        delivery.pending += stats.pending;
    }
    delivery
}

/// The units of `api-calls` Kelviq (the mock) counted for the customers.
fn delivered(mock: &MockServer, customers: &[String]) -> i128 {
    customers
        .iter()
        .map(|customer| i128::from(mock.usage_total(customer, "api-calls")))
        .sum()
}

#[test]
fn fleet_soaks_quietly() {
    if !RedisServer::available() {
        return;
    }
    let warnings = Warnings::default();
    capturing(&warnings, async {
        let redis = RedisServer::start().unwrap();
        let customers = customers();
        let mock = soak_mock(&customers).await;
        let prefix = prefix("soak");
        let fleet: Vec<Kelviq> = (0..2)
            .map(|_| soak_member(&mock, redis.url(), &prefix))
            .collect();
        let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();

        let started = Instant::now();
        let load = Load::start(&gates, &customers);
        tokio::time::sleep(SOAK).await;
        let (admitted, refused) = load.stop().await;
        let elapsed = started.elapsed();

        let fleet_stats: Vec<_> = fleet.iter().map(stats).collect();
        let calls = mock.calls(Route::Entitlements);
        // Each customer's snapshot is fetched once per TTL by the whole fleet, and
        // refreshed ahead from Redis: at most one call per customer per TTL, plus the first.
        let cycles = elapsed.as_secs() / TTL.as_secs() + 1;
        let bound = CUSTOMERS * usize::try_from(cycles).unwrap();
        eprintln!(
            "soak: {elapsed:.1?}, {admitted} requests admitted, {refused} refused, \
             {calls} entitlement calls (bound {bound}), fleet: {fleet_stats:#?}"
        );
        assert_eq!(refused, 0, "a request was refused");
        assert!(admitted > 5_000, "too little load: {admitted}");
        assert_eq!(
            total(&fleet, |s| s.subscriber_reconnects),
            0,
            "a subscriber reconnected"
        );
        assert_eq!(total(&fleet, |s| s.redis_errors), 0, "redis failed");
        assert_eq!(total(&fleet, |s| s.load_fallbacks), 0);
        assert!(
            fleet_stats.iter().all(|s| s.subscriber_connected),
            "a subscriber is not connected at the end"
        );
        assert!(
            calls <= bound,
            "{calls} entitlement calls for {CUSTOMERS} customers in {elapsed:?}"
        );
        assert_eq!(mock.journal_dropped(), 0);

        // Every unit admitted reaches Kelviq exactly once.
        let delivery = shut_down(&fleet).await;
        let delivered = delivered(&mock, &customers);
        eprintln!("soak: {delivered} units delivered of {admitted} admitted: {delivery:?}");
        assert_eq!(delivery.recorded, i128::from(admitted));
        assert_eq!(delivery.sent, delivery.recorded, "{delivery:?}");
        assert!(delivery.pushed > 0, "no usage went through redis");
        assert_eq!(
            delivered,
            i128::from(admitted),
            "a unit was lost or counted twice"
        );
    });
    let all = warnings.all();
    eprintln!("soak: {} warnings: {all:#?}", all.len());
    assert_eq!(warnings.fleet(), Vec::<String>::new(), "the fleet warned");
}

#[test]
fn fleet_survives_redis_restarts_and_pauses() {
    if !RedisServer::available() {
        return;
    }
    let warnings = Warnings::default();
    capturing(&warnings, async {
        let redis = Arc::new(RedisServer::start().unwrap());
        let customers = customers();
        let mock = soak_mock(&customers).await;
        let prefix = prefix("chaos");
        let fleet: Vec<Kelviq> = (0..2)
            .map(|_| soak_member(&mock, redis.url(), &prefix))
            .collect();
        let gates: Vec<Gate> = fleet.iter().map(strict_gate).collect();

        let started = Instant::now();
        let load = Load::start(&gates, &customers);
        let admitted_now = || load.admitted.load(Ordering::Relaxed);
        // Calm first: two heartbeats.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(total(&fleet, |s| s.subscriber_reconnects), 0);
        // Redis dies (SIGKILL) and comes back empty on the same port two seconds later.
        let killed = Arc::clone(&redis);
        tokio::task::spawn_blocking(move || {
            killed.stop();
            std::thread::sleep(Duration::from_secs(2));
            killed.restart().unwrap();
        })
        .await
        .unwrap();
        let during = admitted_now();
        assert!(
            eventually(Duration::from_secs(20), async || {
                fleet.iter().all(|kelviq| {
                    stats(kelviq).subscriber_reconnects >= 1 && stats(kelviq).subscriber_connected
                })
            })
            .await,
            "a subscriber did not come back after the restart: {:?}",
            fleet.iter().map(stats).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            admitted_now() > during + 500,
            "requests stopped after the restart"
        );
        // Redis stops answering anyone for 7 s: longer than a heartbeat and the wait for its
        // answer, so that every subscriber finds its connection silent.
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(7_000)
            .arg("ALL")
            .query_async(&mut raw(redis.url()).await)
            .await
            .unwrap();
        let paused = admitted_now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            admitted_now() > paused,
            "requests stopped while Redis was paused"
        );
        assert!(
            eventually(Duration::from_secs(20), async || {
                fleet.iter().all(|kelviq| {
                    stats(kelviq).subscriber_reconnects >= 2 && stats(kelviq).subscriber_connected
                })
            })
            .await,
            "a subscriber did not come back after the pause: {:?}",
            fleet.iter().map(stats).collect::<Vec<_>>()
        );
        // Then calm again, for longer than a heartbeat: not one more error or reconnect.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (errors, reconnects) = (
            total(&fleet, |s| s.redis_errors),
            total(&fleet, |s| s.subscriber_reconnects),
        );
        tokio::time::sleep(Duration::from_secs(8)).await;
        let (admitted, refused) = load.stop().await;
        let elapsed = started.elapsed();

        let fleet_stats: Vec<_> = fleet.iter().map(stats).collect();
        eprintln!(
            "chaos: {elapsed:.1?}, {admitted} requests admitted, {refused} refused, \
             {} entitlement calls, fleet: {fleet_stats:#?}",
            mock.calls(Route::Entitlements)
        );
        assert_eq!(
            total(&fleet, |s| s.redis_errors),
            errors,
            "errors after the chaos"
        );
        assert_eq!(
            total(&fleet, |s| s.subscriber_reconnects),
            reconnects,
            "reconnects after the chaos"
        );
        assert!(fleet_stats.iter().all(|s| s.subscriber_connected));
        assert_eq!(refused, 0, "a request failed because Redis did");
        assert!(
            total(&fleet, |s| s.redis_errors) > 0,
            "the chaos went unnoticed"
        );

        // Nothing twice. This Redis keeps nothing: the usage it held when it was killed is
        // gone with it (durable usage is as durable as the Redis), so only what was sent
        // directly is sure to be there.
        let delivery = shut_down(&fleet).await;
        let delivered = delivered(&mock, &customers);
        eprintln!("chaos: {delivered} units delivered of {admitted} admitted: {delivery:?}");
        assert_eq!(delivery.recorded, i128::from(admitted));
        assert_eq!(delivery.failed, 0);
        let Delivery {
            sent,
            pushed,
            unknown,
            ..
        } = delivery;
        assert!(
            delivered <= sent + unknown,
            "{delivered} > {sent} + {unknown}"
        );
        assert!(
            delivered >= sent - pushed,
            "{delivered} < {sent} - {pushed}"
        );
    });
    // Each instance warns about Redis at most every 10 s, whatever the number of failures.
    let fleet_warnings = warnings.fleet();
    eprintln!("chaos: warnings: {fleet_warnings:#?}");
    assert!(!fleet_warnings.is_empty(), "the chaos was not logged");
    assert!(fleet_warnings.len() <= 2 * 6, "{fleet_warnings:#?}");
}
