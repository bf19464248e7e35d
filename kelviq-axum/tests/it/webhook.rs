//! The webhook route: verification, cache invalidation, handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum_test::{TestResponse, TestServer};
use http::StatusCode;
use kelviq_axum::kelviq_client::webhook::sign;
use kelviq_axum::prelude::*;
use kelviq_mock::{MockServer, Route};
use tokio::sync::Notify;

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
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let server = TestServer::new(router);
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
        .assert_status(StatusCode::NO_CONTENT);
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
    tampered.assert_header("content-type", "application/problem+json");
    let refusal = tampered.json::<serde_json::Value>();
    assert_eq!(refusal["code"], "invalid_webhook");
    assert!(refusal["detail"].is_string());
    assert_eq!(refusal["feature"], serde_json::Value::Null);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(app.mock.calls(Route::Entitlements), 3);
}

const SECRET: &str = "whsec_test";
const BODY: &str = r#"{"type":"subscription.updated","data":{"customerId":"cust_pro"}}"#;
const GENERIC_REFUSAL: &str = r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-webhook","title":"Bad Request","status":400,"detail":"the webhook delivery could not be verified","code":"invalid_webhook"}"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A client over a fresh mock; the webhook route only uses it to discard snapshots.
async fn kelviq() -> (MockServer, Kelviq) {
    let mock = MockServer::start().await;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .build()
        .unwrap();
    (mock, kelviq)
}

/// A server with the webhook route at `/webhooks/kelviq`, whose handler counts its calls
/// and answers `status`.
fn webhook_server(
    kelviq: Kelviq,
    route: impl Into<WebhookRoute>,
    status: Arc<Mutex<StatusCode>>,
) -> (TestServer, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let router = Router::new().route(
        "/webhooks/kelviq",
        webhook(kelviq, route, move |_event: WebhookEvent| {
            counted.fetch_add(1, Ordering::SeqCst);
            let status = *status.lock().unwrap();
            async move { status }
        }),
    );
    (TestServer::new(router), calls)
}

/// Posts a delivery with the given headers (`None`: left out) and body.
async fn deliver(
    server: &TestServer,
    id: Option<&str>,
    timestamp: Option<String>,
    signature: Option<String>,
    body: &[u8],
) -> TestResponse {
    let mut request = server.post("/webhooks/kelviq");
    request = request.add_header("content-type", "application/json");
    if let Some(id) = id {
        request = request.add_header("webhook-id", id.to_owned());
    }
    if let Some(timestamp) = timestamp {
        request = request.add_header("webhook-timestamp", timestamp);
    }
    if let Some(signature) = signature {
        request = request.add_header("webhook-signature", signature);
    }
    // Any status may come back: the assertions say which.
    request.bytes(body.to_vec().into()).await
}

/// A correctly signed delivery of `body` with id `id`, signed now.
async fn signed(server: &TestServer, id: &str, body: &[u8]) -> TestResponse {
    let timestamp = now();
    let signature = sign(SECRET, id, timestamp, body);
    deliver(
        server,
        Some(id),
        Some(timestamp.to_string()),
        Some(signature),
        body,
    )
    .await
}

#[tokio::test]
async fn webhook_replay_is_refused() {
    let (_mock, kelviq) = kelviq().await;
    let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
    let route =
        WebhookRoute::new(Webhook::new(SECRET).unwrap()).replay_guard(ReplayGuard::new(100));
    let guard = route.guard().unwrap().clone();
    let (server, calls) = webhook_server(kelviq, route, Arc::clone(&status));

    let timestamp = now();
    let signature = sign(SECRET, "msg_1", timestamp, BODY.as_bytes());
    let replay = || {
        deliver(
            &server,
            Some("msg_1"),
            Some(timestamp.to_string()),
            Some(signature.clone()),
            BODY.as_bytes(),
        )
    };
    replay().await.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The identical delivery again, well within the tolerance: verified, not handled.
    for _ in 0..3 {
        let again = replay().await;
        again.assert_status_ok();
        again.assert_header("content-type", "application/json");
        assert_eq!(again.text(), r#"{"status":"already_processed"}"#);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the handler ran once");
    assert_eq!(guard.len(), 1);

    // Another id is another delivery.
    signed(&server, "msg_2", BODY.as_bytes())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A forged delivery reusing a new id is refused by the verifier and does not claim
    // the id: the real delivery with that id is then handled.
    let forged = deliver(
        &server,
        Some("msg_3"),
        Some(now().to_string()),
        Some(sign("whsec_forger", "msg_3", now(), BODY.as_bytes())),
        BODY.as_bytes(),
    )
    .await;
    forged.assert_status_bad_request();
    signed(&server, "msg_3", BODY.as_bytes())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // A delivery the handler failed is not remembered: the sender's retry is handled.
    *status.lock().unwrap() = StatusCode::INTERNAL_SERVER_ERROR;
    signed(&server, "msg_4", BODY.as_bytes())
        .await
        .assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    *status.lock().unwrap() = StatusCode::NO_CONTENT;
    signed(&server, "msg_4", BODY.as_bytes())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    signed(&server, "msg_4", BODY.as_bytes())
        .await
        .assert_status_ok();
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_replay_while_the_first_delivery_is_handled_is_409() {
    let (_mock, kelviq) = kelviq().await;
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let route =
        WebhookRoute::new(Webhook::new(SECRET).unwrap()).replay_guard(ReplayGuard::default());
    let router = Router::new().route(
        "/webhooks/kelviq",
        webhook(kelviq, route, {
            let (started, release, calls) = (started.clone(), release.clone(), calls.clone());
            move |_event: WebhookEvent| {
                let (started, release) = (started.clone(), release.clone());
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    started.notify_one();
                    release.notified().await;
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let server = TestServer::new(router);
    let timestamp = now();
    let signature = sign(SECRET, "msg_1", timestamp, BODY.as_bytes());
    let send = || {
        deliver(
            &server,
            Some("msg_1"),
            Some(timestamp.to_string()),
            Some(signature.clone()),
            BODY.as_bytes(),
        )
    };
    let (first, second) = tokio::join!(send(), async {
        started.notified().await;
        let second = send().await;
        release.notify_one();
        second
    });
    first.assert_status(StatusCode::NO_CONTENT);
    second.assert_status(StatusCode::CONFLICT);
    second.assert_header("retry-after", "5");
    assert_eq!(
        second.json::<serde_json::Value>()["code"],
        "webhook_in_progress"
    );
    send().await.assert_status_ok();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_sender_never_sees_the_verification_detail() {
    let (_mock, kelviq) = kelviq().await;
    let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
    let (server, calls) = webhook_server(kelviq, Webhook::new(SECRET).unwrap(), status);
    let body = BODY.as_bytes();
    let at = now();
    let stale = at - 3600;
    let future = at + 3600;
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
        let refused = deliver(&server, Some("msg_1"), timestamp, signature, &body).await;
        assert_eq!(refused.status_code(), StatusCode::BAD_REQUEST, "{case}");
        refused.assert_header("content-type", "application/problem+json");
        assert_eq!(refused.text(), GENERIC_REFUSAL, "{case}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_oversized_delivery_is_413_and_never_reaches_the_handler() {
    let (_mock, kelviq) = kelviq().await;
    let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
    let route = WebhookRoute::new(Webhook::new(SECRET).unwrap()).body_limit(1024);
    let (server, calls) = webhook_server(kelviq.clone(), route, Arc::clone(&status));

    let at_limit = padded(1024);
    assert_eq!(at_limit.len(), 1024);
    signed(&server, "msg_1", &at_limit)
        .await
        .assert_status(StatusCode::NO_CONTENT);

    let over = padded(1025);
    let refused = signed(&server, "msg_2", &over).await;
    refused.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    refused.assert_header("content-type", "application/problem+json");
    let json = refused.json::<serde_json::Value>();
    assert_eq!(json["code"], "webhook_too_large");
    assert_eq!(json["feature"], serde_json::Value::Null);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the delivery at the limit"
    );

    // The default limit is 256 KiB, whatever axum's own default.
    let (server, calls) = webhook_server(kelviq, Webhook::new(SECRET).unwrap(), status);
    signed(&server, "msg_3", &padded(256 * 1024))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    signed(&server, "msg_4", &padded(256 * 1024 + 1))
        .await
        .assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A JSON body of exactly `size` bytes.
fn padded(size: usize) -> Vec<u8> {
    let empty = r#"{"type":"x","pad":""}"#.len();
    format!(r#"{{"type":"x","pad":"{}"}}"#, "p".repeat(size - empty)).into_bytes()
}
