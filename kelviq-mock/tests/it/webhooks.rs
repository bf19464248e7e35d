//! Signed webhooks: what the fake sends when its state changes, retried and recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use kelviq_client::webhook::Webhook;
use kelviq_mock::{DeliveryOutcome, MockError, MockServer};
use serde_json::json;

use crate::subscriptions::{cancel, subscription_id, update};
use crate::support::Api;

pub(crate) const SECRET: &str = "whsec_mock_test";
const WAIT: Duration = Duration::from_secs(10);

/// What the receiver got: headers and raw body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// The receiver's state: what it got, the statuses still to answer, the request count.
type Scripted = (
    Received,
    Arc<Mutex<VecDeque<u16>>>,
    Arc<tokio::sync::watch::Sender<usize>>,
);

/// A webhook endpoint on loopback that answers with the scripted statuses in turn (then
/// 200), and keeps every request.
pub(crate) struct Receiver {
    pub(crate) url: String,
    received: Received,
    count: tokio::sync::watch::Receiver<usize>,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16]) -> Receiver {
        let received: Received = Arc::default();
        let (counter, count) = tokio::sync::watch::channel(0);
        let counter = Arc::new(counter);
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let app = axum::Router::new()
            .route(
                "/hooks",
                axum::routing::post(
                    |State((received, script, counter)): State<Scripted>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let total = {
                            let mut received = received.lock().unwrap();
                            received.push((headers, body));
                            received.len()
                        };
                        counter.send_replace(total);
                        let status = script.lock().unwrap().pop_front().unwrap_or(200);
                        (StatusCode::from_u16(status).unwrap(), "answer")
                    },
                ),
            )
            .with_state((Arc::clone(&received), script, counter));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url,
            received,
            count,
        }
    }

    pub(crate) fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most [`WAIT`]) until `n` requests have arrived; the requests so far.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        let mut count = self.count.clone();
        let _ = tokio::time::timeout(WAIT, count.wait_for(|count| *count >= n)).await;
        self.requests()
    }
}

pub(crate) async fn mock_sending_to(receiver: &Receiver) -> Api {
    Api::with(
        MockServer::builder()
            .webhook(&receiver.url, SECRET)
            .webhook_backoff(Duration::from_millis(10)),
    )
    .await
}

#[tokio::test]
async fn a_plan_change_is_delivered_signed_as_the_client_verifies() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    let id = api.mock.set_plan("cust_free", "pro").unwrap();

    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered(200));
    assert_eq!(delivery.event_type, "subscription.updated");
    assert_eq!(delivery.customer_id, "cust_free");
    assert_eq!(delivery.url, receiver.url);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].status, Some(200));
    assert_eq!(delivery.attempts[0].response_body, "answer");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    assert_eq!(body, &delivery.body);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["webhook-id"], delivery.id.as_str());
    assert_eq!(
        headers["webhook-signature"],
        delivery.attempts[0].signature.as_str()
    );
    let event = Webhook::new(SECRET).unwrap().verify(headers, body).unwrap();
    assert_eq!(event.id(), delivery.id);
    assert_eq!(event.event_type(), Some("subscription.updated"));
    assert_eq!(event.customer_id(), Some("cust_free"));
    assert_eq!(event.data()["subscriptionId"], id.as_str());
    assert_eq!(event.data()["planIdentifier"], "pro");
    assert_eq!(event.data()["status"], "active");
    assert!(event.raw()["createdOn"].is_string());

    // Signed with another secret, it does not verify.
    assert!(
        Webhook::new("whsec_other")
            .unwrap()
            .verify(headers, body)
            .is_err()
    );
    // And the plan did change.
    assert_eq!(
        crate::subscriptions::entitled_features(&api, "cust_free").await,
        ["api-calls", "reports", "seats"]
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_id_until_it_succeeds() {
    let receiver = Receiver::start(&[500, 503]).await;
    let api = mock_sending_to(&receiver).await;
    api.mock.set_usage("cust_pro", "api-calls", 9_000).unwrap();

    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    let delivery = &deliveries[0];
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered(200));
    let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert!(!delivery.attempts[0].is_success());

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let verifier = Webhook::new(SECRET).unwrap();
    for (headers, body) in &requests {
        assert_eq!(headers["webhook-id"], delivery.id.as_str());
        let event = verifier.verify(headers, body).unwrap();
        assert_eq!(event.event_type(), Some("customer.updated"));
        assert_eq!(event.data()["featureId"], "api-calls");
        assert_eq!(event.data()["usage"], 9_000);
    }
    assert_eq!(api.mock.usage_total("cust_pro", "api-calls"), 9_000);
    // A dashboard change is no usage report.
    assert!(api.mock.usage_reports().is_empty());
}

#[tokio::test]
async fn a_delivery_fails_after_its_last_attempt_and_says_why() {
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let api = Api::with(
        MockServer::builder()
            .webhook(&receiver.url, SECRET)
            .webhook_attempts(2)
            .webhook_backoff(Duration::from_millis(1)),
    )
    .await;
    api.mock.set_plan("cust_pro", "free").unwrap();
    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Failed);
    assert_eq!(deliveries[0].attempts.len(), 2);
    assert_eq!(receiver.requests().len(), 2);

    // Nobody listening: the attempt records the connection error.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    api.mock.set_webhook(&url, SECRET).unwrap();
    api.mock.set_plan("cust_pro", "pro").unwrap();
    let deliveries = api.mock.wait_for_webhooks(2, WAIT).await;
    let failed = &deliveries[1];
    assert_eq!(failed.outcome, DeliveryOutcome::Failed);
    assert_eq!(failed.attempts[0].status, None);
    assert!(
        failed.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("connect")
    );
}

#[tokio::test]
async fn api_state_changes_produce_the_right_event_types_in_order() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;

    // Created, updated, cancelled, through the API.
    let created = api
        .post(
            "/api/v1/subscriptions/create/",
            json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "customer_id": "cust_free"}),
        )
        .await;
    let created_id = created.expect(201)["id"].as_str().unwrap().to_owned();
    let pro_id = subscription_id(&api, "cust_pro").await;
    update(
        &api,
        &pro_id,
        json!({"plan_identifier": "free", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(200);
    cancel(&api, &created_id, json!({"cancellation_type": "IMMEDIATE"}))
        .await
        .expect(200);
    api.patch("/api/v1/customers/cust_pro/", json!({"name": "Renamed"}))
        .await
        .expect(200);
    // Reads and refused changes send nothing.
    api.get("/api/v1/subscriptions/").await.expect(200);
    update(
        &api,
        &pro_id,
        json!({"plan_identifier": "nope", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(400);

    let deliveries = api.mock.wait_for_webhooks(4, WAIT).await;
    let seen: Vec<(&str, &str)> = deliveries
        .iter()
        .map(|d| (d.event_type.as_str(), d.customer_id.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("subscription.created", "cust_free"),
            ("subscription.updated", "cust_pro"),
            ("subscription.cancelled", "cust_free"),
            ("customer.updated", "cust_pro"),
        ]
    );
    assert!(
        deliveries
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Delivered(200))
    );
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["msg_0", "msg_1", "msg_2", "msg_3"]);

    let bodies: Vec<serde_json::Value> = deliveries.iter().map(|d| d.json().unwrap()).collect();
    assert_eq!(bodies[0]["data"]["subscriptionId"], created_id.as_str());
    assert_eq!(bodies[1]["data"]["planIdentifier"], "free");
    assert_eq!(bodies[2]["data"]["status"], "canceled");
    assert!(bodies[2]["data"]["endDate"].is_string());
    assert_eq!(bodies[3]["data"]["name"], "Renamed");
    assert_eq!(receiver.requests().len(), 4);
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_sent_and_seeding_sends_nothing() {
    let api = Api::start().await;
    api.mock.set_plan("cust_free", "pro").unwrap();
    assert!(api.mock.webhook_deliveries().is_empty());
    assert!(
        api.mock
            .wait_for_webhooks(1, Duration::from_millis(1))
            .await
            .is_empty()
    );

    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    // The seeded subscriptions were no change.
    tokio::task::yield_now().await;
    assert!(api.mock.webhook_deliveries().is_empty());
    api.mock.clear_webhook();
    api.mock.set_plan("cust_free", "pro").unwrap();
    assert!(api.mock.webhook_deliveries().is_empty());
}

#[tokio::test]
async fn a_customer_without_a_subscription_gets_one_from_set_plan() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    api.post("/api/v1/customers/", json!({"customer_id": "cust_new"}))
        .await
        .expect(201);
    let id = api.mock.set_plan("cust_new", "pro").unwrap();
    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries[0].event_type, "subscription.created");
    assert_eq!(
        deliveries[0].json().unwrap()["data"]["subscriptionId"],
        id.as_str()
    );
}

#[tokio::test]
async fn control_calls_and_endpoints_refuse_what_cannot_work() {
    let api = Api::start().await;
    assert!(matches!(
        api.mock.set_plan("nobody", "pro"),
        Err(MockError::UnknownCustomer(id)) if id == "nobody"
    ));
    assert!(matches!(
        api.mock.set_plan("cust_free", "platinum"),
        Err(MockError::UnknownPlan(plan)) if plan == "platinum"
    ));
    assert!(matches!(
        api.mock.set_usage("nobody", "api-calls", 1),
        Err(MockError::UnknownCustomer(_))
    ));
    for (url, secret) in [
        ("https://example.com/hooks", SECRET),
        ("not a url", SECRET),
        ("http://127.0.0.1:1/hooks", ""),
    ] {
        assert!(matches!(
            api.mock.set_webhook(url, secret),
            Err(MockError::InvalidWebhook { .. })
        ));
        let started = MockServer::builder().webhook(url, secret).start().await;
        assert!(matches!(started, Err(MockError::InvalidWebhook { .. })));
    }
    let error = api.mock.set_webhook("https://x/", SECRET).unwrap_err();
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn the_control_routes_change_plan_and_usage_over_http_and_send_the_webhooks() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;

    let reply = api
        .post("/_mock/customers/cust_free/plan", json!({"plan": "pro"}))
        .await;
    let id = reply.expect(200)["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .post(
            "/_mock/customers/cust_free/usage",
            json!({"featureId": "api-calls", "value": 7}),
        )
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"customerId": "cust_free", "featureId": "api-calls", "value": 7, "changed": true})
    );
    assert_eq!(api.mock.usage_total("cust_free", "api-calls"), 7);

    let deliveries = api.mock.wait_for_webhooks(2, WAIT).await;
    let types: Vec<&str> = deliveries.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(types, ["subscription.updated", "customer.updated"]);
    assert_eq!(
        deliveries[0].json().unwrap()["data"]["subscriptionId"],
        id.as_str()
    );

    // Refusals: no token, unknown customer, unknown plan, bad body.
    let anonymous = api
        .http
        .post(format!("{}/_mock/customers/cust_free/plan", api.mock.url()))
        .json(&json!({"plan": "free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    api.post("/_mock/customers/nobody/plan", json!({"plan": "pro"}))
        .await
        .expect(404);
    let unknown_plan = api
        .post(
            "/_mock/customers/cust_free/plan",
            json!({"plan": "platinum"}),
        )
        .await;
    assert_eq!(unknown_plan.field_errors("plan"), ["Unknown plan."]);
    api.post(
        "/_mock/customers/cust_free/usage",
        json!({"featureId": "api-calls"}),
    )
    .await
    .expect(400);
    // Not on the edge listener.
    let edge = api
        .http
        .post(format!(
            "{}/_mock/customers/cust_free/plan",
            api.mock.edge_url()
        ))
        .bearer_auth(api.mock.token())
        .json(&json!({"plan": "free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edge.status(), 404);
    assert_eq!(api.mock.webhook_deliveries().len(), 2);
}
