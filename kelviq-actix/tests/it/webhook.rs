//! The webhook route: verified deliveries refresh the customer's entitlements.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use kelviq_client::webhook::{ReplayGuard, Webhook, WebhookRoute, sign};
use kelviq_mock::Route;

use crate::support::{Setup, call, get, whoami};

const SECRET: &str = "whsec_test";
const BODY: &str = r#"{"type":"subscription.updated","data":{"customerId":"cust_pro"}}"#;
const GENERIC_REFUSAL: &str = r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-webhook","title":"Bad Request","status":400,"detail":"the webhook delivery could not be verified","code":"invalid_webhook"}"#;

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
    assert_eq!(body, GENERIC_REFUSAL);
    let stale = sign(SECRET, "msg_1", timestamp - 3600, BODY.as_bytes());
    let (status, body) = call!(&app, delivery(&stale, timestamp - 3600)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, GENERIC_REFUSAL);
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

/// A delivery with every header given (`None`: left out) and `body`.
fn raw_delivery(
    id: &str,
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
) -> TestRequest {
    let mut request = TestRequest::post()
        .uri("/webhooks/kelviq")
        .insert_header(("content-type", "application/json"))
        .insert_header(("webhook-id", id.to_owned()));
    if let Some(timestamp) = timestamp {
        request = request.insert_header(("webhook-timestamp", timestamp));
    }
    if let Some(signature) = signature {
        request = request.insert_header(("webhook-signature", signature));
    }
    request.set_payload(body)
}

/// A delivery of `body` with id `id`, signed now with the right secret.
fn signed(id: &str, body: &[u8]) -> TestRequest {
    let timestamp = now();
    raw_delivery(
        id,
        Some(timestamp.to_string()),
        Some(sign(SECRET, id, timestamp, body)),
        body.to_vec(),
    )
}

/// A JSON body of exactly `size` bytes.
fn padded(size: usize) -> Vec<u8> {
    let empty = r#"{"type":"x","pad":""}"#.len();
    format!(r#"{{"type":"x","pad":"{}"}}"#, "p".repeat(size - empty)).into_bytes()
}

#[actix_web::test]
async fn webhook_replay_is_refused() {
    let setup = Setup::start().await;
    let calls = Rc::new(Cell::new(0_u32));
    let fail = Rc::new(Cell::new(false));
    let route =
        WebhookRoute::new(Webhook::new(SECRET).unwrap()).replay_guard(ReplayGuard::new(100));
    let guard = route.guard().unwrap().clone();
    let app = test::init_service(App::new().route(
        "/webhooks/kelviq",
        kelviq_actix::webhook(setup.kelviq.clone(), route, {
            let (calls, fail) = (Rc::clone(&calls), Rc::clone(&fail));
            move |_event| {
                calls.set(calls.get() + 1);
                let fail = fail.get();
                async move {
                    if fail {
                        HttpResponse::ServiceUnavailable().finish()
                    } else {
                        HttpResponse::NoContent().finish()
                    }
                }
            }
        }),
    ))
    .await;

    let timestamp = now();
    let signature = sign(SECRET, "msg_1", timestamp, BODY.as_bytes());
    assert_eq!(
        call!(&app, delivery(&signature, timestamp)).await.0,
        StatusCode::NO_CONTENT
    );
    for _ in 0..3 {
        assert_eq!(
            call!(&app, delivery(&signature, timestamp)).await,
            (
                StatusCode::OK,
                r#"{"status":"already_processed"}"#.to_owned()
            ),
            "the same delivery again, within the tolerance: not handled again"
        );
    }
    assert_eq!(calls.get(), 1);
    assert_eq!(guard.len(), 1);

    // A forged delivery does not claim the id its real twin carries.
    let forged = sign("whsec_forger", "msg_2", timestamp, BODY.as_bytes());
    let (status, _) = call!(
        &app,
        raw_delivery(
            "msg_2",
            Some(timestamp.to_string()),
            Some(forged),
            BODY.into()
        )
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        call!(&app, signed("msg_2", BODY.as_bytes())).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(calls.get(), 2);

    // A failed delivery is not remembered: the retry is handled, once.
    fail.set(true);
    assert_eq!(
        call!(&app, signed("msg_3", BODY.as_bytes())).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    fail.set(false);
    assert_eq!(
        call!(&app, signed("msg_3", BODY.as_bytes())).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call!(&app, signed("msg_3", BODY.as_bytes())).await.0,
        StatusCode::OK
    );
    assert_eq!(calls.get(), 4);
}

#[actix_web::test]
async fn the_sender_never_sees_the_verification_detail() {
    let setup = Setup::start().await;
    let app = test::init_service(App::new().route(
        "/webhooks/kelviq",
        kelviq_actix::webhook(
            setup.kelviq.clone(),
            Webhook::new(SECRET).unwrap(),
            |_| async {
                unreachable!("an unverified delivery reached the handler") as HttpResponse
            },
        ),
    ))
    .await;
    let body = BODY.as_bytes();
    let at = now();
    let (stale, future) = (at - 3600, at + 3600);
    let cases = [
        (
            "wrong secret",
            Some(at.to_string()),
            Some(sign("whsec_other", "msg_1", at, body)),
            body.to_vec(),
        ),
        (
            "expired timestamp",
            Some(stale.to_string()),
            Some(sign(SECRET, "msg_1", stale, body)),
            body.to_vec(),
        ),
        (
            "future timestamp",
            Some(future.to_string()),
            Some(sign(SECRET, "msg_1", future, body)),
            body.to_vec(),
        ),
        (
            "malformed signature",
            Some(at.to_string()),
            Some("v1,not-hex".to_owned()),
            body.to_vec(),
        ),
        (
            "malformed timestamp",
            Some("yesterday".to_owned()),
            Some(sign(SECRET, "msg_1", "yesterday", body)),
            body.to_vec(),
        ),
        ("missing headers", None, None, body.to_vec()),
        (
            "signed body that is not JSON",
            Some(at.to_string()),
            Some(sign(SECRET, "msg_1", at, b"not json")),
            b"not json".to_vec(),
        ),
    ];
    for (case, timestamp, signature, body) in cases {
        let response = test::call_service(
            &app,
            raw_delivery("msg_1", timestamp, signature, body).to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/problem+json",
            "{case}"
        );
        let (_, text) = crate::support::read(response).await;
        assert_eq!(text, GENERIC_REFUSAL, "{case}");
    }
}

#[actix_web::test]
async fn an_oversized_delivery_is_413_and_never_reaches_the_handler() {
    let setup = Setup::start().await;
    let calls = Rc::new(Cell::new(0_u32));
    let counted = |calls: &Rc<Cell<u32>>| {
        let calls = Rc::clone(calls);
        move |_event| {
            calls.set(calls.get() + 1);
            async { HttpResponse::NoContent().finish() }
        }
    };
    let app = test::init_service(
        App::new()
            .route(
                "/small",
                kelviq_actix::webhook(
                    setup.kelviq.clone(),
                    WebhookRoute::new(Webhook::new(SECRET).unwrap()).body_limit(1024),
                    counted(&calls),
                ),
            )
            .route(
                "/default",
                kelviq_actix::webhook(
                    setup.kelviq.clone(),
                    Webhook::new(SECRET).unwrap(),
                    counted(&calls),
                ),
            ),
    )
    .await;
    let at = |path: &str, id: &str, size: usize| signed(id, &padded(size)).uri(path);

    assert_eq!(
        call!(&app, at("/small", "msg_1", 1024)).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = call!(&app, at("/small", "msg_2", 1025)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["code"], "webhook_too_large");
    assert_eq!(json["feature"], serde_json::Value::Null);
    assert_eq!(calls.get(), 1, "only the delivery at the limit");

    // The default limit is 256 KiB.
    assert_eq!(
        call!(&app, at("/default", "msg_3", 256 * 1024)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call!(&app, at("/default", "msg_4", 256 * 1024 + 1)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(calls.get(), 2);
}
