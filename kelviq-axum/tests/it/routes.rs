//! Gated and metered routes: allow, deny, 401, Kelviq down, stale, metering.

use std::time::Duration;

use kelviq_axum::prelude::*;
use kelviq_mock::{Fault, FaultRule, Route};
use serde_json::json;

use crate::app::{app, start};

#[tokio::test]
async fn a_free_route_needs_no_customer() {
    let app = app().await;
    app.server.get("/").await.assert_text("free for all");
    assert!(app.mock.journal().is_empty());
}

#[tokio::test]
async fn entitled_customers_pass_and_others_get_403_json() {
    let app = app().await;
    app.server
        .get("/reports")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("the report");
    let denied = app
        .server
        .get("/reports")
        .add_header("x-api-key", "free-key")
        .expect_failure()
        .await;
    denied.assert_status(StatusCode::FORBIDDEN);
    denied.assert_header("content-type", "application/problem+json");
    denied.assert_json(&json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled", "title": "Feature not in plan", "status": 403, "detail": "your plan does not include reports", "code": "feature_not_entitled", "feature": "reports"}));
}

#[tokio::test]
async fn no_customer_is_401_json() {
    let app = app().await;
    let response = app.server.get("/reports").expect_failure().await;
    response.assert_status_unauthorized();
    assert_eq!(
        response.json::<serde_json::Value>()["code"],
        "missing_customer"
    );
    let response = app
        .server
        .get("/reports")
        .add_header("x-api-key", "wrong")
        .expect_failure()
        .await;
    response.assert_status_unauthorized();
    assert!(app.mock.journal().is_empty());
}

#[tokio::test]
async fn metering_counts_successes_until_the_limit_flips_access() {
    let app = app().await;
    for _ in 0..5 {
        app.server
            .post("/api/calls")
            .add_header("x-api-key", "free-key")
            .await
            .assert_text("ok");
    }
    let limited = app
        .server
        .post("/api/calls")
        .add_header("x-api-key", "free-key")
        .expect_failure()
        .await;
    limited.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(
        limited.json::<serde_json::Value>()["code"],
        "usage_limit_reached"
    );
    app.meter().flush().await.unwrap();
    assert_eq!(app.mock.usage_total("cust_free", "api-calls"), 5);
    assert_eq!(
        app.mock.calls(Route::Entitlements),
        1,
        "decided from the cache"
    );
}

#[tokio::test]
async fn the_first_requests_of_a_customer_share_one_call_to_kelviq() {
    let app = app().await;
    let requests = (0..8).map(|_| {
        app.server
            .post("/api/calls")
            .add_header("x-api-key", "pro-key")
            .into_future()
    });
    for response in futures::future::join_all(requests).await {
        response.assert_text("ok");
    }
    assert_eq!(app.mock.entitlement_calls("cust_pro"), 1);
    app.meter().flush().await.unwrap();
    assert_eq!(app.mock.usage_total("cust_pro", "api-calls"), 8);
}

#[tokio::test]
async fn a_failed_response_records_nothing_and_usage_amount_overrides() {
    let app = app().await;
    app.server
        .post("/api/fail")
        .add_header("x-api-key", "pro-key")
        .expect_failure()
        .await
        .assert_status_internal_server_error();
    app.server
        .post("/api/batch")
        .add_query_param("items", 250)
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("250 items");
    app.meter().flush().await.unwrap();
    assert_eq!(app.mock.usage_total("cust_pro", "api-calls"), 250);
    assert_eq!(app.meter().stats().recorded, 250);
}

#[tokio::test]
async fn kelviq_down_fails_closed_by_default() {
    let app = app().await;
    app.mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let response = app
        .server
        .get("/reports")
        .add_header("x-api-key", "pro-key")
        .expect_failure()
        .await;
    response.assert_status_service_unavailable();
    assert_eq!(
        response.json::<serde_json::Value>()["code"],
        "kelviq_unavailable"
    );
}

#[tokio::test]
async fn kelviq_down_fails_open_when_configured() {
    let app = start(CacheConfig::default(), FailurePolicy::Allow).await;
    app.mock
        .inject(FaultRule::always(Fault::DropConnection).on(Route::Entitlements));
    app.server
        .get("/reports")
        .add_header("x-api-key", "free-key")
        .await
        .assert_text("the report");
}

#[tokio::test(start_paused = true)]
async fn a_stale_snapshot_is_served_while_kelviq_is_down() {
    let cache = CacheConfig::default()
        .ttl(Duration::from_secs(60))
        .stale_window(Duration::from_secs(3600));
    let app = start(cache, FailurePolicy::Deny).await;
    app.server
        .get("/reports")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_status_ok();
    // Past the TTL, inside the stale window.
    tokio::time::advance(Duration::from_secs(61)).await;
    app.mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    app.server
        .get("/reports")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("the report");
    // A customer never seen before has no snapshot to fall back on.
    app.server
        .get("/reports")
        .add_header("x-api-key", "free-key")
        .expect_failure()
        .await
        .assert_status_service_unavailable();
}
