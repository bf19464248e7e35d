//! The same denial answered through tower/axum and through actix-web: byte-identical
//! status, headers and body, for every kind of denial.

use actix_web::test as actix_test;
use axum::body::Body;
use http::{HeaderName, Request, StatusCode};
use kelviq_axum::prelude::{FromHeader, GateBuilder, GateBuilderExt as _, Kelviq};
use kelviq_client::RetryPolicy;
use kelviq_client::gate::{Denial, FailurePolicy, Fallback};
use kelviq_mock::{Fault, FaultRule, Feature, MockServer, Plan, Route, Seed, SeedCustomer};
use tower::ServiceExt as _;

const CUSTOMER_HEADER: &str = "x-customer";

/// A status, the headers (sorted; without `content-length`, which axum's router sets in
/// process and actix-web's writer only on the wire) and the body of a response.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16, headers: Vec<(String, Vec<u8>)>, body: &[u8]) -> Self {
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }
}

async fn mock() -> MockServer {
    let seed = Seed::empty()
        .plan(
            Plan::new("base")
                .feature(Feature::boolean("dashboard"))
                .feature(Feature::metered("calls").limit(3)),
        )
        .customer(
            SeedCustomer::new("full")
                .subscribe("base")
                .usage("calls", 3),
        );
    MockServer::builder().seed(seed).start().await.unwrap()
}

fn client(mock: &MockServer) -> Kelviq {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn source() -> FromHeader {
    FromHeader::new(HeaderName::from_static(CUSTOMER_HEADER))
}

/// The answer of an axum router gated by `gates`.
async fn through_axum(gates: &GateBuilder, customer: Option<&str>) -> Answer {
    let layer = gates.clone().into_layer().customer(source());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { "ok" }).route_layer(layer),
    );
    let mut request = Request::get("/");
    if let Some(customer) = customer {
        request = request.header(CUSTOMER_HEADER, customer);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let headers = comparable(headers);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer::new(status, headers, &body)
}

/// The answer of an actix-web app gated by `gates`.
async fn through_actix(gates: &GateBuilder, customer: Option<&str>) -> Answer {
    use kelviq_actix::prelude::GateBuilderExt as _;
    let middleware = gates.clone().into_middleware().customer(source());
    let app = actix_test::init_service(
        actix_web::App::new()
            .wrap(middleware)
            .route("/", actix_web::web::get().to(|| async { "ok" })),
    )
    .await;
    let mut request = actix_test::TestRequest::get().uri("/");
    if let Some(customer) = customer {
        request = request.insert_header((CUSTOMER_HEADER, customer));
    }
    let response = actix_test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let headers = comparable(headers);
    let body = actix_test::read_body(response).await;
    Answer::new(status, headers, &body)
}

/// A response's headers, sorted, without `content-length` (axum sets it in process, actix
/// on the wire).
fn comparable<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<_> = headers
        .filter(|(name, _)| *name != "content-length")
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect();
    headers.sort();
    headers
}

/// Asserts both frameworks answer alike, with `status` and the `error` code.
async fn same_answer(gates: &GateBuilder, customer: Option<&str>, status: u16, code: &str) {
    let axum = through_axum(gates, customer).await;
    let actix = through_actix(gates, customer).await;
    assert_eq!(axum, actix, "customer {customer:?}");
    assert_eq!(axum.status, status, "customer {customer:?}");
    let body: serde_json::Value = serde_json::from_slice(&axum.body).unwrap();
    assert_eq!(body["error"], code, "customer {customer:?}");
}

#[actix_web::test]
async fn every_denial_is_byte_identical_in_axum_and_actix() {
    let mock = mock().await;
    let kelviq = client(&mock);
    let gates = kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS);

    // Longer than the client's maximum customer id: refused before any I/O.
    let too_long = "c".repeat(kelviq.max_customer_id_len() + 1);
    // (customer, required feature, status, code)
    let cases = [
        (None, "dashboard", 401, "missing_customer"),
        (Some(""), "dashboard", 401, "missing_customer"),
        (
            Some(too_long.as_str()),
            "dashboard",
            400,
            "invalid_customer",
        ),
        (Some("nobody"), "dashboard", 403, "unknown_customer"),
        (Some("full"), "reports", 403, "feature_not_entitled"),
        (Some("full"), "calls", 429, "usage_limit_reached"),
    ];
    for (customer, feature, status, code) in cases {
        same_answer(&gates.clone().require(feature), customer, status, code).await;
    }
}

#[actix_web::test]
async fn kelviq_unavailable_is_byte_identical_in_axum_and_actix() {
    let mock = mock().await;
    let kelviq = client(&mock);
    mock.inject(FaultRule::always(Fault::status(500)).on(Route::Entitlements));
    let gates = kelviq
        .gate()
        .failure_policy(FailurePolicy::Deny)
        .require("dashboard");
    same_answer(&gates, Some("full"), 503, "kelviq_unavailable").await;
    // Both carry the same Retry-After: the customer's backoff (1 s by default).
    let answer = through_axum(&gates, Some("full")).await;
    assert!(
        answer
            .headers
            .contains(&("retry-after".to_owned(), b"1".to_vec()))
    );
}

#[actix_web::test]
async fn fallback_denials_are_byte_identical_in_axum_and_actix() {
    let mock = mock().await;
    let kelviq = client(&mock);
    mock.inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let continuity = kelviq.gate().failure_policy(FailurePolicy::continuity(
        Fallback::new().grant("dashboard"),
    ));
    same_answer(
        &continuity.require("reports"),
        Some("anyone"),
        403,
        "feature_not_entitled",
    )
    .await;
}

/// The same extractor denial (`Entitled<F>` behind a gate that requires nothing) through
/// axum and actix-web: answered as the gate answers it.
#[actix_web::test]
async fn extractor_denials_are_byte_identical_in_axum_and_actix() {
    kelviq_axum::prelude::feature! {
        Reports = "reports";
    }
    let mock = mock().await;
    let kelviq = client(&mock);
    let gate = kelviq.gate().build().unwrap();

    let layer = kelviq_axum::prelude::KelviqLayer::new(gate.clone()).customer(source());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|_: kelviq_axum::prelude::Entitled<Reports>| async { "ok" })
            .route_layer(layer),
    );
    let request = Request::get("/").header(CUSTOMER_HEADER, "full");
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let axum = Answer {
        status: response.status().as_u16(),
        headers: sorted(
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        ),
        body: axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    };

    let app = actix_test::init_service(
        actix_web::App::new()
            .wrap(kelviq_actix::prelude::KelviqMiddleware::new(gate).customer(source()))
            .route(
                "/",
                actix_web::web::get()
                    .to(|_: kelviq_actix::prelude::Entitled<Reports>| async { "ok" }),
            ),
    )
    .await;
    let request = actix_test::TestRequest::get()
        .uri("/")
        .insert_header((CUSTOMER_HEADER, "full"));
    let response = actix_test::call_service(&app, request.to_request()).await;
    let actix = Answer {
        status: response.status().as_u16(),
        headers: sorted(
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        ),
        body: actix_test::read_body(response).await.to_vec(),
    };
    assert_eq!(axum, actix);
    assert_eq!(axum.status, 403);
}

/// Headers as sorted (name, value) pairs, without `content-length`.
fn sorted<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<_> = headers
        .filter(|(name, _)| *name != "content-length")
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect();
    headers.sort();
    headers
}

#[actix_web::test]
async fn a_denial_handler_answers_alike_in_axum_and_actix() {
    let mock = mock().await;
    let kelviq = client(&mock);
    let gates = kelviq
        .gate()
        .require("reports")
        .on_denied(|denial: &Denial| {
            http::Response::builder()
                .status(StatusCode::PAYMENT_REQUIRED)
                .header("x-upgrade", "https://example.com/pricing")
                .header("content-type", "text/plain; charset=utf-8")
                .body(bytes::Bytes::from(format!(
                    "upgrade for {}",
                    denial.feature().unwrap_or("?")
                )))
                .unwrap()
        });
    let axum = through_axum(&gates, Some("full")).await;
    let actix = through_actix(&gates, Some("full")).await;
    assert_eq!(axum, actix);
    assert_eq!(axum.status, 402);
    assert_eq!(axum.body, b"upgrade for reports");
}
