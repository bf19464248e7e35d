//! The webhook route: verification, cache invalidation, handler.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use kelviq_axum::kelviq_client::webhook::sign;
use kelviq_axum::prelude::*;
use kelviq_mock::Route;

use crate::app::app;

#[tokio::test]
async fn a_verified_event_reaches_the_handler_and_discards_the_customers_snapshot() {
    let app = app().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let router = Router::new().route(
        "/webhooks/kelviq",
        webhook(
            app.kelviq.clone(),
            Webhook::new("whsec_test").unwrap(),
            move |event: WebhookEvent| {
                let recorded = Arc::clone(&recorded);
                async move {
                    recorded
                        .lock()
                        .unwrap()
                        .push(event.event_type().unwrap_or_default().to_owned());
                    http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let server = axum_test::TestServer::new(router);
    // Gated requests of both customers: one call each, then the cache decides.
    for key in ["pro-key", "free-key", "pro-key", "free-key"] {
        app.server
            .get("/me")
            .add_header("x-api-key", key)
            .await
            .assert_status_ok();
    }
    assert_eq!(app.mock.entitlement_calls("cust_pro"), 1);

    let body = r#"{"type":"subscription.updated","data":{"customerId":"cust_pro"}}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signature = sign("whsec_test", "msg_1", now, body.as_bytes());
    server
        .post("/webhooks/kelviq")
        .add_header("webhook-id", "msg_1")
        .add_header("webhook-timestamp", now.to_string())
        .add_header("webhook-signature", signature.clone())
        .bytes(body.as_bytes().to_vec().into())
        .await
        .assert_status(http::StatusCode::NO_CONTENT);
    assert_eq!(*seen.lock().unwrap(), ["subscription.updated"]);
    assert_eq!(
        app.mock.entitlement_calls("cust_pro"),
        1,
        "nothing is fetched ahead of time"
    );
    app.server
        .get("/me")
        .add_header("x-api-key", "pro-key")
        .await
        .assert_status_ok();
    app.server
        .get("/me")
        .add_header("x-api-key", "free-key")
        .await
        .assert_status_ok();
    assert_eq!(
        app.mock.entitlement_calls("cust_pro"),
        2,
        "the discarded snapshot was fetched again on the next request"
    );
    assert_eq!(
        app.mock.entitlement_calls("cust_free"),
        1,
        "other customers keep theirs"
    );

    let tampered = server
        .post("/webhooks/kelviq")
        .add_header("webhook-id", "msg_1")
        .add_header("webhook-timestamp", now.to_string())
        .add_header("webhook-signature", signature)
        .bytes(body.replace("cust_pro", "cust_free").into_bytes().into())
        .expect_failure()
        .await;
    tampered.assert_status_bad_request();
    tampered.assert_header("content-type", "application/json");
    let refusal = tampered.json::<serde_json::Value>();
    assert_eq!(refusal["error"], "invalid_webhook");
    assert!(refusal["message"].is_string());
    assert_eq!(refusal["feature"], serde_json::Value::Null);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(app.mock.calls(Route::Entitlements), 3);
}
