//! The webhook route: verified deliveries refresh the customer's entitlements.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use kelviq_client::webhook::{Webhook, sign};
use kelviq_mock::Route;

use crate::support::{Setup, call, get, whoami};

const SECRET: &str = "whsec_test";
const BODY: &str = r#"{"type":"subscription.updated","data":{"customerId":"cust_pro"}}"#;

fn delivery(signature: &str, timestamp: u64) -> TestRequest {
    TestRequest::post()
        .uri("/webhooks/kelviq")
        .insert_header(("content-type", "application/json"))
        .insert_header(("webhook-id", "msg_1"))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header(("webhook-signature", signature))
        .set_payload(BODY)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[actix_web::test]
async fn a_verified_delivery_refreshes_the_customer_and_reaches_the_handler() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .route(
                "/webhooks/kelviq",
                kelviq_actix::webhook(
                    setup.kelviq.clone(),
                    Webhook::new(SECRET).unwrap(),
                    |event| async move {
                        HttpResponse::Ok().json(serde_json::json!({
                            "received": event.id(),
                            "customer": event.customer_id(),
                        }))
                    },
                ),
            )
            .service(web::resource("/me").wrap(setup.plain()).to(whoami)),
    )
    .await;

    call!(&app, get("/me", Some("cust_pro"))).await;
    call!(&app, get("/me", Some("cust_pro"))).await;
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);

    let timestamp = now();
    let signature = sign(SECRET, "msg_1", timestamp, BODY.as_bytes());
    assert_eq!(
        call!(&app, delivery(&signature, timestamp)).await,
        (
            StatusCode::OK,
            r#"{"customer":"cust_pro","received":"msg_1"}"#.to_owned()
        )
    );
    call!(&app, get("/me", Some("cust_pro"))).await;
    assert_eq!(setup.mock.calls(Route::Entitlements), 2);
}

#[actix_web::test]
async fn a_bad_signature_is_400_invalid_webhook_and_changes_nothing() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .route(
                "/webhooks/kelviq",
                kelviq_actix::webhook(
                    setup.kelviq.clone(),
                    Webhook::new(SECRET).unwrap(),
                    |_| async {
                        unreachable!("an unverified delivery reached the handler") as HttpResponse
                    },
                ),
            )
            .service(web::resource("/me").wrap(setup.plain()).to(whoami)),
    )
    .await;
    call!(&app, get("/me", Some("cust_pro"))).await;

    let timestamp = now();
    let wrong = sign("whsec_other", "msg_1", timestamp, BODY.as_bytes());
    let (status, body) = call!(&app, delivery(&wrong, timestamp)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"error":"invalid_webhook","message":"webhook signature mismatch","feature":null}"#
    );
    let stale = sign(SECRET, "msg_1", timestamp - 3600, BODY.as_bytes());
    let (status, body) = call!(&app, delivery(&stale, timestamp - 3600)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with(r#"{"error":"invalid_webhook""#), "{body}");
    let (status, _) = call!(
        &app,
        TestRequest::post()
            .uri("/webhooks/kelviq")
            .set_payload(BODY)
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    call!(&app, get("/me", Some("cust_pro"))).await;
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
}
