//! Each extractor, with and without the layer, and its rejections.

use axum::Router;
use axum::routing::get;
use kelviq_axum::prelude::*;
use kelviq_axum::rejection::{EntitledRejection, MissingKelviqLayer};
use kelviq_mock::{Fault, FaultRule, Route};
use serde_json::{Value, json};

use crate::app::{ApiCalls, Reports, app, start};

#[tokio::test]
async fn customer_and_request_snapshot_give_handlers_the_whole_api() {
    let app = app().await;
    let me = app
        .server
        .get("/me")
        .add_header("x-api-key", "pro-key")
        .await;
    me.assert_json(
        &json!({"customer": "cust_pro", "features": ["reports", "api-calls"], "subscriptions": 1}),
    );
    assert_eq!(
        app.mock.calls(Route::Entitlements),
        1,
        "the layer's snapshot is reused"
    );
}

#[tokio::test]
async fn the_context_extractor_gives_the_layers_context() {
    let app = app().await;
    app.server
        .get("/context")
        .add_header("x-api-key", "free-key")
        .await
        .assert_text("cust_free 403");
}

#[tokio::test]
async fn entitled_rejects_with_the_gate_body() {
    let app = app().await;
    app.server
        .get("/typed-report")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("typed report");
    let denied = app
        .server
        .get("/typed-report")
        .add_header("x-api-key", "free-key")
        .expect_failure()
        .await;
    denied.assert_status_forbidden();
    denied.assert_header("content-type", "application/problem+json");
    assert_eq!(
        denied.json::<Value>(),
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled", "title": "Feature not in plan", "status": 403, "detail": "your plan does not include reports", "code": "feature_not_entitled", "feature": "reports"})
    );
}

#[tokio::test]
async fn every_extractor_without_the_layer_answers_a_named_500_and_never_calls_kelviq() {
    let app = app().await;
    for (method, path) in [
        ("GET", "/no-layer/customer"),
        ("GET", "/no-layer/snapshot"),
        ("GET", "/no-layer/entitled"),
        ("POST", "/no-layer/recorder"),
        ("GET", "/no-layer/context"),
    ] {
        // A customer id is there: only the layer is missing.
        let request = match method {
            "POST" => app.server.post(path),
            _ => app.server.get(path),
        };
        let response = request
            .add_header("x-api-key", "pro-key")
            .expect_failure()
            .await;
        response.assert_status_internal_server_error();
        response.assert_header("content-type", "application/problem+json");
        let body = response.json::<Value>();
        assert_eq!(body["code"], "kelviq_layer_missing", "{path}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("kelviq_axum::KelviqLayer"),
            "{path}: {body}"
        );
    }
    assert!(
        app.mock.journal().is_empty(),
        "no call to Kelviq: {:?}",
        app.mock.journal()
    );
    assert_eq!(app.mock.entitlement_calls("cust_pro"), 0);
}

#[tokio::test]
async fn optional_extractors_are_none_without_the_layer_without_calling_kelviq() {
    let app = app().await;
    for key in ["pro-key", "none"] {
        app.server
            .get("/no-layer/optional")
            .add_header("x-api-key", key)
            .await
            .assert_text("false false false");
    }
    assert!(app.mock.journal().is_empty());
}

#[tokio::test]
async fn an_optional_request_snapshot_is_none_without_layer_or_customer() {
    let app = app().await;
    let router = Router::new().route(
        "/maybe",
        get(|snapshot: Option<RequestSnapshot>| async move {
            if snapshot.is_some() { "some" } else { "none" }
        }),
    );
    axum_test::TestServer::new(router)
        .get("/maybe")
        .await
        .assert_text("none");
    assert!(app.mock.journal().is_empty());
}

#[tokio::test]
async fn without_a_snapshot_request_snapshot_is_none_or_503_and_entitled_is_503() {
    let app = start(CacheConfig::default(), FailurePolicy::Allow).await;
    app.mock
        .inject(FaultRule::always(Fault::DropConnection).on(Route::Entitlements));
    app.server
        .get("/maybe")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("none");
    for path in ["/me", "/typed-report"] {
        let response = app
            .server
            .get(path)
            .add_header("x-api-key", "pro-key")
            .expect_failure()
            .await;
        response.assert_status_service_unavailable();
        assert_eq!(
            response.json::<Value>()["code"],
            "kelviq_unavailable",
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_usage_recorder_records_what_the_handler_says() {
    let app = app().await;
    app.server
        .post("/record")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("recorded");
    app.meter().flush().await.unwrap();
    assert_eq!(app.mock.usage_total("cust_pro", "api-calls"), 3);
}

#[tokio::test]
async fn an_amount_set_on_the_usage_recorder_is_metered_by_the_layer_on_success() {
    let app = app().await;
    app.server
        .post("/api/set-amount")
        .add_query_param("items", 30)
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("Some(30) items");
    app.server
        .post("/api/set-amount")
        .add_query_param("items", 50)
        .add_query_param("fail", 1)
        .add_header("x-api-key", "pro-key")
        .expect_failure()
        .await
        .assert_status_internal_server_error();
    app.meter().flush().await.unwrap();
    assert_eq!(app.mock.usage_total("cust_pro", "api-calls"), 30);
    assert_eq!(app.meter().stats().recorded, 30);
}

#[tokio::test]
async fn the_client_comes_from_the_state() {
    let app = app().await;
    app.server
        .get("/state-client")
        .await
        .assert_text(app.kelviq.api_url());
}

#[tokio::test]
async fn path_parameters_can_name_the_customer() {
    let app = app().await;
    let router = Router::new().route(
        "/customers/{id}/reports",
        get(|customer: Customer| async move { customer.id().to_owned() }).route_layer(
            app.kelviq
                .gate()
                .require(Reports)
                .into_layer()
                .customer(FromPath::new("id")),
        ),
    );
    let server = axum_test::TestServer::new(router);
    server
        .get("/customers/cust_pro/reports")
        .await
        .assert_text("cust_pro");
    server
        .get("/customers/cust_free/reports")
        .expect_failure()
        .await
        .assert_status_forbidden();
}

#[tokio::test]
async fn path_customers_work_in_nested_routers() {
    let app = app().await;
    let gates = app.kelviq.gate();
    let inner = Router::new().route(
        "/{id}/reports/latest",
        get(|customer: Customer| async move { customer.id().to_owned() }).route_layer(
            gates
                .clone()
                .require(Reports)
                .into_layer()
                .customer(FromPath::new("id")),
        ),
    );
    let router = Router::new().nest("/v2/customers", inner);
    let server = axum_test::TestServer::new(router);
    server
        .get("/v2/customers/cust_pro/reports/latest")
        .await
        .assert_text("cust_pro");
    server
        .get("/v2/customers/cust_free/reports/latest")
        .expect_failure()
        .await
        .assert_status_forbidden();
}

#[test]
#[should_panic(expected = "FromPath::new(\"{id}\")")]
fn a_path_parameter_name_with_braces_panics_while_the_router_is_assembled() {
    let _ = FromPath::new("{id}");
}

#[tokio::test]
async fn entitled_answers_a_reached_limit_with_the_gates_status() {
    let app = app().await;
    app.kelviq
        .reporting()
        .report_usage(kelviq_client::ReportUsage::delta(
            "cust_free",
            "api-calls",
            5,
        ))
        .await
        .unwrap();
    let gates = app
        .kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS);
    let router = Router::new()
        .route(
            "/calls",
            get(|_: Entitled<ApiCalls>| async { "ok" }).route_layer(gates.clone().into_layer()),
        )
        .layer(axum::middleware::from_fn(
            |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                request
                    .extensions_mut()
                    .insert(CustomerId::new("cust_free"));
                next.run(request).await
            },
        ));
    let response = axum_test::TestServer::new(router)
        .get("/calls")
        .expect_failure()
        .await;
    response.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.json::<Value>()["code"], "usage_limit_reached");
}

#[tokio::test]
async fn entitled_answers_through_the_gates_denial_handler() {
    let app = app().await;
    let gates = app.kelviq.gate().on_denied(|denial: &Denial| {
        http::Response::builder()
            .status(StatusCode::PAYMENT_REQUIRED)
            .header("x-upgrade", denial.feature().unwrap_or("plan"))
            .body(bytes::Bytes::from_static(b"upgrade"))
            .unwrap()
    });
    let router = Router::new()
        .route(
            "/typed",
            get(|_: Entitled<Reports>| async { "ok" }).route_layer(gates.clone().into_layer()),
        )
        .layer(axum::middleware::from_fn(
            |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                request
                    .extensions_mut()
                    .insert(CustomerId::new("cust_free"));
                next.run(request).await
            },
        ));
    let response = axum_test::TestServer::new(router)
        .get("/typed")
        .expect_failure()
        .await;
    response.assert_status(StatusCode::PAYMENT_REQUIRED);
    response.assert_header("x-upgrade", "reports");
    response.assert_text("upgrade");
}

#[test]
fn the_missing_layer_rejection_says_its_status_code_and_cause() {
    let missing = MissingKelviqLayer::default();
    assert_eq!(missing.status(), 500);
    assert_eq!(missing.code(), "kelviq_layer_missing");
    assert!(missing.to_string().contains("kelviq_axum::KelviqLayer"));
    let rejection = EntitledRejection::from(missing);
    assert_eq!(rejection.status(), 500);
    assert!(std::error::Error::source(&rejection).is_some());
}
