//! `/license/`: activate, deactivate, validate.

use serde_json::{Value, json};

use crate::subscriptions::{cancel, subscription_id, update};
use crate::support::{Api, Reply};

const KEY: &str = "PRO-LICENSE-0001";

async fn activate(api: &Api, body: Value) -> Reply {
    api.post("/api/v1/license/activate/", body).await
}

async fn deactivate(api: &Api, body: Value) -> Reply {
    api.post("/api/v1/license/deactivate/", body).await
}

async fn validate(api: &Api, body: Value) -> Reply {
    api.post("/api/v1/license/validate/", body).await
}

/// Activates the pro license and returns the instance id.
async fn instance(api: &Api) -> String {
    let reply = activate(api, json!({"license_key": KEY})).await;
    reply.expect(201)["instanceId"].as_str().unwrap().to_owned()
}

// --- activate --------------------------------------------------------------------------

#[tokio::test]
async fn activate_answers_the_instance_and_the_license_details() {
    let api = Api::start().await;
    let subscription = subscription_id(&api, "cust_pro").await;
    let reply = activate(
        &api,
        json!({
            "license_key": KEY,
            "customer_id": "cust_pro",
            "instance_name": "build-server",
            "metadata": {"host": "ci-1"},
        }),
    )
    .await;
    let body = reply.expect(201);
    assert_eq!(body["instanceId"].as_str().unwrap().len(), 36);
    let activated_at = body["activatedAt"].as_str().unwrap();
    assert!(activated_at.ends_with('Z'), "{activated_at}");
    assert_eq!(body["expiresOn"], Value::Null);

    let license = &body["license"];
    assert_eq!(license["licenseKey"], KEY);
    assert_eq!(license["id"].as_str().unwrap().len(), 36);
    assert_eq!(license["activatedOn"], activated_at);
    assert_eq!(license["expiresOn"], Value::Null);
    assert_eq!(license["activationUsage"], 1);
    assert_eq!(license["activationLimit"], 3);
    assert_eq!(license["enabled"], true);
    assert_eq!(
        license["customer"],
        json!({"customerId": "cust_pro", "name": "Pro Inc", "email": "owner@pro.example"})
    );
    let plan = &license["plan"];
    assert_eq!(plan["identifier"], "pro");
    assert_eq!(plan["name"], "Pro");
    assert_eq!(plan["description"], Value::Null);
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["isLatest"], true);
    assert_eq!(plan["product"]["id"], "prod_pro");
    assert_eq!(plan["product"]["identifier"], "pro");
    assert_eq!(plan["product"]["name"], "Pro");
    assert_eq!(plan["product"]["taxCode"], Value::Null);
    assert!(plan["product"]["createdOn"].is_string());
    assert!(plan["product"]["modifiedOn"].is_string());
    assert_eq!(license["subscription"]["id"], subscription);
    assert_eq!(license["subscription"]["license"][0]["activationUsage"], 1);
}

#[tokio::test]
async fn activate_stops_at_the_activation_limit_and_deactivate_frees_a_slot() {
    let api = Api::start().await;
    let first = instance(&api).await;
    instance(&api).await;
    instance(&api).await;
    let full = activate(&api, json!({"license_key": KEY})).await;
    assert_eq!(
        full.expect(400),
        &json!({"detail": "Activation limit reached."})
    );

    let reply = deactivate(&api, json!({"license_key": KEY, "instance_id": first})).await;
    let body = reply.expect(200);
    assert_eq!(body["message"], "License deactivated successfully.");
    assert!(body["deactivatedAt"].as_str().unwrap().ends_with('Z'));
    let usage = validate(&api, json!({"license_key": KEY})).await;
    assert_eq!(usage.expect(200)["license"]["activationUsage"], 2);

    let reused = activate(&api, json!({"license_key": KEY})).await;
    assert_eq!(reused.expect(201)["license"]["activationUsage"], 3);
    let again = deactivate(&api, json!({"license_key": KEY, "instance_id": first})).await;
    assert_eq!(again.expect(404), &json!({"detail": "Instance not found."}));
}

#[tokio::test]
async fn activate_refuses_unknown_keys_and_keys_of_other_customers() {
    let api = Api::start().await;
    let unknown = activate(&api, json!({"license_key": "NOPE"})).await;
    assert_eq!(
        unknown.expect(404),
        &json!({"detail": "License key not found."})
    );
    let other = activate(
        &api,
        json!({"license_key": KEY, "customer_id": "cust_free"}),
    )
    .await;
    assert_eq!(
        other.field_errors("customer_id"),
        ["This license key belongs to another customer."]
    );
    let usage = validate(&api, json!({"license_key": KEY})).await;
    assert_eq!(usage.expect(200)["license"]["activationUsage"], 0);
}

#[tokio::test]
async fn activate_validates_the_body() {
    let api = Api::start().await;
    let cases: [(Value, &str, &str); 6] = [
        (json!({}), "license_key", "This field is required."),
        (
            json!({"license_key": ""}),
            "license_key",
            "This field may not be blank.",
        ),
        (
            json!({"license_key": 1}),
            "license_key",
            "Not a valid string.",
        ),
        (json!({"licenseKey": KEY}), "licenseKey", "Unknown field."),
        (
            json!({"license_key": KEY, "metadata": "x"}),
            "metadata",
            "Expected a dictionary of items but got type \"str\".",
        ),
        (
            json!({"license_key": KEY, "instance_name": null}),
            "instance_name",
            "This field may not be null.",
        ),
    ];
    for (body, field, message) in cases {
        let reply = activate(&api, body.clone()).await;
        assert_eq!(reply.field_errors(field), [message], "{body}");
    }
}

// --- deactivate ------------------------------------------------------------------------

#[tokio::test]
async fn deactivate_of_unknown_keys_or_instances_is_404() {
    let api = Api::start().await;
    let reply = deactivate(&api, json!({"license_key": "NOPE", "instance_id": "x"})).await;
    assert_eq!(
        reply.expect(404),
        &json!({"detail": "License key not found."})
    );
    for instance_id in ["x", ""] {
        let reply = deactivate(
            &api,
            json!({"license_key": KEY, "instance_id": instance_id}),
        )
        .await;
        assert_eq!(reply.expect(404), &json!({"detail": "Instance not found."}));
    }
}

#[tokio::test]
async fn deactivate_validates_the_body() {
    let api = Api::start().await;
    let reply = deactivate(&api, json!({"license_key": KEY})).await;
    assert_eq!(
        reply.field_errors("instance_id"),
        ["This field is required."]
    );
    let reply = deactivate(&api, json!({"license_key": KEY, "instanceId": "x"})).await;
    assert_eq!(reply.field_errors("instanceId"), ["Unknown field."]);
    let reply = deactivate(&api, json!({"license_key": null, "instance_id": "x"})).await;
    assert_eq!(
        reply.field_errors("license_key"),
        ["This field may not be null."]
    );
}

// --- validate --------------------------------------------------------------------------

#[tokio::test]
async fn validate_of_an_instance_answers_valid_with_its_metadata() {
    let api = Api::start().await;
    let reply = activate(
        &api,
        json!({"license_key": KEY, "metadata": {"host": "ci-1"}}),
    )
    .await;
    let instance_id = reply.expect(201)["instanceId"].as_str().unwrap().to_owned();

    let reply = validate(
        &api,
        json!({"license_key": KEY, "instance_id": instance_id}),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["valid"], true);
    assert_eq!(body["code"], "VALID");
    assert!(body["detail"].is_string());
    assert_eq!(body["metadata"], json!({"host": "ci-1"}));
    assert_eq!(body["license"]["licenseKey"], KEY);
    assert_eq!(body["license"]["activationUsage"], 1);

    let reply = validate(&api, json!({"license_key": KEY})).await;
    let body = reply.expect(200);
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["metadata"], Value::Null);
}

#[tokio::test]
async fn validate_answers_not_found_and_instance_not_found_with_200() {
    let api = Api::start().await;
    let reply = validate(&api, json!({"license_key": "NOPE"})).await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "valid": false,
            "code": "NOT_FOUND",
            "detail": "License key not found.",
            "metadata": null,
            "license": null,
        })
    );

    let reply = validate(&api, json!({"license_key": KEY, "instance_id": "unknown"})).await;
    let body = reply.expect(200);
    assert_eq!(body["valid"], false);
    assert_eq!(body["code"], "INSTANCE_NOT_FOUND");
    assert_eq!(body["license"]["licenseKey"], KEY);

    let instance_id = instance(&api).await;
    deactivate(
        &api,
        json!({"license_key": KEY, "instance_id": instance_id}),
    )
    .await
    .expect(200);
    let reply = validate(
        &api,
        json!({"license_key": KEY, "instance_id": instance_id}),
    )
    .await;
    assert_eq!(reply.expect(200)["code"], "INSTANCE_NOT_FOUND");
}

#[tokio::test]
async fn validate_validates_the_body() {
    let api = Api::start().await;
    let reply = validate(&api, json!({})).await;
    assert_eq!(
        reply.field_errors("license_key"),
        ["This field is required."]
    );
    let reply = validate(&api, json!({"licenseKey": KEY})).await;
    assert_eq!(reply.field_errors("licenseKey"), ["Unknown field."]);
    let reply = validate(&api, json!({"license_key": KEY, "instance_id": 3})).await;
    assert_eq!(reply.field_errors("instance_id"), ["Not a valid string."]);
}

// --- lifecycle -------------------------------------------------------------------------

#[tokio::test]
async fn license_of_a_canceled_subscription_has_expired() {
    let api = Api::start().await;
    let instance_id = instance(&api).await;
    let id = subscription_id(&api, "cust_pro").await;
    cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"}))
        .await
        .expect(200);

    let reply = activate(&api, json!({"license_key": KEY})).await;
    assert_eq!(
        reply.expect(400),
        &json!({"detail": "License has expired."})
    );
    let reply = validate(
        &api,
        json!({"license_key": KEY, "instance_id": instance_id}),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["valid"], false);
    assert_eq!(body["code"], "EXPIRED");
    assert!(body["license"]["expiresOn"].is_string());
    assert_eq!(body["license"]["subscription"]["status"], "canceled");
}

#[tokio::test]
async fn license_stays_valid_until_a_scheduled_cancellation() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    cancel(
        &api,
        &id,
        json!({"cancellation_type": "CURRENT_PERIOD_ENDS"}),
    )
    .await
    .expect(200);
    let reply = validate(&api, json!({"license_key": KEY})).await;
    let body = reply.expect(200);
    assert_eq!(body["code"], "VALID");
    let expires_on = body["license"]["expiresOn"].as_str().unwrap();
    let end_date = body["license"]["subscription"]["endDate"].as_str().unwrap();
    assert_eq!(&expires_on[..10], end_date);
    instance(&api).await;
}

#[tokio::test]
async fn license_is_disabled_when_its_subscription_moves_to_a_plan_without_licenses() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    update(
        &api,
        &id,
        json!({"plan_identifier": "free", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(200);
    let reply = activate(&api, json!({"license_key": KEY})).await;
    assert_eq!(
        reply.expect(400),
        &json!({"detail": "License is disabled."})
    );
    let reply = validate(&api, json!({"license_key": KEY})).await;
    let body = reply.expect(200);
    assert_eq!(body["code"], "DISABLED");
    assert_eq!(body["license"]["enabled"], false);

    // Back on a licensed plan, the same key works again.
    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(200);
    instance(&api).await;
}
