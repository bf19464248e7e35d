//! Each extractor, with and without the layer, and its rejections.

use kelviq_mock::Route;
use serde_json::{Value, json};

use crate::app::app;

#[tokio::test]
async fn customer_and_entitlements_give_handlers_the_whole_api() {
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
        .await;
    denied.assert_status_forbidden();
    assert_eq!(denied.json::<Value>()["feature"], "reports");
}

#[tokio::test]
async fn entitled_works_without_the_layer_from_the_customer_id_and_state() {
    let app = app().await;
    app.server
        .get("/unlayered-report")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("typed report without layer");
    app.server
        .get("/unlayered-report")
        .add_header("x-api-key", "free-key")
        .await
        .assert_status_forbidden();
}

#[tokio::test]
async fn without_layer_or_customer_the_500_names_the_missing_layer() {
    let app = app().await;
    let response = app.server.get("/no-layer-customer").expect_failure().await;
    response.assert_status_internal_server_error();
    let body = response.json::<Value>();
    assert_eq!(body["error"], "kelviq_layer_missing");
    assert!(
        body["message"].as_str().unwrap().contains("KelviqLayer"),
        "{body}"
    );
    let recorder = app
        .server
        .post("/no-layer-recorder")
        .add_header("x-api-key", "pro-key")
        .expect_failure()
        .await;
    assert_eq!(recorder.json::<Value>()["error"], "kelviq_layer_missing");
}

#[tokio::test]
async fn the_usage_recorder_meters_what_the_handler_says() {
    let app = app().await;
    app.server
        .post("/record")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_text("recorded");
    app.meter.flush().await;
    assert_eq!(app.mock.usage_total("cust_pro", "api-calls"), 3);
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
    use axum::Router;
    use axum::routing::get;
    use kelviq_axum::{Gatekeeper, PathCustomer};

    let app = app().await;
    let gates =
        Gatekeeper::new(app.kelviq.clone(), app.meter.clone()).customer(PathCustomer::new("id"));
    let router = Router::new()
        .route(
            "/customers/{id}/reports",
            get(|customer: kelviq_axum::extract::Customer| async move { customer.id().to_owned() })
                .route_layer(gates.require("reports")),
        )
        .with_state(app.kelviq.clone());
    let server = axum_test::TestServer::new(router);
    server
        .get("/customers/cust_pro/reports")
        .await
        .assert_text("cust_pro");
    server
        .get("/customers/cust_free/reports")
        .await
        .assert_status_forbidden();
}

#[tokio::test]
async fn path_customers_work_in_nested_routers() {
    use axum::Router;
    use axum::routing::get;
    use kelviq_axum::{Gatekeeper, PathCustomer};

    let app = app().await;
    let gates =
        Gatekeeper::new(app.kelviq.clone(), app.meter.clone()).customer(PathCustomer::new("id"));
    let inner = Router::new().route(
        "/{id}/reports/latest",
        get(|customer: kelviq_axum::extract::Customer| async move { customer.id().to_owned() })
            .route_layer(gates.require("reports")),
    );
    let router = Router::new()
        .nest("/v2/customers", inner)
        .with_state(app.kelviq.clone());
    let server = axum_test::TestServer::new(router);
    server
        .get("/v2/customers/cust_pro/reports/latest")
        .await
        .assert_text("cust_pro");
    server
        .get("/v2/customers/cust_free/reports/latest")
        .await
        .assert_status_forbidden();
}

#[tokio::test]
async fn optional_entitlements_are_none_without_layer_or_customer() {
    use axum::Router;
    use axum::routing::get;
    use kelviq_axum::extract::Entitlements;

    let app = app().await;
    let router = Router::new()
        .route(
            "/maybe",
            get(|entitlements: Option<Entitlements>| async move {
                if entitlements.is_some() {
                    "some"
                } else {
                    "none"
                }
            }),
        )
        .with_state(app.kelviq.clone());
    axum_test::TestServer::new(router)
        .get("/maybe")
        .await
        .assert_text("none");
    assert!(app.mock.journal().is_empty());
}

#[tokio::test]
async fn entitled_answers_a_reached_limit_with_the_layers_status() {
    use axum::Router;
    use axum::routing::get;
    use kelviq_axum::Gatekeeper;
    use kelviq_axum::extract::Entitled;

    kelviq_client::feature! {
        ApiCalls = "api-calls";
    }

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
    let gates = Gatekeeper::new(app.kelviq.clone(), app.meter.clone());
    let router = Router::new()
        .route(
            "/calls",
            get(|_: Entitled<ApiCalls>| async { "ok" })
                .route_layer(gates.layer().limit_reached_status(429)),
        )
        .layer(axum::middleware::from_fn(
            |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                request
                    .extensions_mut()
                    .insert(kelviq_axum::CustomerId::new("cust_free"));
                next.run(request).await
            },
        ))
        .with_state(app.kelviq.clone());
    let response = axum_test::TestServer::new(router).get("/calls").await;
    response.assert_status(http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.json::<Value>()["error"], "usage_limit_reached");
}
