//! One unary gRPC call through a tonic service with the Kelviq layer (warm cache, gate +
//! metering on `grpc-status: 0` read from the trailers) beside the bare tonic service, in
//! the same run. In process: the request is a ready gRPC frame, the response body is read
//! to its trailers, so the layer's body wrapper is measured too.
//!
//! Run: `cargo bench -p kelviq-tower --bench grpc`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Kelviq};
use kelviq_mock::{MockServer, Plan, Seed, SeedCustomer};
use kelviq_tower::{CustomerId, GateBuilderExt};
use prost::Message;
use tonic::{Request, Response, Status};
use tower::{Service, ServiceBuilder, ServiceExt};

#[path = "../tests/it/grpc/report.v1.rs"]
#[allow(
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    missing_docs,
    dead_code,
    unused_qualifications,
    rust_2018_idioms
)]
mod report;

use report::report_service_server::{ReportService, ReportServiceServer};
use report::{Report, ReportRequest};

struct Reports;

#[tonic::async_trait]
impl ReportService for Reports {
    async fn get_report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<Report>, Status> {
        Ok(Response::new(Report {
            name: request.into_inner().name,
            row: 0,
            body: "all rows".to_owned(),
        }))
    }

    type StreamReportStream = futures::stream::Empty<Result<Report, Status>>;

    async fn stream_report(
        &self,
        _request: Request<ReportRequest>,
    ) -> Result<Response<Self::StreamReportStream>, Status> {
        Ok(Response::new(futures::stream::empty()))
    }
}

/// The gRPC frame of a `GetReport` request: uncompressed flag, length, message.
fn frame() -> Bytes {
    let message = ReportRequest {
        name: "q3".to_owned(),
        rows: 0,
        fail: false,
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).unwrap());
    frame.put_slice(&message);
    frame.freeze()
}

fn request(frame: &Bytes) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/report.v1.ReportService/GetReport")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(frame.clone()))
        .unwrap();
    request
        .extensions_mut()
        .insert(CustomerId::new("bench-customer"));
    request
}

/// Calls `service` and reads the response to its trailers; returns the `grpc-status`.
async fn call<S, B>(service: &S, frame: &Bytes) -> bool
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let response = service.clone().oneshot(request(frame)).await.unwrap();
    let collected = response.into_body().collect().await.unwrap();
    collected
        .trailers()
        .and_then(|trailers| trailers.get("grpc-status"))
        .is_some_and(|status| status == "0")
}

fn grpc(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seed = Seed::empty()
        .plan(
            Plan::new("unlimited")
                .feature(kelviq_mock::Feature::boolean("reports"))
                .feature(kelviq_mock::Feature::metered("api-calls")),
        )
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
    let layer = {
        let _guard = runtime.enter();
        kelviq
            .gate()
            .require("reports")
            .meter("api-calls", 1)
            .into_layer()
    };
    let bare = ReportServiceServer::new(Reports);
    let gated = ServiceBuilder::new()
        .layer(layer)
        .service(ReportServiceServer::new(Reports));
    let frame = frame();
    // Warm the cache, and check both end with `grpc-status: 0`.
    assert!(runtime.block_on(call(&bare, &frame)));
    assert!(runtime.block_on(call(&gated, &frame)));

    let mut group = c.benchmark_group("grpc_unary");
    group.bench_function("bare_tonic_service", |b| {
        b.to_async(&runtime).iter(|| call(&bare, &frame));
    });
    group.bench_function("tonic_service_with_kelviq_layer", |b| {
        b.to_async(&runtime).iter(|| call(&gated, &frame));
    });
    group.finish();
    let meter = kelviq.usage_meter().unwrap().clone();
    let report = runtime.block_on(meter.shutdown(Duration::from_secs(30)));
    assert_eq!(report.stats.failed + report.stats.unknown, 0);
    assert!(mock.usage_total("bench-customer", "api-calls") > 0);
}

criterion_group!(benches, grpc);
criterion_main!(benches);
