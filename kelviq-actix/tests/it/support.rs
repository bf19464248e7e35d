//! A mock, a client with the entitlement cache (and its meter), and request helpers.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{HttpResponse, Responder};
use kelviq_actix::http::HeaderName;
use kelviq_actix::prelude::*;
use kelviq_client::RetryPolicy;
use kelviq_mock::{Feature, MockServer, MockServerBuilder, Plan, SeedCustomer};

/// The header the tests' middlewares read the customer id from.
pub(crate) const CUSTOMER: &str = "x-customer";

/// `gate` as a middleware reading the customer from the [`CUSTOMER`] header.
pub(crate) fn middleware(gate: GateBuilder) -> KelviqMiddleware<FromHeader> {
    gate.into_middleware().customer(by_header())
}

/// The source reading [`CUSTOMER`].
pub(crate) fn by_header() -> FromHeader {
    FromHeader::new(HeaderName::from_static(CUSTOMER))
}

kelviq_client::feature! {
    /// The pro plan's reports.
    pub Reports = "reports";
    /// The metered calls of both plans.
    pub ApiCalls = "api-calls";
}

/// A mock on loopback and a client for it with the entitlement cache.
pub(crate) struct Setup {
    pub(crate) mock: MockServer,
    pub(crate) kelviq: Kelviq,
}

impl Setup {
    /// The default seed (`cust_free`, `cust_pro` with 12 api-calls used) plus `cust_tiny`,
    /// whose plan has `reports` and 2 hard-limited `api-calls`, and `cust_spent` on the
    /// same plan with both used.
    pub(crate) async fn start() -> Setup {
        Setup::with_cache(CacheConfig::default()).await
    }

    /// The same with another cache configuration.
    pub(crate) async fn with_cache(cache: CacheConfig) -> Setup {
        let builder = MockServer::builder()
            .plan(
                Plan::new("tiny")
                    .feature(Feature::boolean("reports"))
                    .feature(Feature::metered("api-calls").limit(2)),
            )
            .customer(SeedCustomer::new("cust_tiny").subscribe("tiny"))
            .customer(
                SeedCustomer::new("cust_spent")
                    .subscribe("tiny")
                    .usage("api-calls", 2),
            );
        Setup::with_mock(builder, cache).await
    }

    async fn with_mock(builder: MockServerBuilder, cache: CacheConfig) -> Setup {
        let mock = builder.start().await.expect("mock starts");
        let kelviq = Kelviq::builder()
            .access_token(mock.token())
            .api_url(mock.url())
            .edge_url(mock.edge_url())
            .entitlement_cache(cache)
            .retry_policy(
                RetryPolicy::default()
                    .initial_backoff(Duration::from_millis(5))
                    .max_backoff(Duration::from_millis(20)),
            )
            .build()
            .expect("client builds");
        Setup { mock, kelviq }
    }

    /// A gate builder for the client: nothing required, nothing metered.
    pub(crate) fn gate(&self) -> GateBuilder {
        self.kelviq.gate()
    }

    /// A middleware that requires and meters nothing, reading the [`CUSTOMER`] header.
    pub(crate) fn plain(&self) -> KelviqMiddleware<FromHeader> {
        middleware(self.gate())
    }

    /// The client's usage meter.
    pub(crate) fn meter(&self) -> &UsageMeter {
        self.kelviq.usage_meter().expect("meter starts")
    }

    /// The mock's total of `feature` for `customer` once the meter delivered everything.
    pub(crate) async fn usage(&self, customer: &str, feature: &str) -> i64 {
        self.meter().flush().await.unwrap();
        self.mock.usage_total(customer, feature)
    }
}

/// `GET uri` as `customer` (no header for `None`).
pub(crate) fn get(uri: &str, customer: Option<&str>) -> TestRequest {
    request(TestRequest::get().uri(uri), customer)
}

/// `POST uri` as `customer`.
pub(crate) fn post(uri: &str, customer: Option<&str>) -> TestRequest {
    request(TestRequest::post().uri(uri), customer)
}

fn request(request: TestRequest, customer: Option<&str>) -> TestRequest {
    match customer {
        Some(customer) => request.insert_header((CUSTOMER, customer)),
        None => request,
    }
}

/// Calls `app` with a [`TestRequest`]; resolves to the status and the body as a string.
macro_rules! call {
    ($app:expr, $request:expr) => {
        async {
            let response = actix_web::test::call_service($app, ($request).to_request()).await;
            $crate::support::read(response).await
        }
    };
}
pub(crate) use call;

/// The status and the body as a string.
pub(crate) async fn read<B: MessageBody>(response: ServiceResponse<B>) -> (StatusCode, String) {
    let status = response.status();
    let body = test::read_body(response).await;
    (
        status,
        String::from_utf8(body.to_vec()).expect("utf-8 body"),
    )
}

/// A handler answering `<customer id> <snapshot present> <stale>`.
pub(crate) async fn whoami(context: KelviqContext) -> impl Responder {
    HttpResponse::Ok().body(format!(
        "{} snapshot={} stale={}",
        context.customer_id(),
        context.snapshot().is_some(),
        context.is_stale()
    ))
}

/// The problem details of a denial (RFC 9457), with the default status of its code.
pub(crate) fn denial_body(code: &str, message: &str, feature: Option<&str>) -> String {
    let (title, status) = match code {
        "missing_customer" => ("Customer not identified", 401),
        "invalid_customer" => ("Invalid customer id", 400),
        "feature_not_entitled" => ("Feature not in plan", 403),
        "usage_limit_reached" => ("Usage limit reached", 403),
        "unknown_customer" => ("Unknown customer", 403),
        "kelviq_unavailable" => ("Entitlements unavailable", 503),
        "kelviq_layer_missing" => ("Internal Server Error", 500),
        other => panic!("no problem type for {other}"),
    };
    let kind = code.replace('_', "-");
    let feature = feature.map_or(String::new(), |feature| {
        format!(r#","feature":"{feature}""#)
    });
    format!(
        r#"{{"type":"{}{kind}","title":"{title}","status":{status},"detail":"{message}","code":"{code}"{feature}}}"#,
        kelviq_client::gate::PROBLEM_TYPE_BASE
    )
}

/// The body of a 403 for a feature the plan lacks.
pub(crate) fn not_entitled(feature: &str) -> String {
    denial_body(
        "feature_not_entitled",
        &format!("your plan does not include {feature}"),
        Some(feature),
    )
}

/// The mock's `resetAt` by default: the start of next month (UTC), in RFC 3339.
pub(crate) fn next_month() -> String {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let first = today
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .unwrap();
    first
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .to_string()
}

/// The problem details of a reached `api-calls` limit of `limit` units, answered with
/// `status`: the counts and the mock's reset.
pub(crate) fn limit_body(status: u16, limit: i64) -> String {
    let body = denial_body(
        "usage_limit_reached",
        "you have reached the usage limit of api-calls",
        Some("api-calls"),
    )
    .replace(r#""status":403"#, &format!(r#""status":{status}"#));
    format!(
        r#"{},"limit":{limit},"used":{limit},"remaining":0,"resetAt":"{}"}}"#,
        body.trim_end_matches('}'),
        next_month()
    )
}
