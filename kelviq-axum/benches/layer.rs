//! One request through an axum `Router` with the Kelviq layer (warm cache, metering on)
//! beside the same router without it, in the same run.
//!
//! Run: `cargo bench -p kelviq-axum --bench layer`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use kelviq_axum::prelude::*;
use kelviq_mock::{MockServer, Plan, Seed, SeedCustomer};
use tower::ServiceExt;

feature! {
    ApiCalls = "api-calls";
}

async fn authenticate(mut request: Request, next: Next) -> Response {
    request
        .extensions_mut()
        .insert(CustomerId::new("bench-customer"));
    next.run(request).await
}

fn request() -> Request {
    Request::builder()
        .method("POST")
        .uri("/api/calls")
        .body(Body::empty())
        .unwrap()
}

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seed = Seed::empty()
        .plan(Plan::new("unlimited").feature(kelviq_mock::Feature::metered("api-calls")))
        .customer(SeedCustomer::new("bench-customer").subscribe("unlimited"));
    let mock = runtime
        .block_on(MockServer::builder().seed(seed).start())
        .unwrap();
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(100)))
        .build()
        .unwrap();
    // The gate starts the client's meter: on the bench's runtime.
    let gates = kelviq.gate();
    let metered = {
        let _guard = runtime.enter();
        gates
            .clone()
            .require(ApiCalls)
            .meter(ApiCalls, 1)
            .into_layer()
    };
    let bare: Router = Router::new()
        .route("/api/calls", post(|| async { "ok" }))
        .layer(from_fn(authenticate));
    let gated: Router = Router::new()
        .route("/api/calls", post(|| async { "ok" }).route_layer(metered))
        .layer(from_fn(authenticate));
    // Warm the cache, and check both answer 200.
    for router in [&bare, &gated] {
        let response = runtime.block_on(router.clone().oneshot(request())).unwrap();
        assert_eq!(response.status(), 200);
    }

    let mut group = c.benchmark_group("axum_request");
    group.bench_function("bare_router", |b| {
        b.to_async(&runtime)
            .iter(|| async { bare.clone().oneshot(request()).await.unwrap() });
    });
    group.bench_function("router_with_kelviq_layer", |b| {
        b.to_async(&runtime)
            .iter(|| async { gated.clone().oneshot(request()).await.unwrap() });
    });
    group.finish();
    let meter = kelviq.usage_meter().unwrap().clone();
    let report = runtime.block_on(meter.shutdown(Duration::from_secs(30)));
    assert_eq!(report.stats.failed + report.stats.unknown, 0);
}

criterion_group!(benches, layer);
criterion_main!(benches);
