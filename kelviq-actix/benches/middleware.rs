//! The cost of [`KelviqMiddleware`] per request on a warm entitlement cache, beside the
//! same actix-web app without it, measured in the same run:
//!
//! - `bare`: `GET /reports` answered `200` by a trivial handler;
//! - `gate`: the same behind the middleware (customer from a header with
//!   [`FromHeader`], `require("reports")`);
//! - `gate_and_meter`: the same, also metering one `api-calls` per success (the issue's
//!   configuration).
//!
//! Each iteration builds the test request and drives it through the app's service on the
//! actix-web runtime, so the difference between two lines is what the middleware adds.
//!
//! Run: `cargo bench -p kelviq-actix --bench middleware`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use criterion::{Criterion, criterion_group, criterion_main};
use kelviq_actix::http::HeaderName;
use kelviq_actix::prelude::*;
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};

/// Runs `iters` requests made by `request` through `app` and returns the time they took.
async fn drive<S, R, B>(app: &S, request: impl Fn() -> R, iters: u64) -> Duration
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let start = Instant::now();
    for _ in 0..iters {
        let response = app.call(request()).await.unwrap();
        assert!(response.status().is_success());
        black_box(response);
    }
    start.elapsed()
}

fn middleware(c: &mut Criterion) {
    // The mock and the meter's background task run on their own runtime.
    let tokio = tokio::runtime::Runtime::new().unwrap();
    // `api-calls` with a hard limit no run reaches: each metered request holds its unit
    // (a request past a limit would be refused, and the bench measures successes).
    let mock = tokio.block_on(async {
        MockServer::builder()
            .seed(
                Seed::empty()
                    .plan(
                        Plan::new("bench")
                            .feature(Feature::boolean("reports"))
                            .feature(Feature::metered("api-calls").limit(1 << 60)),
                    )
                    .customer(SeedCustomer::new("cust_pro").subscribe("bench")),
            )
            .start()
            .await
            .unwrap()
    });
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let meter = {
        let _guard = tokio.enter();
        kelviq.usage_meter().unwrap().clone()
    };
    // Warm the cache.
    tokio
        .block_on(kelviq.entitlements_snapshot("cust_pro"))
        .unwrap();

    let system = actix_web::rt::System::new();
    let handler = || async { HttpResponse::Ok().finish() };
    let gates = kelviq.gate().require("reports");
    let kelviq_middleware = |gate: GateBuilder| {
        gate.into_middleware()
            .customer(FromHeader::new(HeaderName::from_static("x-customer")))
    };
    let bare = system.block_on(test::init_service(
        App::new().route("/reports", web::get().to(handler)),
    ));
    let gate = system.block_on(test::init_service(
        App::new()
            .wrap(kelviq_middleware(gates.clone()))
            .route("/reports", web::get().to(handler)),
    ));
    let gate_and_meter = system.block_on(test::init_service(
        App::new()
            .wrap(kelviq_middleware(gates.clone().meter("api-calls", 1)))
            .route("/reports", web::get().to(handler)),
    ));

    let request = || {
        TestRequest::get()
            .uri("/reports")
            .insert_header(("x-customer", "cust_pro"))
            .to_request()
    };
    let mut group = c.benchmark_group("actix_request");
    group.bench_function("bare", |b| {
        b.iter_custom(|iters| system.block_on(drive(&bare, request, iters)));
    });
    group.bench_function("gate", |b| {
        b.iter_custom(|iters| system.block_on(drive(&gate, request, iters)));
    });
    group.bench_function("gate_and_meter", |b| {
        b.iter_custom(|iters| system.block_on(drive(&gate_and_meter, request, iters)));
    });
    group.finish();

    tokio.block_on(meter.shutdown(Duration::from_secs(10)));
    drop(mock);
}

criterion_group!(benches, middleware);
criterion_main!(benches);
