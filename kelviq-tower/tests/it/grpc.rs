//! The layer in front of a tonic server: denials as gRPC statuses, metering on
//! `grpc-status: 0` only. A tonic client talks HTTP/2 over loopback to a tonic server
//! behind the layer, which talks to kelviq-mock.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kelviq_client::gate::FailurePolicy;
use kelviq_client::{CacheConfig, ReportUsage};
use kelviq_mock::{Fault, FaultRule, MockServer, Route};
use kelviq_tower::{
    CustomerId, CustomerIdSource, FromFn, FromHeader, GateBuilderExt, KelviqLayer, RequestContext,
    RequestHead, UsageAmount,
};
use tokio::sync::Notify;
use tonic::service::InterceptorLayer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tower::ServiceBuilder;

use crate::support::Setup;

#[path = "grpc/report.v1.rs"]
#[allow(
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    missing_docs,
    unused_qualifications,
    rust_2018_idioms
)]
mod report;

use report::report_service_client::ReportServiceClient;
use report::report_service_server::{ReportService, ReportServiceServer};
use report::{Report, ReportRequest};

/// The report service: `fail` ends a call with an error status; a unary call's `rows`
/// becomes its `UsageAmount`, a stream's its context's usage amount. A stream waits for
/// `release` after its rows, so a test can look before the stream ends.
#[derive(Clone, Default)]
struct Reports {
    release: Arc<Notify>,
}

type RowStream = Pin<Box<dyn Stream<Item = Result<Report, Status>> + Send>>;

#[tonic::async_trait]
impl ReportService for Reports {
    async fn get_report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<Report>, Status> {
        // The rows may pass the admission's hold of a hard limit: hold them first.
        if let Some(context) = request.extensions().get::<RequestContext>() {
            context
                .reserve(i64::from(request.get_ref().rows))
                .await
                .map_err(|refused| Status::resource_exhausted(refused.to_string()))?;
        }
        let request = request.into_inner();
        if request.fail {
            return Err(Status::internal("the report failed"));
        }
        let mut response = Response::new(Report {
            name: request.name,
            row: 0,
            body: "all rows".to_owned(),
        });
        if request.rows > 0 {
            response
                .extensions_mut()
                .insert(UsageAmount(i64::from(request.rows)));
        }
        Ok(response)
    }

    type StreamReportStream = RowStream;

    async fn stream_report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<RowStream>, Status> {
        let context = request.extensions().get::<RequestContext>().cloned();
        let request = request.into_inner();
        if let Some(context) = context {
            context
                .reserve(i64::from(request.rows))
                .await
                .map_err(|refused| Status::resource_exhausted(refused.to_string()))?;
            context.set_usage_amount(i64::from(request.rows));
        }
        let name = request.name;
        let rows = futures::stream::iter((1..=request.rows).map(move |row| {
            Ok(Report {
                name: name.clone(),
                row,
                body: format!("row {row}"),
            })
        }));
        let release = Arc::clone(&self.release);
        let fail = request.fail;
        let end = futures::stream::once(async move {
            release.notified().await;
            fail.then(|| Err(Status::data_loss("the report broke mid-stream")))
        })
        .filter_map(futures::future::ready);
        Ok(Response::new(Box::pin(rows.chain(end))))
    }
}

/// The app's authentication, in front of the Kelviq layer: `authorization: Bearer <id>`
/// names the customer, put in the request extensions as a `CustomerId`.
fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
    let customer = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(CustomerId::new);
    if let Some(customer) = customer {
        request.extensions_mut().insert(customer);
    }
    Ok(request)
}

/// Serves `reports` behind the authentication and `layer` on a loopback port; a client.
async fn serve<C: CustomerIdSource>(
    layer: KelviqLayer<C>,
    reports: Reports,
) -> ReportServiceClient<Channel> {
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = incoming.local_addr().unwrap();
    let stack = ServiceBuilder::new()
        .layer(InterceptorLayer::new(authenticate))
        .layer(layer)
        .into_inner();
    let server = Server::builder()
        .layer(stack)
        .add_service(ReportServiceServer::new(reports))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ReportServiceClient::new(channel)
}

/// A call by `customer` (none: no `authorization`).
fn call(customer: Option<&str>, message: ReportRequest) -> Request<ReportRequest> {
    let mut request = Request::new(message);
    if let Some(customer) = customer {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {customer}").parse().unwrap(),
        );
    }
    request
}

fn report(rows: u32, fail: bool) -> ReportRequest {
    ReportRequest {
        name: "q3".to_owned(),
        rows,
        fail,
    }
}

fn metadata<'a>(status: &'a Status, key: &str) -> Option<&'a str> {
    status
        .metadata()
        .get(key)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn grpc_denials_are_grpc_statuses() {
    let setup = Setup::start().await;
    let reports = setup.kelviq.gate().require("reports").into_layer();
    let mut client = serve(reports, Reports::default()).await;

    // No customer: UNAUTHENTICATED.
    let status = client
        .get_report(call(None, report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        status.message(),
        "this request does not identify a customer"
    );
    assert_eq!(metadata(&status, "kelviq-error"), Some("missing_customer"));
    assert_eq!(metadata(&status, "kelviq-feature"), None);

    // Not entitled: PERMISSION_DENIED naming the feature, streaming calls alike.
    let status = client
        .get_report(call(Some("cust_free"), report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status.message(), "your plan does not include reports");
    assert_eq!(
        metadata(&status, "kelviq-error"),
        Some("feature_not_entitled")
    );
    assert_eq!(metadata(&status, "kelviq-feature"), Some("reports"));
    let status = client
        .stream_report(call(Some("cust_free"), report(3, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // An entitled customer gets through.
    let ok = client
        .get_report(call(Some("cust_pro"), report(0, false)))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().body, "all rows");

    // Limit reached: RESOURCE_EXHAUSTED naming the feature.
    setup
        .kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_free", "api-calls", 100))
        .await
        .unwrap();
    let calls = setup.kelviq.gate().require("api-calls").into_layer();
    let mut client = serve(calls, Reports::default()).await;
    let status = client
        .get_report(call(Some("cust_free"), report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.message(),
        "you have reached the usage limit of api-calls"
    );
    assert_eq!(
        metadata(&status, "kelviq-error"),
        Some("usage_limit_reached")
    );
    assert_eq!(metadata(&status, "kelviq-feature"), Some("api-calls"));

    // Kelviq down, strict policy: UNAVAILABLE.
    let down = Setup::with(MockServer::start().await, CacheConfig::default()).await;
    down.mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let strict = down
        .kelviq
        .gate()
        .require("reports")
        .failure_policy(FailurePolicy::Deny)
        .into_layer();
    let mut client = serve(strict, Reports::default()).await;
    let status = client
        .get_report(call(Some("cust_pro"), report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.message(),
        "entitlements cannot be checked right now; try again later"
    );
    assert_eq!(
        metadata(&status, "kelviq-error"),
        Some("kelviq_unavailable")
    );
}

#[tokio::test]
async fn grpc_meters_only_ok_status() {
    let setup = Setup::start().await;
    let meter = setup.kelviq.usage_meter().unwrap();
    let total = || setup.mock.usage_total("cust_pro", "api-calls");
    let start = total();
    let gate = setup
        .kelviq
        .gate()
        .require("reports")
        .meter("api-calls", 1)
        .into_layer();
    let reports = Reports::default();
    let mut client = serve(gate, reports.clone()).await;

    // Unary OK: metered once, the configured unit, then the handler's UsageAmount.
    client
        .get_report(call(Some("cust_pro"), report(0, false)))
        .await
        .unwrap();
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 1);
    client
        .get_report(call(Some("cust_pro"), report(5, false)))
        .await
        .unwrap();
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 6);

    // Unary error status (HTTP 200, trailers-only): not metered.
    let status = client
        .get_report(call(Some("cust_pro"), report(5, true)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 6);

    // Server streaming ending OK: nothing while it runs, once (3 rows, the amount set on
    // the context) after its end.
    let mut stream = client
        .stream_report(call(Some("cust_pro"), report(3, false)))
        .await
        .unwrap()
        .into_inner();
    for row in 1..=3 {
        assert_eq!(stream.message().await.unwrap().unwrap().row, row);
    }
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 6, "metered before the stream ended");
    reports.release.notify_one();
    assert!(stream.message().await.unwrap().is_none());
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 9);

    // Server streaming ending with an error status: not metered.
    let mut stream = client
        .stream_report(call(Some("cust_pro"), report(2, true)))
        .await
        .unwrap()
        .into_inner();
    for row in 1..=2 {
        assert_eq!(stream.message().await.unwrap().unwrap().row, row);
    }
    reports.release.notify_one();
    let status = stream.message().await.unwrap_err();
    assert_eq!(status.code(), Code::DataLoss);
    meter.flush().await.unwrap();
    assert_eq!(total(), start + 9);
}

#[tokio::test]
async fn grpc_customer_from_a_metadata_key() {
    // Only behind a trusted proxy: metadata are HTTP/2 headers, so `FromHeader` reads them.
    let setup = Setup::start().await;
    let layer = setup
        .kelviq
        .gate()
        .require("reports")
        .into_layer()
        .customer(FromHeader::from_static("x-customer-id"));
    let mut client = serve(layer, Reports::default()).await;
    let with_key = |customer: &str| {
        let mut request = Request::new(report(0, false));
        request
            .metadata_mut()
            .insert("x-customer-id", customer.parse().unwrap());
        request
    };
    assert!(client.get_report(with_key("cust_pro")).await.is_ok());
    let status = client.get_report(with_key("cust_free")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .get_report(Request::new(report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn grpc_customer_ids_longer_than_the_maximum_are_invalid_argument_without_a_call() {
    // HTTP/2 caps a request's metadata (16 KiB by default), so ids this long come from the
    // app's own lookup: a short `x-who` key names them.
    let setup = Setup::start().await;
    let by_key =
        FromFn::new(
            |head: RequestHead<'_>| match head.headers.get("x-who")?.to_str().ok()? {
                "ascii" => Some("c".repeat(100 * 1024)),
                "non-ascii" => Some("é".repeat(11 * 1024)),
                other => Some(other.to_owned()),
            },
        );
    let layer = setup
        .kelviq
        .gate()
        .require("reports")
        .into_layer()
        .customer(by_key);
    let mut client = serve(layer, Reports::default()).await;
    for who in ["ascii", "non-ascii"] {
        let mut request = Request::new(report(0, false));
        request.metadata_mut().insert("x-who", who.parse().unwrap());
        let status = client.get_report(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{who}: {status:?}");
        assert_eq!(
            status.message(),
            "the customer id of this request is too long"
        );
        assert_eq!(metadata(&status, "kelviq-error"), Some("invalid_customer"));
        assert_eq!(metadata(&status, "kelviq-feature"), None);
    }
    assert!(
        setup.mock.journal().is_empty(),
        "{:?}",
        setup.mock.journal()
    );
}

#[tokio::test]
async fn plain_http_requests_keep_http_answers_beside_grpc() {
    // The same layer answers a non-gRPC request in HTTP terms.
    let setup = Setup::start().await;
    let layer = setup.kelviq.gate().require("reports").into_layer();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service_fn(crate::support::handler);
    let mut request = crate::support::request(Some("cust_free"), "/reports");
    request
        .headers_mut()
        .insert("content-type", "application/grpc-web".parse().unwrap());
    let (status, body) =
        crate::support::read(tower::ServiceExt::oneshot(service, request).await.unwrap()).await;
    assert_eq!(status, 403);
    assert!(body.contains("feature_not_entitled"));
}

/// A gate that only meters a hard-limited feature (the gRPC example's shape: it requires
/// `reports` and meters `api-calls`) enforces that limit: past it, `RESOURCE_EXHAUSTED`,
/// never more OK calls than the limit.
#[tokio::test]
async fn metered_hard_limit_is_enforced_without_require() {
    let mock = MockServer::builder()
        .plan(
            kelviq_mock::Plan::new("small")
                .feature(kelviq_mock::Feature::boolean("reports"))
                .feature(kelviq_mock::Feature::metered("api-calls").limit(5)),
        )
        .customer(kelviq_mock::SeedCustomer::new("acme").subscribe("small"))
        .start()
        .await
        .unwrap();
    let setup = Setup::with(mock, CacheConfig::default()).await;
    let layer = setup
        .kelviq
        .gate()
        .require("reports")
        .meter("api-calls", 1)
        .into_layer();
    let mut client = serve(layer, Reports::default()).await;
    let mut ok = 0;
    let mut exhausted = 0;
    for _ in 0..8 {
        match client
            .get_report(call(Some("acme"), report(0, false)))
            .await
        {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert_eq!(
                    metadata(&status, "kelviq-error"),
                    Some("usage_limit_reached")
                );
                exhausted += 1;
            }
        }
    }
    assert_eq!((ok, exhausted), (5, 3));
    setup.meter().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("acme", "api-calls"), 5);
}

/// Denials carry `grpc-status-details-bin`: a `google.rpc.Status` with `ErrorInfo` (and
/// `QuotaFailure` for a reached limit), decoded as a tonic client does, with tonic-types.
#[tokio::test]
async fn grpc_denials_carry_error_details() {
    use tonic_types::StatusExt as _;

    let mock = MockServer::builder()
        .plan(
            kelviq_mock::Plan::new("small")
                .feature(kelviq_mock::Feature::boolean("reports"))
                .feature(kelviq_mock::Feature::metered("api-calls").limit(2)),
        )
        .customer(
            kelviq_mock::SeedCustomer::new("acme")
                .subscribe("small")
                .usage("api-calls", 2),
        )
        .customer(kelviq_mock::SeedCustomer::new("nobody-plan"))
        .start()
        .await
        .unwrap();
    let setup = Setup::with(mock, CacheConfig::default()).await;
    let layer = setup
        .kelviq
        .gate()
        .require("reports")
        .meter("api-calls", 1)
        .into_layer();
    let mut client = serve(layer, Reports::default()).await;

    // A reached limit: ErrorInfo with the counts, and a QuotaFailure.
    let status = client
        .get_report(call(Some("acme"), report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let details = status.get_error_details();
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "USAGE_LIMIT_REACHED");
    assert_eq!(info.domain, kelviq_client::gate::GRPC_ERROR_DOMAIN);
    assert_eq!(info.metadata["code"], "usage_limit_reached");
    assert_eq!(info.metadata["feature"], "api-calls");
    assert_eq!(info.metadata["limit"], "2");
    assert_eq!(info.metadata["used"], "2");
    assert_eq!(info.metadata["remaining"], "0");
    assert!(info.metadata["resetAt"].ends_with('Z'));
    let quota = details.quota_failure().expect("a QuotaFailure");
    assert_eq!(quota.violations.len(), 1);
    assert_eq!(quota.violations[0].subject, "feature:api-calls");
    assert!(
        quota.violations[0].description.contains("2 of 2 used"),
        "{:?}",
        quota.violations[0]
    );
    // The plain metadata stay.
    assert_eq!(
        metadata(&status, "kelviq-error"),
        Some("usage_limit_reached")
    );

    // No customer: ErrorInfo only, no feature.
    let status = client
        .get_report(call(None, report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let details = status.get_error_details();
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "MISSING_CUSTOMER");
    assert_eq!(info.metadata.get("feature"), None);
    assert!(details.quota_failure().is_none());

    // Not entitled: ErrorInfo naming the feature.
    let status = client
        .get_report(call(Some("nobody-plan"), report(0, false)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let info = status.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, "FEATURE_NOT_ENTITLED");
    assert_eq!(info.metadata["feature"], "reports");
}
