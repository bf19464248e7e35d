//! `POST /checkout/` (and completing a session) and `POST /portal/session/`.

use kelviq_mock::{MockServer, Plan, Seed, SeedCustomer};
use serde_json::{Value, json};

use crate::subscriptions::{entitled_features, retrieve};
use crate::support::Api;

const CHECKOUT: &str = "/api/v1/checkout/";
const PORTAL: &str = "/api/v1/portal/session/";

fn minimal() -> Value {
    json!({
        "planIdentifier": "pro",
        "chargePeriod": "MONTHLY",
        "successUrl": "https://app.example/welcome",
    })
}

fn sorted_keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Creates a checkout session and returns its id.
async fn session(api: &Api, body: Value) -> String {
    let reply = api.post(CHECKOUT, body).await;
    reply.expect(201)["checkoutSessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

// --- checkout --------------------------------------------------------------------------

#[tokio::test]
async fn checkout_with_every_field_answers_a_session_id_and_url() {
    let api = Api::start().await;
    let reply = api
        .post(
            CHECKOUT,
            json!({
                "offeringId": "off_1",
                "planIdentifier": "pro",
                "pricingTableId": "pt_1",
                "ipAddress": "203.0.113.9",
                "ruleId": "rule_1",
                "chargePeriod": "TWENTY_EIGHT_DAYS",
                "customerId": "cust_free",
                "features": [{"identifier": "seats", "quantity": 12}],
                "successUrl": "https://app.example/welcome?plan=pro",
                "trialPeriod": 14,
                "currencyCode": "USD",
                "customAmount": 10.0,
                "taxBehavior": "EXCLUSIVE",
                "discountsEnabled": true,
                "lockEmail": false,
                "defaultBillingCountry": "DE",
                "metadata": {"campaign": "spring"},
            }),
        )
        .await;
    let body = reply.expect(201);
    let keys = sorted_keys(body);
    assert_eq!(keys, ["checkoutSessionId", "checkoutUrl"]);
    let id = body["checkoutSessionId"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(
        body["checkoutUrl"],
        format!("{}/mock/checkout/{id}", api.mock.url())
    );
}

#[tokio::test]
async fn completing_a_checkout_subscribes_a_new_customer_with_its_trial() {
    let api = Api::start().await;
    let mut body = minimal();
    body["customerId"] = json!("new_customer");
    body["trialPeriod"] = json!(14);
    body["features"] = json!([{"identifier": "seats", "quantity": 3}]);
    let id = session(&api, body).await;
    // Nothing exists before completion.
    api.get("/api/v1/customers/new_customer/").await.expect(404);

    let subscription_id = api.mock.complete_checkout(&id).expect("session completes");
    let subscription = retrieve(&api, &subscription_id).await;
    assert_eq!(subscription["customerId"], "new_customer");
    assert_eq!(subscription["plan"]["identifier"], "pro");
    assert_eq!(subscription["status"], "trialing");
    assert_eq!(subscription["trialDaysRemaining"], 14);
    assert_eq!(subscription["license"].as_array().unwrap().len(), 1);
    assert!(
        subscription["features"].as_array().unwrap().contains(
            &json!({"identifier": "seats", "featureType": "CUSTOMIZABLE", "quantity": 3})
        )
    );
    api.get("/api/v1/customers/new_customer/").await.expect(200);
    let listed = api
        .get("/api/v1/subscriptions/?customer_id=new_customer")
        .await;
    assert_eq!(listed.expect(200)["results"][0]["id"], subscription_id);
    assert_eq!(
        entitled_features(&api, "new_customer").await,
        ["api-calls", "reports", "seats"]
    );
    assert_eq!(api.mock.complete_checkout(&id), None, "completes only once");
}

#[tokio::test]
async fn completing_a_checkout_of_an_existing_customer_adds_a_subscription() {
    let api = Api::start().await;
    let mut body = minimal();
    body["customerId"] = json!("cust_free");
    let id = session(&api, body).await;
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "seats"]
    );
    api.mock.complete_checkout(&id).expect("session completes");
    let listed = api
        .get("/api/v1/subscriptions/?customer_id=cust_free")
        .await;
    assert_eq!(listed.expect(200)["count"], 2);
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "reports", "seats"]
    );
}

#[tokio::test]
async fn completing_a_checkout_without_a_customer_creates_one() {
    let api = Api::start().await;
    let id = session(&api, minimal()).await;
    let subscription_id = api.mock.complete_checkout(&id).expect("session completes");
    let subscription = retrieve(&api, &subscription_id).await;
    let customer_id = subscription["customerId"].as_str().unwrap();
    assert!(customer_id.starts_with("cus_"), "{customer_id}");
    api.get(&format!("/api/v1/customers/{customer_id}/"))
        .await
        .expect(200);
    assert_eq!(api.mock.complete_checkout("no-such-session"), None);
}

#[tokio::test]
async fn checkout_requires_plan_charge_period_and_success_url() {
    let api = Api::start().await;
    let reply = api.post(CHECKOUT, json!({})).await;
    for field in ["planIdentifier", "chargePeriod", "successUrl"] {
        assert_eq!(
            reply.field_errors(field),
            ["This field is required."],
            "{field}"
        );
    }
}

#[tokio::test]
async fn checkout_rejects_snake_case_fields() {
    let api = Api::start().await;
    let reply = api
        .post(
            CHECKOUT,
            json!({
                "plan_identifier": "pro",
                "charge_period": "MONTHLY",
                "success_url": "https://app.example/",
            }),
        )
        .await;
    for field in ["plan_identifier", "charge_period", "success_url"] {
        assert_eq!(reply.field_errors(field), ["Unknown field."], "{field}");
    }
    assert_eq!(
        reply.field_errors("planIdentifier"),
        ["This field is required."]
    );
}

#[tokio::test]
async fn checkout_validates_every_field() {
    let api = Api::start().await;
    api.delete("/api/v1/customers/cust_free/").await.expect(204);
    let cases: [(&str, Value, &str); 17] = [
        ("planIdentifier", json!("enterprise"), "Plan not found."),
        ("planIdentifier", json!(null), "This field may not be null."),
        (
            "chargePeriod",
            json!("monthly"),
            "\"monthly\" is not a valid choice.",
        ),
        (
            "successUrl",
            json!("app.example/welcome"),
            "Enter a valid URL.",
        ),
        ("successUrl", json!(""), "This field may not be blank."),
        (
            "customerId",
            json!("cust_free"),
            "This customer is archived.",
        ),
        ("customerId", json!(7), "Not a valid string."),
        (
            "trialPeriod",
            json!(0),
            "Ensure this value is greater than or equal to 1.",
        ),
        ("trialPeriod", json!("14"), "A valid integer is required."),
        ("trialPeriod", json!(1.5), "A valid integer is required."),
        (
            "taxBehavior",
            json!("inclusive"),
            "\"inclusive\" is not a valid choice.",
        ),
        ("customAmount", json!("10"), "A valid number is required."),
        (
            "currencyCode",
            json!("dollars"),
            "Enter a three-letter ISO 4217 currency code.",
        ),
        ("discountsEnabled", json!("yes"), "Must be a valid boolean."),
        ("lockEmail", json!(1), "Must be a valid boolean."),
        (
            "metadata",
            json!(["a"]),
            "Expected a dictionary of items but got type \"list\".",
        ),
        (
            "features",
            json!([{"identifier": "sso", "quantity": 1}]),
            "Item 0: \"sso\" is not a feature of plan \"pro\".",
        ),
    ];
    for (field, value, message) in cases {
        let mut body = minimal();
        body[field] = value;
        let reply = api.post(CHECKOUT, body).await;
        assert_eq!(reply.field_errors(field), [message], "{field}");
    }
}

#[tokio::test]
async fn checkout_custom_amount_needs_currency_and_tax_behavior() {
    let api = Api::start().await;
    let mut body = minimal();
    body["customAmount"] = json!(25.5);
    let reply = api.post(CHECKOUT, body.clone()).await;
    let message = "This field is required when customAmount is set.";
    assert_eq!(reply.field_errors("currencyCode"), [message]);
    assert_eq!(reply.field_errors("taxBehavior"), [message]);

    body["currencyCode"] = json!("EUR");
    body["taxBehavior"] = json!("INCLUSIVE");
    api.post(CHECKOUT, body.clone()).await.expect(201);
    body["customAmount"] = json!(-1);
    let reply = api.post(CHECKOUT, body).await;
    assert_eq!(
        reply.field_errors("customAmount"),
        ["Ensure this value is greater than 0."]
    );
}

// --- portal ----------------------------------------------------------------------------

#[tokio::test]
async fn portal_session_answers_token_email_and_url() {
    let api = Api::start().await;
    let reply = api.post(PORTAL, json!({"customerId": "cust_pro"})).await;
    let body = reply.expect(201);
    let keys = sorted_keys(body);
    assert_eq!(keys, ["customerPortalUrl", "email", "token"]);
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert_eq!(body["email"], "owner@pro.example");
    assert_eq!(
        body["customerPortalUrl"],
        format!("{}/mock/portal/{token}", api.mock.url())
    );
    let again = api.post(PORTAL, json!({"customerId": "cust_pro"})).await;
    assert_ne!(
        again.expect(201)["token"],
        token,
        "each session has its own token"
    );
}

#[tokio::test]
async fn portal_session_of_a_customer_without_email_has_an_empty_email() {
    let seed = Seed::empty()
        .plan(Plan::new("basic"))
        .customer(SeedCustomer::new("anonymous").subscribe("basic"));
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let reply = api.post(PORTAL, json!({"customerId": "anonymous"})).await;
    assert_eq!(reply.expect(201)["email"], "");
}

#[tokio::test]
async fn portal_session_requires_an_existing_live_customer() {
    let api = Api::start().await;
    api.delete("/api/v1/customers/cust_free/").await.expect(204);
    let cases: [(Value, &str, &str); 6] = [
        (json!({}), "customerId", "This field is required."),
        (
            json!({"customerId": ""}),
            "customerId",
            "This field may not be blank.",
        ),
        (
            json!({"customerId": null}),
            "customerId",
            "This field may not be null.",
        ),
        (
            json!({"customerId": "nobody"}),
            "customerId",
            "Customer not found.",
        ),
        (
            json!({"customerId": "cust_free"}),
            "customerId",
            "Customer not found.",
        ),
        (
            json!({"customer_id": "cust_pro"}),
            "customer_id",
            "Unknown field.",
        ),
    ];
    for (body, field, message) in cases {
        let reply = api.post(PORTAL, body.clone()).await;
        assert_eq!(reply.field_errors(field), [message], "{body}");
    }
}
