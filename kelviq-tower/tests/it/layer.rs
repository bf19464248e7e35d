//! What the layer answers: allow, deny, 401, Kelviq down, metering on success only.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::HeaderName;
use kelviq_client::CacheConfig;
use kelviq_client::gate::FailurePolicy;
use kelviq_mock::{Fault, FaultRule, MockServer, Route};
use kelviq_tower::{FromFn, FromHeader, GateBuilderExt, KelviqLayer, RequestHead};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

use crate::support::{Setup, handler, read, request};

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn an_entitled_customer_reaches_the_handler_with_its_context() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("reports").into_layer())
        .service_fn(handler);
    let (status, body) = read(
        service
            .oneshot(request(Some("cust_pro"), "/reports"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "customer=cust_pro snapshot=true stale=false");
}

#[tokio::test]
async fn a_layer_is_made_from_a_built_gate_too() {
    let setup = Setup::start().await;
    let gate = setup.kelviq.gate().require("reports").build().unwrap();
    let layer = KelviqLayer::from(gate.clone());
    assert_eq!(layer.gate().requirements(), gate.requirements());
    let service = ServiceBuilder::new()
        .layer(KelviqLayer::new(gate))
        .service_fn(handler);
    let (status, _) = read(
        service
            .oneshot(request(Some("cust_free"), "/reports"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_customer_without_the_feature_gets_403_json() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("reports").into_layer())
        .service_fn(handler);
    let response = service
        .oneshot(request(Some("cust_free"), "/reports"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (status, body) = read(response).await;
    assert_eq!(status, 403);
    assert_eq!(
        json_of(&body),
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled", "title": "Feature not in plan", "status": 403, "detail": "your plan does not include reports", "code": "feature_not_entitled", "feature": "reports"})
    );
}

#[tokio::test]
async fn no_customer_is_401_without_any_call_to_kelviq() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("reports").into_layer())
        .service_fn(handler);
    let (status, body) = read(
        service
            .clone()
            .oneshot(request(None, "/reports"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(json_of(&body)["code"], "missing_customer");
    let (status, _) = read(
        service
            .oneshot(request(Some(""), "/reports"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn the_customer_can_come_from_a_header_or_a_closure() {
    let setup = Setup::start().await;
    let by_header = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("reports")
                .into_layer()
                .customer(FromHeader::new(HeaderName::from_static("x-customer"))),
        )
        .service_fn(handler);
    let request = http::Request::builder()
        .header("x-customer", "cust_pro")
        .body(String::new())
        .unwrap();
    assert_eq!(read(by_header.oneshot(request).await.unwrap()).await.0, 200);

    let by_path = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("reports")
                .into_layer()
                .customer(FromFn::new(|head: RequestHead<'_>| {
                    head.uri
                        .path()
                        .strip_prefix("/customers/")
                        .map(str::to_owned)
                })),
        )
        .service_fn(handler);
    let request = http::Request::builder()
        .uri("/customers/cust_free")
        .body(String::new())
        .unwrap();
    assert_eq!(read(by_path.oneshot(request).await.unwrap()).await.0, 403);
}

#[tokio::test]
async fn a_reached_limit_has_its_own_code_and_configurable_status() {
    let setup = Setup::start().await;
    setup
        .kelviq
        .reporting()
        .report_usage(kelviq_client::ReportUsage::delta(
            "cust_free",
            "api-calls",
            100,
        ))
        .await
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("api-calls")
                .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
                .into_layer(),
        )
        .service_fn(handler);
    let (status, body) = read(
        service
            .oneshot(request(Some("cust_free"), "/api"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(json_of(&body)["code"], "usage_limit_reached");
}

#[tokio::test]
async fn kelviq_down_fails_closed_by_default_and_open_when_asked() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let closed = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("reports").into_layer())
        .service_fn(handler);
    let (status, body) = read(
        closed
            .oneshot(request(Some("cust_pro"), "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(json_of(&body)["code"], "kelviq_unavailable");

    let open = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("reports")
                .failure_policy(FailurePolicy::Allow)
                .into_layer(),
        )
        .service_fn(handler);
    let (status, body) = read(open.oneshot(request(Some("cust_free"), "/")).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, "customer=cust_free snapshot=false stale=false");
}

#[tokio::test(start_paused = true)]
async fn a_stale_snapshot_still_decides_while_kelviq_is_down() {
    let mock = MockServer::start().await;
    let setup = Setup::with(
        mock,
        CacheConfig::default()
            .ttl(Duration::from_secs(60))
            .stale_window(Duration::from_secs(3600)),
    )
    .await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("reports").into_layer())
        .service_fn(handler);
    assert_eq!(
        read(
            service
                .clone()
                .oneshot(request(Some("cust_pro"), "/"))
                .await
                .unwrap()
        )
        .await
        .0,
        200
    );
    // Past the TTL, inside the stale window.
    tokio::time::advance(Duration::from_secs(61)).await;
    setup
        .mock
        .inject(FaultRule::always(Fault::DropConnection).on(Route::Entitlements));
    let (status, body) = read(
        service
            .oneshot(request(Some("cust_pro"), "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "customer=cust_pro snapshot=true stale=true");
    // The stale snapshot answered at once; one refresh runs in the background.
    for _ in 0..1000 {
        if setup.mock.calls(Route::Entitlements) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        setup.mock.calls(Route::Entitlements),
        2,
        "one refresh tried"
    );
}

#[tokio::test]
async fn only_successful_responses_are_metered_and_handlers_can_set_the_amount() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("api-calls")
                .meter("api-calls", 1)
                .into_layer(),
        )
        .service_fn(handler);
    for path in [
        "/ok",
        "/ok",
        "/fail?status=500",
        "/missing?status=404",
        "/bulk?amount=40",
    ] {
        service
            .clone()
            .oneshot(request(Some("cust_free"), path))
            .await
            .unwrap();
    }
    setup.meter().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 42);
    assert_eq!(setup.meter().stats().recorded, 42);
}

#[tokio::test]
async fn an_amount_set_on_the_context_is_metered_and_the_response_extension_wins() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().meter("api-calls", 1).into_layer())
        .service_fn(handler);
    for path in [
        "/set?set=7",
        "/both?set=7&amount=50",
        "/failed?set=7&status=500",
    ] {
        service
            .clone()
            .oneshot(request(Some("cust_free"), path))
            .await
            .unwrap();
    }
    setup.meter().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 57);
}

#[tokio::test]
async fn a_gate_that_meters_nothing_records_nothing() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(setup.kelviq.gate().require("api-calls").into_layer())
        .service_fn(handler);
    for path in ["/ok", "/bulk?amount=40", "/set?set=7"] {
        service
            .clone()
            .oneshot(request(Some("cust_free"), path))
            .await
            .unwrap();
    }
    setup.meter().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 0);
    assert_eq!(setup.meter().stats().recorded, 0);
}

#[tokio::test]
async fn denials_can_be_answered_by_the_callers_function() {
    let setup = Setup::start().await;
    let service = ServiceBuilder::new()
        .layer(
            setup
                .kelviq
                .gate()
                .require("reports")
                .on_denied(|denial| {
                    let mut response = http::Response::new(Bytes::from(format!(
                        "upgrade for {}",
                        denial.feature().unwrap_or("?")
                    )));
                    *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
                    response
                })
                .into_layer(),
        )
        .service_fn(handler);
    let (status, body) = read(
        service
            .oneshot(request(Some("cust_free"), "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (402, "upgrade for reports"));
}
