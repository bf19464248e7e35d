//! A gate that cannot work is refused while the router is assembled, naming the mistake;
//! nothing answers 500 at request time.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use kelviq_axum::prelude::*;
use kelviq_mock::MockServer;

use crate::app::{Reports, client};

#[tokio::test]
#[should_panic(expected = "invalid Kelviq gate: invalid require: a feature id must not be empty")]
async fn an_empty_feature_id_panics_while_the_router_is_assembled() {
    let mock = MockServer::start().await;
    let kelviq = client(&mock, CacheConfig::default());
    let gates = kelviq
        .gate()
        .limit_reached_status(StatusCode::PAYMENT_REQUIRED);
    let _router: Router = Router::new()
        .route(
            "/reports",
            get(|| async { "report" }).route_layer(gates.clone().require(Reports).into_layer()),
        )
        .route(
            "/typo",
            get(|| async { "typo" }).route_layer(gates.clone().require("").into_layer()),
        );
}

#[tokio::test]
async fn a_limit_status_that_is_not_an_error_is_a_build_error_naming_it() {
    let mock = MockServer::start().await;
    let kelviq = client(&mock, CacheConfig::default());
    let error = kelviq
        .gate()
        .limit_reached_status(StatusCode::OK)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("limit_reached_status"),
        "{error}"
    );
    // Set on the template, every route's layer names it.
    let gates = kelviq.gate().limit_reached_status(StatusCode::OK);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gates.clone().require(Reports).into_layer()
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("limit_reached_status"), "{message}");
}

#[tokio::test]
async fn a_client_without_an_entitlement_cache_is_refused_saying_why() {
    let mock = MockServer::start().await;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .no_entitlement_cache()
        .build()
        .unwrap();
    let error = kelviq.gate().require(Reports).build().unwrap_err();
    let message = error.to_string();
    assert!(message.contains("entitlement cache"), "{message}");
    assert!(message.contains("no_entitlement_cache()"), "{message}");
    assert!(mock.journal().is_empty());
}
