//! Customer ids no request can carry (longer than the client's maximum) are the caller's
//! mistake: `400` `invalid_customer`, answered before any call to Kelviq — never `503`.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum_test::TestServer;
use kelviq_axum::prelude::*;
use kelviq_mock::MockServer;

use crate::app::{Reports, client, seed};

/// 100 KB of ASCII.
fn long_ascii() -> String {
    "c".repeat(100 * 1024)
}

/// 22 KB of two-byte characters.
fn long_non_ascii() -> String {
    "é".repeat(11 * 1024)
}

/// A router gated on reports, the customer from the `x-customer` header (`/header`) or,
/// for ids no header can carry, from the app's own lookup of a short `x-who` key (`/fn`).
fn router(kelviq: &Kelviq) -> Router {
    let gates = kelviq.gate().require(Reports);
    let by_key =
        FromFn::new(
            |head: RequestHead<'_>| match head.headers.get("x-who")?.to_str().ok()? {
                "ascii" => Some(long_ascii()),
                "non-ascii" => Some(long_non_ascii()),
                other => Some(other.to_owned()),
            },
        );
    Router::new()
        .route(
            "/header",
            get(|| async { "the report" }).route_layer(
                gates
                    .clone()
                    .into_layer()
                    .customer(FromHeader::from_static("x-customer")),
            ),
        )
        .route(
            "/fn",
            get(|| async { "the report" }).route_layer(gates.into_layer().customer(by_key)),
        )
}

#[tokio::test]
async fn an_id_longer_than_the_maximum_is_a_400_and_kelviq_is_never_called() {
    let mock = MockServer::builder().seed(seed()).start().await.unwrap();
    let kelviq = client(&mock, CacheConfig::default());
    let server = TestServer::new(router(&kelviq));

    let answers = [
        server
            .get("/header")
            .add_header(
                HeaderName::from_static("x-customer"),
                HeaderValue::from_str(&long_ascii()).unwrap(),
            )
            .await,
        server
            .get("/fn")
            .add_header(
                HeaderName::from_static("x-who"),
                HeaderValue::from_static("ascii"),
            )
            .await,
        server
            .get("/fn")
            .add_header(
                HeaderName::from_static("x-who"),
                HeaderValue::from_static("non-ascii"),
            )
            .await,
    ];
    for response in answers {
        response.assert_status(StatusCode::BAD_REQUEST);
        response.assert_json(&serde_json::json!({
            "type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-customer",
            "title": "Invalid customer id",
            "status": 400,
            "detail": "the customer id of this request is too long",
            "code": "invalid_customer",
        }));
    }
    assert!(mock.journal().is_empty(), "{:?}", mock.journal());

    // At the maximum, the id is sent: the customer is unknown to Kelviq.
    let at_max = "c".repeat(kelviq.max_customer_id_len());
    server
        .get("/header")
        .add_header(
            HeaderName::from_static("x-customer"),
            HeaderValue::from_str(&at_max).unwrap(),
        )
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert_eq!(mock.entitlement_calls(&at_max), 1);
}
