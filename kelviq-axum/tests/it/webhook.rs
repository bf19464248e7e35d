//! The webhook route: verification, cache invalidation, handler.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use kelviq_client::webhook::{Webhook, sign};
use kelviq_mock::Route;

use crate::app::app;

#[tokio::test]
async fn a_verified_event_reaches_the_handler_and_refreshes_the_customer() {
    let app = app().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let router = Router::new().route(
        "/webhooks/kelviq",
        kelviq_axum::webhook(
            app.kelviq.clone(),
            Webhook::new("whsec_test").unwrap(),
            move |event| {
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
    app.kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
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
    app.kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    assert_eq!(
        app.mock.calls(Route::Entitlements),
        2,
        "the cached snapshot was forgotten"
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
    assert_eq!(
        tampered.json::<serde_json::Value>()["error"],
        "invalid_webhook"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
