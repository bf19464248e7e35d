//! The request-path costs of kelviq-client, each beside a baseline measured in the same run:
//!
//! - a warm entitlement check (`cached_entitlements` + `has_access`, and the same read in
//!   place with `with_cached_entitlements`), and a gate admitting
//!   a request on a warm cache (`Gate::admit`, what every adapter calls), against a plain
//!   `HashMap<String, HashMap<String, bool>>` lookup;
//! - recording usage with the meter against incrementing a counter in a
//!   `Mutex<HashMap<(String, String), i64>>`;
//! - a warm request through a gate metering a hard-limited feature (`Gate::admit` then
//!   `Gate::finish(200)`): holding its unit while in flight, against the same gate without
//!   holds (`unenforced_limit`, what a request cost before holds existed).
//!
//! Run: `cargo bench -p kelviq-client --bench hot_path`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kelviq_client::gate::Admission;
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::{Feature, MockServer, Plan, SeedCustomer};

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(MockServer::start());
    let kelviq = client(&mock);
    // Building a gate starts the client's meter: on the benchmark's runtime.
    let gate = {
        let _guard = runtime.enter();
        kelviq.gate().require("reports").build().unwrap()
    };
    let customer: Arc<str> = "cust_pro".into();
    runtime
        .block_on(kelviq.entitlements().has_access("cust_pro", "reports"))
        .unwrap();

    let mut check = c.benchmark_group("entitlement_check");
    let baseline: HashMap<String, HashMap<String, bool>> = [(
        "cust_pro".to_owned(),
        [
            ("reports".to_owned(), true),
            ("api-calls".to_owned(), true),
            ("seats".to_owned(), true),
        ]
        .into_iter()
        .collect(),
    )]
    .into_iter()
    .collect();
    check.bench_function("hashmap_baseline", |b| {
        b.iter(|| {
            baseline
                .get(black_box("cust_pro"))
                .and_then(|features| features.get(black_box("reports")))
                .copied()
                .unwrap_or(false)
        });
    });
    check.bench_function("cached_has_access", |b| {
        b.iter(|| {
            kelviq
                .cached_entitlements(black_box("cust_pro"))
                .is_some_and(|snapshot| snapshot.has_access(black_box("reports")))
        });
    });
    check.bench_function("with_cached_has_access", |b| {
        b.iter(|| {
            kelviq
                .with_cached_entitlements(black_box("cust_pro"), |snapshot| {
                    snapshot.has_access(black_box("reports"))
                })
                .unwrap_or(false)
        });
    });
    check.bench_function("gate_admit_warm", |b| {
        b.iter(|| {
            matches!(
                gate.admit(Some(black_box(Arc::clone(&customer)))),
                Admission::Ready(Ok(_))
            )
        });
    });
    check.finish();

    let mut record = c.benchmark_group("usage_record");
    let counters: Mutex<HashMap<(String, String), i64>> = Mutex::new(HashMap::new());
    record.bench_function("mutex_hashmap_baseline", |b| {
        b.iter(|| {
            *counters
                .lock()
                .unwrap()
                .entry((
                    black_box("cust_pro").to_owned(),
                    black_box("api-calls").to_owned(),
                ))
                .or_insert(0) += 1;
        });
    });
    let meter = kelviq.usage_meter().unwrap();
    record.bench_function("meter_record", |b| {
        b.iter(|| {
            meter
                .record(black_box("cust_pro"), black_box("api-calls"), 1)
                .unwrap()
        });
    });
    record.finish();
    runtime.block_on(meter.shutdown(Duration::from_secs(10)));

    gate_request(c, &runtime);
}

/// Admit + finish on a warm cache, with and without the hold of a hard limit far away.
fn gate_request(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let mock = runtime.block_on(async {
        MockServer::builder()
            .plan(Plan::new("big").feature(Feature::metered("api-calls").limit(1 << 60)))
            .customer(SeedCustomer::new("hot").subscribe("big"))
            .start()
            .await
            .unwrap()
    });
    let kelviq = client(&mock);
    let (holding, unenforced) = {
        let _guard = runtime.enter();
        (
            kelviq.gate().meter("api-calls", 1).build().unwrap(),
            kelviq
                .gate()
                .meter("api-calls", 1)
                .unenforced_limit()
                .build()
                .unwrap(),
        )
    };
    runtime
        .block_on(kelviq.entitlements_snapshot("hot"))
        .unwrap();
    let customer: Arc<str> = "hot".into();
    let mut group = c.benchmark_group("gate_request");
    for (name, gate) in [
        ("admit_finish_unenforced_baseline", &unenforced),
        ("admit_finish_holding", &holding),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let Admission::Ready(Ok(context)) =
                    gate.admit(Some(black_box(Arc::clone(&customer))))
                else {
                    panic!("a warm customer far from its limit is admitted");
                };
                gate.finish(&context, 200, None).is_recorded()
            });
        });
    }
    group.finish();
    let meter = kelviq.usage_meter().unwrap();
    runtime.block_on(meter.shutdown(Duration::from_secs(10)));
}

/// A client of `mock` whose snapshots stay fresh for the whole run.
fn client(mock: &MockServer) -> Kelviq {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(50)))
        .build()
        .unwrap()
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
