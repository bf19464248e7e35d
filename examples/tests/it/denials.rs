//! The same denial answered through tower/axum and through actix-web: byte-identical
//! status, headers and body, for every kind of denial.

use actix_web::test as actix_test;
use axum::body::Body;
use std::time::Duration;

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
        )
        .customer(
            SeedCustomer::new("room")
                .subscribe("base")
                .usage("calls", 1),
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
    answer_of(app, customer).await
}

/// The answer of a tower service (an axum router, or a bare service behind the layer) to
/// `GET /` for `customer`.
async fn answer_of<S, B>(service: S, customer: Option<&str>) -> Answer
where
    S: tower::Service<Request<Body>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: axum::body::HttpBody,
    B::Error: std::fmt::Debug,
{
    let mut request = Request::get("/");
    if let Some(customer) = customer {
        request = request.header(CUSTOMER_HEADER, customer);
    }
    let response = service
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let headers = comparable(headers);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
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
    assert_eq!(body["code"], code, "customer {customer:?}");
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
    let continuity = kelviq
        .gate()
        .failure_policy(FailurePolicy::fallback(Fallback::new().grant("dashboard")));
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

/// The answer of a bare tower service (no axum router) behind `gates`' layer.
async fn through_tower(gates: &GateBuilder, customer: Option<&str>) -> Answer {
    let service = tower::ServiceBuilder::new()
        .layer(gates.clone().into_layer().customer(source()))
        .service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("ok")))
        });
    answer_of(service, customer).await
}

/// The header `name` of an answer, as text.
fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .iter()
        .find(|(header, _)| header == name)
        .map(|(_, value)| std::str::from_utf8(value).unwrap())
}

#[actix_web::test]
async fn denials_are_problem_details() {
    let mock = mock().await;
    let kelviq = client(&mock);
    let gates = kelviq
        .gate()
        .limit_reached_status(StatusCode::PAYMENT_REQUIRED);
    let too_long = "c".repeat(kelviq.max_customer_id_len() + 1);
    // (customer, required feature, status, code, title, feature member)
    let cases = [
        (
            None,
            "dashboard",
            401,
            "missing_customer",
            "Customer not identified",
            None,
        ),
        (
            Some(too_long.as_str()),
            "dashboard",
            400,
            "invalid_customer",
            "Invalid customer id",
            None,
        ),
        (
            Some("nobody"),
            "dashboard",
            403,
            "unknown_customer",
            "Unknown customer",
            None,
        ),
        (
            Some("full"),
            "reports",
            403,
            "feature_not_entitled",
            "Feature not in plan",
            Some("reports"),
        ),
        (
            Some("full"),
            "calls",
            402,
            "usage_limit_reached",
            "Usage limit reached",
            Some("calls"),
        ),
    ];
    let mut types = std::collections::HashSet::new();
    for (customer, feature, status, code, title, member) in cases {
        let gates = gates.clone().require(feature);
        let axum = through_axum(&gates, customer).await;
        let actix = through_actix(&gates, customer).await;
        let tower = through_tower(&gates, customer).await;
        assert_eq!(axum, actix, "{code}: axum and actix");
        assert_eq!(axum, tower, "{code}: axum and tower");
        assert_eq!(axum.status, status, "{code}");
        assert_eq!(
            header(&axum, "content-type"),
            Some("application/problem+json"),
            "{code}"
        );
        let body: serde_json::Value = serde_json::from_slice(&axum.body).unwrap();
        let object = body.as_object().unwrap();
        let kind = body["type"].as_str().unwrap();
        assert_eq!(
            kind,
            format!(
                "{}{}",
                kelviq_client::gate::PROBLEM_TYPE_BASE,
                code.replace('_', "-")
            )
        );
        assert!(types.insert(kind.to_owned()), "one type per kind: {kind}");
        assert_eq!(body["title"], title);
        assert_eq!(
            body["status"], status,
            "the status member is the response's"
        );
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|detail| !detail.is_empty())
        );
        assert_eq!(body["code"], code);
        assert_eq!(body["feature"].as_str(), member, "{code}");
        if code == "usage_limit_reached" {
            assert_eq!(
                (&body["limit"], &body["used"], &body["remaining"]),
                (&3.into(), &3.into(), &0.into())
            );
            assert!(body["resetAt"].is_string());
        } else {
            for absent in ["limit", "used", "remaining", "resetAt"] {
                assert!(!object.contains_key(absent), "{code}: {absent}");
            }
        }
        assert!(
            !object.values().any(serde_json::Value::is_null),
            "{code}: no null members"
        );
    }

    // Kelviq unreachable: 503 problem details with Retry-After, alike everywhere.
    mock.inject(FaultRule::always(Fault::status(500)).on(Route::Entitlements));
    let down = client(&mock).gate().require("dashboard");
    let axum = through_axum(&down, Some("full")).await;
    assert_eq!(axum, through_actix(&down, Some("full")).await);
    assert_eq!(axum, through_tower(&down, Some("full")).await);
    assert_eq!(axum.status, 503);
    assert_eq!(
        header(&axum, "content-type"),
        Some("application/problem+json")
    );
    assert_eq!(header(&axum, "retry-after"), Some("1"));
    let body: serde_json::Value = serde_json::from_slice(&axum.body).unwrap();
    assert_eq!(body["code"], "kelviq_unavailable");
    assert_eq!(body["title"], "Entitlements unavailable");

    // A denial handler still replaces the whole response.
    let handled = kelviq.gate().require("reports").on_denied(|denial| {
        let mut response = http::Response::new(bytes::Bytes::from(denial.code()));
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    });
    let axum = through_axum(&handled, Some("full")).await;
    assert_eq!(axum, through_actix(&handled, Some("full")).await);
    assert_eq!(
        (axum.status, axum.body.as_slice()),
        (418, b"feature_not_entitled".as_slice())
    );
}

/// The time `seconds` ahead, as the mock's period end.
fn ahead(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
}

#[actix_web::test]
async fn period_limits_do_not_send_weeks_of_retry_after() {
    let mock = mock().await;
    let weeks = 20 * 24 * 3600;
    mock.set_period_end(Some(ahead(weeks)));
    let gates = client(&mock)
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .quota_headers(true)
        .meter("calls", 1);
    for answer in [
        through_axum(&gates, Some("full")).await,
        through_actix(&gates, Some("full")).await,
        through_tower(&gates, Some("full")).await,
    ] {
        assert_eq!(answer.status, 429);
        assert_eq!(
            header(&answer, "retry-after"),
            None,
            "weeks are no Retry-After"
        );
        // The reset is in the RateLimit field and the problem details.
        let current = header(&answer, "ratelimit").unwrap();
        let t: i64 = current.rsplit_once(";t=").unwrap().1.parse().unwrap();
        assert!((weeks - 5..=weeks).contains(&t), "{current}");
        assert!(current.starts_with(r#""calls";r=0;"#), "{current}");
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let reset: jiff::Timestamp = body["resetAt"].as_str().unwrap().parse().unwrap();
        assert!(reset.duration_since(jiff::Timestamp::now()).as_secs() > weeks - 5);
    }

    // Two minutes to the reset: a real, short wait, sent as Retry-After.
    mock.set_period_end(Some(ahead(120)));
    let soon = client(&mock)
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .meter("calls", 1);
    let answer = through_axum(&soon, Some("full")).await;
    assert_eq!(answer.status, 429);
    let wait: u64 = header(&answer, "retry-after").unwrap().parse().unwrap();
    assert!((115..=120).contains(&wait), "{wait}");
    // (The same body in actix-web; the seconds may tick between the two calls.)
    assert_eq!(answer.body, through_actix(&soon, Some("full")).await.body);

    // The maximum is the gate's: below it, no Retry-After even for two minutes.
    let strict = client(&mock)
        .gate()
        .max_retry_after(Duration::from_secs(60))
        .meter("calls", 1);
    let answer = through_axum(&strict, Some("full")).await;
    assert_eq!(answer.status, 403);
    assert_eq!(header(&answer, "retry-after"), None);
}

/// A success through each adapter carries the same quota fields: the quota, and what is
/// left once this request's unit is counted (3 − 1 used − 1 now = 1), with the reset.
#[actix_web::test]
async fn quota_headers_on_successes_are_the_same_through_every_adapter() {
    let mut seen = Vec::new();
    for adapter in ["axum", "actix", "tower"] {
        // A fake of its own per adapter: each success meters a unit.
        let mock = mock().await;
        mock.set_period_end(Some(ahead(3600)));
        let gates = client(&mock).gate().quota_headers(true).meter("calls", 1);
        let answer = match adapter {
            "axum" => through_axum(&gates, Some("room")).await,
            "actix" => through_actix(&gates, Some("room")).await,
            _ => through_tower(&gates, Some("room")).await,
        };
        assert_eq!(answer.status, 200, "{adapter}");
        let policy = header(&answer, "ratelimit-policy").unwrap();
        let current = header(&answer, "ratelimit").unwrap();
        assert!(
            policy.starts_with(r#""calls";q=3;w="#),
            "{adapter}: {policy}"
        );
        assert!(
            current.starts_with(r#""calls";r=1;t="#),
            "{adapter}: {current}"
        );
        let t: i64 = current.rsplit_once(";t=").unwrap().1.parse().unwrap();
        assert!((3595..=3600).contains(&t), "{adapter}: {current}");
        seen.push(current.split(";t=").next().unwrap().to_owned());
    }
    assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{seen:?}");
}
