//! What joining a fleet on Redis costs a request, beside the single-instance client in the
//! same run (a real `redis-server` on loopback, kelviq-mock as Kelviq):
//!
//! - `warm_request`: a metered request on a warm cache, `Gate::admit` then
//!   `Gate::finish(200)`: single instance; a fleet member without shared limits; a fleet
//!   member with [`FleetLimits::Strict`] (one Redis round trip: the reservation); a fleet
//!   member with [`FleetLimits::Fast`] (no Redis on the request path: the units are
//!   synced in the background);
//! - `local_miss`: a check whose snapshot is not in the local cache: loaded from Kelviq
//!   (single instance) against taken from Redis (a fleet member, another instance having
//!   loaded it).
//!
//! Run: `cargo bench -p kelviq-client --features redis --bench fleet`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kelviq_client::fleet::{FleetConfig, FleetLimits};
use kelviq_client::gate::{Admission, Gate};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq, KelviqBuilder};
use kelviq_mock::{Feature, MockServer, Plan, RedisServer, Seed, SeedCustomer};

const CUSTOMER: &str = "cust_bench";

fn builder(mock: &MockServer) -> KelviqBuilder {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(50)))
}

async fn request(gate: &Gate, customer: &Arc<str>) -> bool {
    let context = match gate.admit(Some(Arc::clone(customer))) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    };
    match context {
        Ok(context) => gate.finish(&context, 200, None).is_recorded(),
        Err(_) => false,
    }
}

fn fleet(c: &mut Criterion) {
    let Some(redis) = RedisServer::shared() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seed = Seed::empty()
        .plan(Plan::new("big").feature(Feature::metered("api-calls").limit(1_000_000_000_000)))
        .customer(SeedCustomer::new(CUSTOMER).subscribe("big"));
    let mock = runtime
        .block_on(MockServer::builder().seed(seed).start())
        .unwrap();
    let prefix = format!("bench-{:08x}", fastrand::u32(..));
    let fleet_config = || FleetConfig::redis(redis.url()).prefix(&prefix);
    let single = builder(&mock).build().unwrap();
    let member = builder(&mock).fleet(fleet_config()).build().unwrap();
    let other = builder(&mock).fleet(fleet_config()).build().unwrap();
    let fast = builder(&mock).fleet(fleet_config()).build().unwrap();
    let customer: Arc<str> = CUSTOMER.into();
    let (single_gate, member_gate, strict_gate, fast_gate) = {
        let _guard = runtime.enter();
        let gate = |kelviq: &Kelviq| kelviq.gate().require("api-calls").meter("api-calls", 1);
        (
            gate(&single).build().unwrap(),
            gate(&member).build().unwrap(),
            gate(&other)
                .fleet_limits(FleetLimits::Strict)
                .build()
                .unwrap(),
            gate(&fast).fleet_limits(FleetLimits::Fast).build().unwrap(),
        )
    };
    runtime.block_on(async {
        for kelviq in [&single, &member, &other, &fast] {
            kelviq.entitlements_snapshot(CUSTOMER).await.unwrap();
        }
    });

    let mut warm = c.benchmark_group("warm_request");
    for (name, gate) in [
        ("single_instance", &single_gate),
        ("fleet_member", &member_gate),
        ("fleet_strict", &strict_gate),
        ("fleet_fast", &fast_gate),
    ] {
        warm.bench_function(name, |b| {
            b.iter(|| runtime.block_on(request(black_box(gate), &customer)));
        });
    }
    warm.finish();

    let mut miss = c.benchmark_group("local_miss");
    miss.bench_function("single_instance_from_kelviq", |b| {
        b.iter(|| {
            single.invalidate_all_entitlements();
            runtime
                .block_on(single.entitlements_snapshot(black_box(CUSTOMER)))
                .unwrap()
        });
    });
    // `invalidate_all_entitlements` is local: the snapshot stays shared in Redis.
    miss.bench_function("fleet_from_redis", |b| {
        b.iter(|| {
            member.invalidate_all_entitlements();
            runtime
                .block_on(member.entitlements_snapshot(black_box(CUSTOMER)))
                .unwrap()
        });
    });
    miss.finish();
    let stats = member.fleet_stats().unwrap();
    assert_eq!(stats.load_fallbacks, 0, "{stats:?}");
    let stats = fast.fleet_stats().unwrap();
    assert!(stats.limit_syncs > 0, "{stats:?}");
    assert_eq!(stats.limit_sync_fallbacks, 0, "{stats:?}");
    for kelviq in [&single, &member, &other, &fast] {
        runtime.block_on(
            kelviq
                .usage_meter()
                .unwrap()
                .shutdown(Duration::from_secs(10)),
        );
    }
}

criterion_group!(benches, fleet);
criterion_main!(benches);
