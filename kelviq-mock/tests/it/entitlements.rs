//! `GET /entitlements` on the edge listener.

use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};
use serde_json::{Value, json};

use crate::support::Api;

fn entry<'a>(body: &'a Value, feature: &str) -> Vec<&'a Value> {
    body["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["featureId"] == feature)
        .collect()
}

#[tokio::test]
async fn all_features_of_the_pro_customer() {
    let api = Api::start().await;
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=cust_pro")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["customerId"], "cust_pro");
    assert_eq!(body["entitlements"].as_array().unwrap().len(), 3);
    assert_eq!(
        entry(body, "reports")[0],
        &json!({"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true,
                "resetAt": null, "hardLimit": null, "usageLimit": null,
                "currentUsage": null, "remaining": null})
    );
    let calls = entry(body, "api-calls")[0];
    assert_eq!(calls["featureType"], "METER");
    assert_eq!(calls["usageLimit"], 10000);
    assert_eq!(calls["currentUsage"], 12);
    assert_eq!(calls["remaining"], 9988);
    assert_eq!(calls["hardLimit"], true);
    assert!(calls["resetAt"].as_str().unwrap().ends_with(" 00:00:00"));
    let seats = entry(body, "seats")[0];
    assert_eq!(seats["featureType"], "CUSTOMIZABLE");
    assert_eq!(seats["usageLimit"], 10);
}

#[tokio::test]
async fn one_feature_and_a_feature_the_customer_lacks() {
    let api = Api::start().await;
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=cust_pro&feature_id=api-calls")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["entitlements"].as_array().unwrap().len(), 1);
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=cust_free&feature_id=reports")
        .await;
    assert_eq!(reply.expect(200)["entitlements"], json!([]));
}

#[tokio::test]
async fn customer_id_is_required_and_must_exist() {
    let api = Api::start().await;
    let reply = api.edge_get("/api/v1/entitlements").await;
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field is required."]
    );
    let reply = api.edge_get("/api/v1/entitlements?customer_id=").await;
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field may not be blank."]
    );
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=nobody")
        .await;
    assert_eq!(reply.expect(404), &json!({"detail": "Customer not found."}));
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=cust_pro&featureId=x")
        .await;
    assert_eq!(
        reply.field_errors("featureId"),
        ["Unknown query parameter."]
    );
}

#[tokio::test]
async fn query_values_are_form_decoded() {
    let seed = Seed::empty()
        .plan(Plan::new("p").feature(Feature::boolean("a&b")))
        .customer(SeedCustomer::new("x y/z").subscribe("p"));
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let reply = api
        .edge_get("/api/v1/entitlements?customer_id=x+y%2Fz&feature_id=a%26b")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["customerId"], "x y/z");
    assert_eq!(body["entitlements"][0]["featureId"], "a&b");
}

#[tokio::test]
async fn a_feature_in_two_subscriptions_has_two_entries() {
    let seed = Seed::empty()
        .plan(Plan::new("base").feature(Feature::metered("calls").limit(10)))
        .plan(Plan::new("boost").feature(Feature::metered("calls").limit(5)))
        .customer(
            SeedCustomer::new("c")
                .subscribe("base")
                .subscribe("boost")
                .usage("calls", 12),
        );
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let reply = api.edge_get("/api/v1/entitlements?customer_id=c").await;
    let body = reply.expect(200);
    let calls = entry(body, "calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["currentUsage"], 10);
    assert_eq!(calls[0]["hasAccess"], false);
    assert_eq!(calls[1]["currentUsage"], 2);
    assert_eq!(calls[1]["remaining"], 3);
    assert_eq!(calls[1]["hasAccess"], true);
}

#[tokio::test]
async fn a_customer_without_subscriptions_has_no_entitlements() {
    let api = Api::start().await;
    api.post("/api/v1/customers/", json!({"customer_id": "new"}))
        .await
        .expect(201);
    let reply = api.edge_get("/api/v1/entitlements?customer_id=new").await;
    assert_eq!(reply.expect(200)["entitlements"], json!([]));
}

#[tokio::test]
async fn entitlement_calls_counts_the_requests_about_one_customer() {
    let seed = Seed::default().customer(SeedCustomer::new("x y/z").subscribe("free"));
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let mock = &api.mock;
    assert_eq!(mock.entitlement_calls("cust_pro"), 0);

    // A whole snapshot and a single feature both count.
    api.edge_get("/api/v1/entitlements?customer_id=cust_pro")
        .await
        .expect(200);
    api.edge_get("/api/v1/entitlements?customer_id=cust_pro&feature_id=reports")
        .await
        .expect(200);
    // The id is compared decoded and whole; other parameters naming it do not count.
    api.edge_get("/api/v1/entitlements?customer_id=x+y%2Fz")
        .await
        .expect(200);
    api.edge_get("/api/v1/entitlements?feature_id=cust_pro&customer_id=cust_free")
        .await
        .expect(200);
    // Refused requests count: the client asked.
    api.edge_get("/api/v1/entitlements?customer_id=nobody")
        .await
        .expect(404);
    // Other routes, and the route on the wrong listener, do not.
    api.get("/api/v1/subscriptions/?customer_id=cust_pro")
        .await
        .expect(200);
    api.get("/api/v1/entitlements?customer_id=cust_pro")
        .await
        .expect(404);

    assert_eq!(mock.entitlement_calls("cust_pro"), 2);
    assert_eq!(mock.entitlement_calls("x y/z"), 1);
    assert_eq!(mock.entitlement_calls("x+y%2Fz"), 0);
    assert_eq!(mock.entitlement_calls("cust_free"), 1);
    assert_eq!(mock.entitlement_calls("nobody"), 1);
    assert_eq!(mock.entitlement_calls("cust"), 0);
    assert_eq!(mock.calls(kelviq_mock::Route::Entitlements), 5);
}
