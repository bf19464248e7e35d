//! The control endpoints (`/_mock/...`) are as strict as the service: they refuse what
//! the dashboard would refuse, and a change that changes nothing is no change.

use std::time::Duration;

use kelviq_mock::{MockError, MockServer};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::reporting::calls_entry;
use crate::support::{Api, Reply};
use crate::webhooks::{Receiver, mock_sending_to};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_usage_is_set_only_for_a_feature_with_a_usage_to_a_whole_number_from_zero() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    let usage = "/_mock/customers/cust_pro/usage";
    let cases = [
        (
            json!({"featureId": "storage", "value": 3}),
            vec![("featureId", "The customer has no such feature.")],
        ),
        (
            json!({"featureId": "reports", "value": 3}),
            vec![("featureId", "Usage cannot be set for a boolean feature.")],
        ),
        (
            json!({"featureId": "api-calls", "value": -1}),
            vec![("value", "Ensure this value is greater than or equal to 0.")],
        ),
        (
            json!({"featureId": "api-calls", "value": 2.5}),
            vec![("value", "A valid integer is required.")],
        ),
        (
            json!({"featureId": "api-calls", "value": "3"}),
            vec![("value", "A valid integer is required.")],
        ),
        (
            json!({"featureId": "api-calls"}),
            vec![("value", "This field is required.")],
        ),
        (
            json!({"value": 3}),
            vec![("featureId", "This field is required.")],
        ),
        (
            json!({"featureId": "api-calls", "value": 3, "behaviour": "SET"}),
            vec![("behaviour", "Unknown field.")],
        ),
        // Every bad field at once.
        (
            json!({"featureId": "storage", "value": -5}),
            vec![
                ("featureId", "The customer has no such feature."),
                ("value", "Ensure this value is greater than or equal to 0."),
            ],
        ),
    ];
    for (body, errors) in cases {
        let reply = api.post(usage, body.clone()).await;
        for (field, message) in &errors {
            assert_eq!(reply.field_errors(field), [*message], "{body}");
        }
        assert_eq!(
            reply.body.as_object().unwrap().len(),
            errors.len(),
            "{body}: {}",
            reply.body
        );
    }
    // cust_free's plan has no reports, and an unknown customer is a 404 whatever the body.
    let reply = api
        .post(
            "/_mock/customers/cust_free/usage",
            json!({"featureId": "reports", "value": 1}),
        )
        .await;
    assert_eq!(
        reply.field_errors("featureId"),
        ["The customer has no such feature."]
    );
    api.post(
        "/_mock/customers/nobody/usage",
        json!({"featureId": "api-calls", "value": 1}),
    )
    .await
    .expect(404);
    api.post(
        "/_mock/customers/nobody/usage",
        json!({"featureId": "storage", "value": 1}),
    )
    .await
    .expect(404);

    // Nothing was changed or announced: the seeded 12 of 10,000 stand.
    let calls = calls_entry(&api, "cust_pro").await;
    assert_eq!(
        (&calls["currentUsage"], &calls["remaining"]),
        (&json!(12), &json!(9988))
    );
    assert_eq!(api.mock.usage_total("cust_pro", "storage"), 0);

    // A good body, and zero (a reset), are accepted.
    let reply = api
        .post(usage, json!({"featureId": "api-calls", "value": 0}))
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"customerId": "cust_pro", "featureId": "api-calls", "value": 0, "changed": true})
    );
    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_type, "customer.updated");
}

#[tokio::test]
async fn the_rust_dashboard_methods_are_as_strict() {
    let mock = MockServer::start().await;
    assert!(matches!(
        mock.set_usage("cust_pro", "storage", 1),
        Err(MockError::UnknownFeature(feature)) if feature == "storage"
    ));
    assert!(matches!(
        mock.set_usage("cust_pro", "reports", 1),
        Err(MockError::UnknownFeature(feature)) if feature == "reports"
    ));
    assert!(matches!(
        mock.set_usage("cust_pro", "api-calls", -1),
        Err(MockError::NegativeUsage(-1))
    ));
    assert!(matches!(
        mock.set_usage("nobody", "api-calls", 1),
        Err(MockError::UnknownCustomer(customer)) if customer == "nobody"
    ));
    assert_eq!(mock.usage_total("cust_pro", "api-calls"), 12);
    mock.set_usage("cust_pro", "seats", 4).unwrap();
    assert_eq!(mock.usage_total("cust_pro", "seats"), 4);
}

async fn post_raw(api: &Api, path: &str, content_type: Option<&str>, body: &str) -> Reply {
    let mut request = api
        .http
        .post(format!("{}{path}", api.mock.url()))
        .bearer_auth(api.mock.token())
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    Reply::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn every_control_body_must_be_json() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    let bodies = [
        ("/_mock/customers/cust_free/plan", r#"{"plan": "pro"}"#),
        (
            "/_mock/customers/cust_free/usage",
            r#"{"featureId": "api-calls", "value": 3}"#,
        ),
        ("/_mock/faults", r#"{"kind": "status", "status": 503}"#),
    ];
    for (path, body) in bodies {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let reply = post_raw(&api, path, content_type, body).await;
            reply.expect(415);
            assert_eq!(
                reply.body["detail"],
                format!(
                    "Unsupported media type \"{}\" in request.",
                    content_type.unwrap_or("")
                ),
                "{path}"
            );
        }
        // The token is checked first.
        let anonymous = api
            .http
            .post(format!("{}{path}", api.mock.url()))
            .header(CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        // With its parameters, as DRF reads it.
        post_raw(&api, path, Some("application/json; charset=utf-8"), body)
            .await
            .expect(200);
    }
    // Refused bodies changed nothing: only the three accepted ones count.
    assert_eq!(api.mock.usage_total("cust_free", "api-calls"), 3);
    assert_eq!(
        api.get("/_mock/state").await.expect(200)["faults"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let deliveries = api.mock.wait_for_webhooks(2, WAIT).await;
    assert_eq!(deliveries.len(), 2);
    // Routes without a body need no content type.
    api.delete("/_mock/faults").await.expect(200);
    api.get("/_mock/state").await.expect(200);
}

#[tokio::test]
async fn a_change_that_changes_nothing_sends_no_webhook() {
    let receiver = Receiver::start(&[]).await;
    let api = mock_sending_to(&receiver).await;
    let before = api
        .get("/api/v1/subscriptions/?customer_id=cust_pro")
        .await
        .expect(200)["results"][0]
        .clone();

    // cust_pro is on pro already: over HTTP and in Rust.
    let reply = api
        .post("/_mock/customers/cust_pro/plan", json!({"plan": "pro"}))
        .await;
    assert_eq!(
        reply.expect(200),
        &json!({"subscriptionId": before["id"], "changed": false})
    );
    assert_eq!(
        api.mock.set_plan("cust_pro", "pro").unwrap(),
        before["id"].as_str().unwrap()
    );
    // Its usage is 12 already.
    let reply = api
        .post(
            "/_mock/customers/cust_pro/usage",
            json!({"featureId": "api-calls", "value": 12}),
        )
        .await;
    assert_eq!(reply.expect(200)["changed"], false);
    api.mock.set_usage("cust_pro", "api-calls", 12).unwrap();

    // The subscription is untouched (not even its modification time).
    let after = api
        .get("/api/v1/subscriptions/?customer_id=cust_pro")
        .await
        .expect(200)["results"][0]
        .clone();
    assert_eq!(before, after);

    // A real change is announced, and is the first and only delivery.
    let reply = api
        .post("/_mock/customers/cust_pro/plan", json!({"plan": "free"}))
        .await;
    assert_eq!(reply.expect(200)["changed"], true);
    let deliveries = api.mock.wait_for_webhooks(1, WAIT).await;
    let types: Vec<&str> = deliveries.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(types, ["subscription.updated"]);
    assert_eq!(receiver.wait_for(1).await.len(), 1);
}
