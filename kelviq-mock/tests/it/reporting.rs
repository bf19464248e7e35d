//! `POST /report/usage/` and `POST /report/event/`.

use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};
use serde_json::{Value, json};

use crate::support::Api;

fn usage(value: i64, behaviour: &str) -> Value {
    json!({"value": value, "customerId": "cust_free", "featureId": "api-calls", "behaviour": behaviour})
}

fn event(key: &str) -> Value {
    json!({"customerId": "cust_pro", "eventName": "report.exported", "idempotencyKey": key,
           "timestamp": "2025-05-22 08:27:45.123456", "properties": {"rows": 10}})
}

/// The `api-calls` entitlement the edge answers for `customer`.
pub(crate) async fn calls_entry(api: &Api, customer: &str) -> Value {
    let reply = api
        .edge_get(&format!(
            "/api/v1/entitlements?customer_id={customer}&feature_id=api-calls"
        ))
        .await;
    reply.expect(200)["entitlements"][0].clone()
}

#[tokio::test]
async fn delta_adds_and_set_replaces() {
    let api = Api::start().await;
    let reply = api.post("/api/v1/report/usage/", usage(30, "DELTA")).await;
    let body = reply.expect(201);
    assert_eq!(body["value"], 30);
    assert_eq!(body["behaviour"], "DELTA");
    assert_eq!(body["eventName"], "$usage.reported");
    assert_eq!(body["orgId"], "org_mock");
    assert_eq!(body["idempotencyKey"].as_str().unwrap().len(), 36);
    assert_eq!(body["timestamp"].as_str().unwrap().len(), 26);
    api.post("/api/v1/report/usage/", usage(20, "DELTA"))
        .await
        .expect(201);
    assert_eq!(api.mock.usage_total("cust_free", "api-calls"), 50);
    let entry = calls_entry(&api, "cust_free").await;
    assert_eq!(entry["currentUsage"], 50);
    assert_eq!(entry["remaining"], 50);

    api.post("/api/v1/report/usage/", usage(7, "SET"))
        .await
        .expect(201);
    assert_eq!(api.mock.usage_total("cust_free", "api-calls"), 7);
    api.post("/api/v1/report/usage/", usage(-2, "DELTA"))
        .await
        .expect(201);
    assert_eq!(api.mock.usage_total("cust_free", "api-calls"), 5);
    let reports = api.mock.usage_reports();
    assert_eq!(reports.len(), 4);
    assert_eq!(reports[2].behaviour, "SET");
}

#[tokio::test]
async fn access_flips_at_a_hard_limit_but_not_at_a_soft_one() {
    let seed = Seed::empty()
        .plan(
            Plan::new("p")
                .feature(Feature::metered("api-calls").limit(3))
                .feature(Feature::metered("soft").limit(3).soft_limit()),
        )
        .customer(SeedCustomer::new("c").subscribe("p"));
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let mut report = usage(3, "DELTA");
    report["customerId"] = json!("c");
    api.post("/api/v1/report/usage/", report.clone())
        .await
        .expect(201);
    let entry = calls_entry(&api, "c").await;
    assert_eq!(entry["hasAccess"], false);
    assert_eq!(entry["remaining"], 0);
    report["featureId"] = json!("soft");
    report["value"] = json!(5);
    api.post("/api/v1/report/usage/", report).await.expect(201);
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=c&feature_id=soft")
        .await;
    let soft = &reply.expect(200)["entitlements"][0];
    assert_eq!(soft["hasAccess"], true);
    assert_eq!(soft["currentUsage"], 5);
}

#[tokio::test]
async fn usage_fields_are_strict() {
    let api = Api::start().await;
    let reply = api
        .post(
            "/api/v1/report/usage/",
            json!({"value": 1.5, "customer_id": "cust_free", "featureId": "api-calls", "behaviour": "delta"}),
        )
        .await;
    assert_eq!(
        reply.field_errors("value"),
        ["A valid integer is required."]
    );
    assert_eq!(
        reply.field_errors("customerId"),
        ["This field is required."]
    );
    assert_eq!(reply.field_errors("customer_id"), ["Unknown field."]);
    assert_eq!(
        reply.field_errors("behaviour"),
        ["\"delta\" is not a valid choice."]
    );

    let mut keyed = usage(1, "DELTA");
    keyed["idempotencyKey"] = json!("k");
    let reply = api.post("/api/v1/report/usage/", keyed).await;
    assert_eq!(reply.field_errors("idempotencyKey"), ["Unknown field."]);

    let mut string_value = usage(1, "DELTA");
    string_value["value"] = json!("1");
    let reply = api.post("/api/v1/report/usage/", string_value).await;
    assert_eq!(
        reply.field_errors("value"),
        ["A valid integer is required."]
    );
    assert!(api.mock.usage_reports().is_empty());
}

#[tokio::test]
async fn usage_needs_a_known_customer_and_a_metered_feature() {
    let api = Api::start().await;
    let mut unknown = usage(1, "DELTA");
    unknown["customerId"] = json!("nobody");
    let reply = api.post("/api/v1/report/usage/", unknown).await;
    assert_eq!(reply.field_errors("customerId"), ["Customer not found."]);

    let mut boolean = usage(1, "DELTA");
    boolean["customerId"] = json!("cust_pro");
    boolean["featureId"] = json!("reports");
    let reply = api.post("/api/v1/report/usage/", boolean).await;
    reply.field_errors("featureId");

    let mut missing = usage(1, "DELTA");
    missing["featureId"] = json!("reports");
    let reply = api.post("/api/v1/report/usage/", missing).await;
    assert_eq!(
        reply.field_errors("featureId"),
        ["The customer has no such feature."]
    );

    let mut with_resource = usage(1, "DELTA");
    with_resource["resourceId"] = json!("doc-1");
    let reply = api.post("/api/v1/report/usage/", with_resource).await;
    assert_eq!(reply.expect(201)["resourceId"], "doc-1");
}

#[tokio::test]
async fn events_are_stored_once_per_idempotency_key() {
    let api = Api::start().await;
    let first = api.post("/api/v1/report/event/", event("k-1")).await;
    let first = first.expect(201).clone();
    assert_eq!(first["idempotencyKey"], "k-1");
    assert_eq!(first["orgId"], "org_mock");
    assert_eq!(first["properties"], json!({"rows": 10}));
    let again = api.post("/api/v1/report/event/", event("k-1")).await;
    assert_eq!(again.expect(200), &first);
    api.post("/api/v1/report/event/", event("k-2"))
        .await
        .expect(201);
    let events = api.mock.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].deliveries, 2);
    assert_eq!(events[1].deliveries, 1);
}

#[tokio::test]
async fn event_timestamps_and_fields_are_strict() {
    let api = Api::start().await;
    for bad in [
        "2025-05-22T08:27:45.123456",
        "2025-05-22 08:27:45",
        "2025-05-22 08:27:45.1234567",
        "2025-05-22 08:27:45.123Z",
        "yesterday",
    ] {
        let mut body = event("k");
        body["timestamp"] = json!(bad);
        let reply = api.post("/api/v1/report/event/", body).await;
        assert_eq!(
            reply.field_errors("timestamp"),
            ["Timestamp must be in 'YYYY-MM-DD HH:MM:SS.ffffff' format"],
            "{bad}"
        );
    }
    let mut body = event("k");
    body["timestamp"] = json!("2025-05-22 08:27:45.1");
    api.post("/api/v1/report/event/", body).await.expect(201);

    let reply = api
        .post(
            "/api/v1/report/event/",
            json!({"customerId": "cust_pro", "event_name": "x", "idempotencyKey": "",
                   "timestamp": "2025-05-22 08:27:45.1", "properties": "x"}),
        )
        .await;
    assert_eq!(reply.field_errors("eventName"), ["This field is required."]);
    assert_eq!(reply.field_errors("event_name"), ["Unknown field."]);
    assert_eq!(
        reply.field_errors("idempotencyKey"),
        ["This field may not be blank."]
    );
    reply.field_errors("properties");
    let mut unknown = event("k-3");
    unknown["customerId"] = json!("nobody");
    let reply = api.post("/api/v1/report/event/", unknown).await;
    assert_eq!(reply.field_errors("customerId"), ["Customer not found."]);
    assert_eq!(api.mock.events().len(), 1);
}
