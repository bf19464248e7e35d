//! The warm paths allocate nothing: a check of a cached customer (by reference or in
//! place) and a record of usage already pending, counted by an instrumented global
//! allocator; a gate's decision allocates the request's context only. Its own test binary, with one test, so that nothing else allocates while it
//! counts; the fake Kelviq and the meter run on a current-thread runtime that is idle
//! while the ops run.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use kelviq_client::gate::{Admission, Metered};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::MockServer;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CUSTOMER: &str = "cust_pro";
const METERED: &str = "api-calls";

/// Runs `op` `times` times: how many times it answered `true`, and the allocations and
/// reallocations meanwhile.
fn counted(times: usize, mut op: impl FnMut() -> bool) -> (usize, (usize, usize)) {
    let region = Region::new(GLOBAL);
    let successes = (0..times).filter(|_| op()).count();
    let change = region.change();
    (successes, (change.allocations, change.reallocations))
}

#[test]
fn warm_checks_and_records_allocate_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mock = runtime.block_on(MockServer::start());
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let (meter, gate) = {
        let _runtime = runtime.enter();
        let gate = kelviq
            .gate()
            .require(METERED)
            .meter(METERED, 1)
            .build()
            .unwrap();
        (kelviq.usage_meter().unwrap().clone(), gate)
    };
    runtime
        .block_on(kelviq.entitlements_snapshot(CUSTOMER))
        .unwrap();
    // Once outside the count: the first op on a thread sets up its per-thread state, and
    // the first record makes the key pending.
    let op = || {
        let by_reference = kelviq
            .cached_entitlements(CUSTOMER)
            .is_some_and(|snapshot| snapshot.has_access(METERED));
        let in_place = kelviq
            .with_cached_entitlements(CUSTOMER, |snapshot| snapshot.has_access(METERED))
            .unwrap_or(false);
        meter.record(CUSTOMER, METERED, 1).unwrap();
        by_reference && in_place
    };
    assert!(op(), "{CUSTOMER} has {METERED}");

    let (allowed, allocations) = counted(1_000, op);
    assert_eq!(allowed, 1_000);
    assert_eq!(
        allocations,
        (0, 0),
        "1,000 warm checks and records allocated"
    );
    assert_eq!(meter.stats().recorded, 1_001);

    // A gate's decision allocates the request's context, and nothing else: the customer
    // id comes with the request, and finishing records without allocating.
    let customer: Arc<str> = Arc::from(CUSTOMER);
    let request = || {
        let Admission::Ready(Ok(context)) = gate.admit(Some(Arc::clone(&customer))) else {
            panic!("{CUSTOMER} is not admitted on a warm cache");
        };
        gate.finish(&context, 200, None)
    };
    // Outside the count: the customer's holds on its hard limit are made with the first
    // request, and their per-stripe cells once it is in steady use (a few dozen requests).
    for _ in 0..64 {
        assert!(matches!(request(), Metered::Recorded { amount: 1 }));
    }
    let (recorded, allocations) = counted(1_000, || {
        matches!(request(), Metered::Recorded { amount: 1 })
    });
    assert_eq!(recorded, 1_000);
    assert_eq!(
        allocations,
        (1_000, 0),
        "1,000 warm requests through the gate"
    );

    // The count sees this thread's allocations: one box, one allocation.
    let region = Region::new(GLOBAL);
    drop(std::hint::black_box(Box::new(1_u64)));
    assert_eq!(region.change().allocations, 1);
}
