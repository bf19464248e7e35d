//! The webhook loop end to end: a plan changed in the fake Kelviq reaches the axum example
//! app at once, through a signed webhook over real HTTP, whatever the cache's TTL.

use std::time::Duration;

use kelviq_client::CacheConfig;
use kelviq_examples::Backend;
use kelviq_mock::DeliveryOutcome;

use crate::support::serve_app;

/// Long enough that only an invalidation can explain a fresh answer.
const TTL: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(10);

/// The axum example app over an embedded mock that sends it webhooks, with a long TTL.
async fn serve() -> (Backend, String) {
    serve_app(CacheConfig::default().ttl(TTL)).await
}

async fn reports_status(http: &reqwest::Client, base: &str) -> u16 {
    http.get(format!("{base}/reports"))
        .header("x-api-key", "free-key")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_plan_changed_in_the_fake_takes_effect_at_once_through_the_webhook() {
    let (backend, base) = serve().await;
    let mock = backend.mock.as_ref().unwrap();
    let http = reqwest::Client::new();

    // The free customer has no reports; the answer is now cached for an hour.
    assert_eq!(reports_status(&http, &base).await, 403);
    assert_eq!(reports_status(&http, &base).await, 403);
    assert_eq!(mock.entitlement_calls("cust_free"), 1);

    // Upgraded in the "dashboard": the fake sends a signed webhook to the app.
    mock.set_plan("cust_free", "pro").unwrap();
    let deliveries = mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_type, "subscription.updated");
    assert_eq!(deliveries[0].url, format!("{base}/webhooks/kelviq"));
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Delivered(200));

    // The app verified it and dropped the customer's snapshot: the next answer follows.
    assert_eq!(reports_status(&http, &base).await, 200);
    assert_eq!(mock.entitlement_calls("cust_free"), 2);

    // Without the webhook, the same kind of change waits for the TTL: the app still
    // answers from its cache.
    mock.clear_webhook();
    mock.set_plan("cust_free", "free").unwrap();
    assert_eq!(reports_status(&http, &base).await, 200);
    assert_eq!(mock.entitlement_calls("cust_free"), 2);
}

#[tokio::test]
async fn the_app_refuses_a_delivery_signed_with_another_secret() {
    let (backend, base) = serve().await;
    let mock = backend.mock.as_ref().unwrap();
    mock.set_webhook(&format!("{base}/webhooks/kelviq"), "whsec_wrong")
        .unwrap();
    let http = reqwest::Client::new();
    assert_eq!(reports_status(&http, &base).await, 403);

    mock.set_plan("cust_free", "pro").unwrap();
    let deliveries = mock.wait_for_webhooks(1, WAIT).await;
    let statuses: Vec<_> = deliveries[0].attempts.iter().map(|a| a.status).collect();
    assert!(
        statuses.iter().all(|status| *status == Some(400)),
        "{statuses:?}"
    );
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Failed);
    // Nothing was invalidated: the cached answer stands.
    assert_eq!(reports_status(&http, &base).await, 403);
}
