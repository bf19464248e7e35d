//! `/subscriptions/`: list, retrieve, create, cancel, update and preview.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};
use serde_json::{Value, json};

use crate::support::{Api, Reply};

const LIST: &str = "/api/v1/subscriptions/";
const CREATE: &str = "/api/v1/subscriptions/create/";

/// The customer's first subscription, as the list shows it.
pub(crate) async fn subscription_of(api: &Api, customer_id: &str) -> Value {
    let page = api.get(&format!("{LIST}?customer_id={customer_id}")).await;
    page.expect(200)["results"][0].clone()
}

/// The id of the customer's first subscription.
pub(crate) async fn subscription_id(api: &Api, customer_id: &str) -> String {
    subscription_of(api, customer_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The distinct feature ids the customer is entitled to, from the edge listener.
pub(crate) async fn entitled_features(api: &Api, customer_id: &str) -> Vec<String> {
    let reply = api
        .edge_get(&format!("/api/v1/entitlements?customer_id={customer_id}"))
        .await;
    let mut ids: Vec<String> = reply.expect(200)["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["featureId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub(crate) async fn retrieve(api: &Api, id: &str) -> Value {
    api.get(&format!("{LIST}{id}/")).await.expect(200).clone()
}

pub(crate) async fn cancel(api: &Api, id: &str, body: Value) -> Reply {
    api.post(&format!("{LIST}{id}/cancel/"), body).await
}

pub(crate) async fn update(api: &Api, id: &str, body: Value) -> Reply {
    api.post(&format!("{LIST}{id}/update/"), body).await
}

async fn preview(api: &Api, id: &str, body: Value) -> Reply {
    api.post(&format!("{LIST}{id}/update/preview/"), body).await
}

/// The date of a `YYYY-MM-DD` value, or of the date part of a date-time.
fn date(value: &Value) -> Date {
    value.as_str().unwrap()[..10].parse().unwrap()
}

/// Today (UTC) as the mock sees it: the start date of a subscription created now.
fn today(subscription: &Value) -> Date {
    date(&subscription["startDate"])
}

/// An ISO-8601 UTC date-time `days` days from now.
fn in_days(days: i64) -> String {
    let at = Timestamp::now() + SignedDuration::from_hours(24 * days);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// --- list ------------------------------------------------------------------------------

#[tokio::test]
async fn list_returns_the_seeded_subscriptions_oldest_first_in_camel_case() {
    let api = Api::start().await;
    let page = api.get(LIST).await;
    let page = page.expect(200);
    assert_eq!(page["count"], 2);
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["previous"], Value::Null);
    let results = page["results"].as_array().unwrap();
    assert_eq!(results[0]["customerId"], "cust_free");
    assert_eq!(results[0]["amount"], "0.00");
    assert_eq!(results[0]["license"], json!([]));

    let pro = &results[1];
    let keys: Vec<&str> = pro
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "startDate",
        "billingType",
        "trialDaysRemaining",
        "externalSubscriptionId",
        "endDate",
        "billingPeriodStartTime",
        "billingPeriodEndTime",
        "amount",
        "recurrence",
        "currency",
        "status",
        "recurrenceType",
        "recurrenceUnit",
        "nextInvoiceDate",
        "customerId",
        "product",
        "plan",
        "features",
        "files",
        "links",
        "license",
    ] {
        assert!(keys.contains(&key), "missing {key} in {pro}");
    }
    assert_eq!(keys.len(), 22, "unexpected keys in {pro}");
    assert_eq!(pro["id"].as_str().unwrap().len(), 36);
    assert_eq!(pro["customerId"], "cust_pro");
    assert_eq!(pro["billingType"], "SUBSCRIPTION");
    assert_eq!(pro["trialDaysRemaining"], 0);
    assert_eq!(pro["externalSubscriptionId"], Value::Null);
    assert_eq!(pro["endDate"], Value::Null);
    assert_eq!(pro["amount"], "49.00");
    assert_eq!(pro["currency"], "USD");
    assert_eq!(pro["status"], "active");
    assert_eq!(pro["recurrence"], "1 month");
    assert_eq!(pro["recurrenceType"], "MONTH");
    assert_eq!(pro["recurrenceUnit"], 1);
    let start = today(pro);
    let period_end = pro["billingPeriodEndTime"].as_str().unwrap();
    assert!(
        period_end.ends_with('Z') && period_end.contains('T'),
        "{period_end}"
    );
    assert_eq!(date(&pro["billingPeriodEndTime"]), start + 1.month());
    assert_eq!(pro["nextInvoiceDate"], json!(&period_end[..10]));
    assert_eq!(
        pro["product"],
        json!({"id": "prod_pro", "identifier": "pro", "name": "Pro"})
    );
    assert_eq!(pro["plan"], json!({"identifier": "pro", "name": "Pro"}));
    assert!(
        pro["features"].as_array().unwrap().contains(
            &json!({"identifier": "seats", "featureType": "CUSTOMIZABLE", "quantity": 10})
        ),
        "{}",
        pro["features"]
    );
    assert_eq!(pro["files"], json!([]));
    assert_eq!(pro["links"], json!([]));
    let license = &pro["license"][0];
    assert_eq!(license["licenseKey"], "PRO-LICENSE-0001");
    assert_eq!(license["activationUsage"], 0);
    assert_eq!(license["activationLimit"], 3);
    assert_eq!(license["enabled"], true);
    assert_eq!(license["activatedOn"], Value::Null);
    assert_eq!(license["expiresOn"], Value::Null);
}

#[tokio::test]
async fn list_filters_by_customer_id() {
    let api = Api::start().await;
    let page = api.get(&format!("{LIST}?customer_id=cust_pro")).await;
    let page = page.expect(200);
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["customerId"], "cust_pro");
    let none = api.get(&format!("{LIST}?customer_id=nobody")).await;
    assert_eq!(none.expect(200)["count"], 0);
}

#[tokio::test]
async fn list_date_filters_are_inclusive_bounds() {
    let api = Api::start().await;
    let today = today(&subscription_of(&api, "cust_pro").await);
    let (yesterday, tomorrow) = (today - 1.day(), today + 1.day());
    for (query, count) in [
        (format!("start_date_after={today}"), 2),
        (format!("start_date_before={today}"), 2),
        (format!("start_date_after={tomorrow}"), 0),
        (format!("start_date_before={yesterday}"), 0),
        (
            format!("modified_on_after={today}&modified_on_before={today}"),
            2,
        ),
        (format!("modified_on_after={tomorrow}"), 0),
        (format!("modified_on_before={yesterday}"), 0),
        (
            format!("customer_id=cust_free&start_date_after={yesterday}"),
            1,
        ),
    ] {
        let page = api.get(&format!("{LIST}?{query}")).await;
        assert_eq!(page.expect(200)["count"], count, "{query}");
    }
}

#[tokio::test]
async fn list_modified_filter_follows_changes() {
    let api = Api::start().await;
    let today = today(&subscription_of(&api, "cust_pro").await);
    let id = subscription_id(&api, "cust_pro").await;
    cancel(
        &api,
        &id,
        json!({"cancellation_type": "CURRENT_PERIOD_ENDS"}),
    )
    .await
    .expect(200);
    let page = api.get(&format!("{LIST}?modified_on_after={today}")).await;
    assert_eq!(page.expect(200)["count"], 2);
}

/// `2025-02-01T00:00:00Z`-style text for `at` plus `offset_hours`, in that offset, with its
/// `+` percent-encoded for a query string.
fn instant(at: Timestamp, offset_hours: i8) -> String {
    let zoned = at.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(offset_hours)));
    let text = if offset_hours == 0 {
        at.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()
    };
    text.replace('+', "%2B")
}

#[tokio::test]
async fn list_modified_filters_take_a_day_or_an_rfc_3339_instant() {
    let api = Api::start().await;
    let today = today(&subscription_of(&api, "cust_pro").await);
    let hour = SignedDuration::from_hours(1);
    let (earlier, later) = (Timestamp::now() - hour, Timestamp::now() + hour);
    for (query, count) in [
        (format!("modified_on_after={}", instant(earlier, 0)), 2),
        (format!("modified_on_after={}", instant(earlier, 2)), 2),
        (format!("modified_on_after={}", instant(later, 0)), 0),
        (format!("modified_on_after={}", instant(later, -5)), 0),
        (format!("modified_on_before={}", instant(later, 0)), 2),
        (format!("modified_on_before={}", instant(earlier, 9)), 0),
        (
            format!(
                "modified_on_after={today}&modified_on_before={}",
                instant(later, 0)
            ),
            2,
        ),
        (
            format!(
                "modified_on_after={}&modified_on_before={today}",
                instant(earlier, 0)
            ),
            2,
        ),
    ] {
        let page = api.get(&format!("{LIST}?{query}")).await;
        assert_eq!(page.expect(200)["count"], count, "{query}");
    }

    // An instant between the seed and a change selects the changed subscription only.
    let id = subscription_id(&api, "cust_pro").await;
    let between = Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    cancel(
        &api,
        &id,
        json!({"cancellation_type": "CURRENT_PERIOD_ENDS"}),
    )
    .await
    .expect(200);
    let page = api
        .get(&format!("{LIST}?modified_on_after={}", instant(between, 0)))
        .await;
    let page = page.expect(200);
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["id"], id.as_str());
    let page = api
        .get(&format!(
            "{LIST}?modified_on_before={}",
            instant(between, 1)
        ))
        .await;
    assert_eq!(page.expect(200)["count"], 1);
}

#[tokio::test]
async fn list_modified_filters_refuse_garbage_with_a_400() {
    let api = Api::start().await;
    for bad in [
        "yesterday",
        "2025-02-01T00:00:00",
        "2025-02-01%2000:00:00",
        "2025-13-01T00:00:00Z",
        "2025-02-01T00:00:00%2B25:00",
        "1738368000",
        "2025-2-1",
        "",
    ] {
        for field in ["modified_on_after", "modified_on_before"] {
            let reply = api.get(&format!("{LIST}?{field}={bad}")).await;
            reply.expect(400);
            assert_eq!(
                reply.field_errors(field),
                ["Enter a valid date/time."],
                "{field}={bad}"
            );
        }
    }
    // Both bad: one message each, as DRF reports every field.
    let reply = api
        .get(&format!(
            "{LIST}?modified_on_after=soon&modified_on_before=2025-02-01T00:00:00"
        ))
        .await;
    assert_eq!(reply.field_errors("modified_on_after").len(), 1);
    assert_eq!(reply.field_errors("modified_on_before").len(), 1);
}

#[tokio::test]
async fn list_rejects_bad_dates_and_unknown_or_camel_case_parameters() {
    let api = Api::start().await;
    let reply = api.get(&format!("{LIST}?start_date_after=2025-1-1")).await;
    assert_eq!(
        reply.field_errors("start_date_after"),
        ["Enter a valid date."]
    );
    let reply = api
        .get(&format!("{LIST}?modified_on_before=yesterday"))
        .await;
    assert_eq!(
        reply.field_errors("modified_on_before"),
        ["Enter a valid date/time."]
    );
    let reply = api.get(&format!("{LIST}?customerId=cust_pro")).await;
    assert_eq!(
        reply.field_errors("customerId"),
        ["Unknown query parameter."]
    );
    let reply = api.get(&format!("{LIST}?startDateAfter=2025-01-01")).await;
    assert_eq!(
        reply.field_errors("startDateAfter"),
        ["Unknown query parameter."]
    );
}

#[tokio::test]
async fn list_paginates_with_absolute_next_and_previous_links() {
    let api = Api::start().await;
    let first = api.get(&format!("{LIST}?page_size=1")).await;
    let first = first.expect(200);
    assert_eq!(first["count"], 2);
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    assert_eq!(first["results"][0]["customerId"], "cust_free");
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().unwrap();
    assert_eq!(next, format!("{}{LIST}?page_size=1&page=2", api.mock.url()));

    let second = api.get(&format!("{LIST}?page_size=1&page=2")).await;
    let second = second.expect(200);
    assert_eq!(second["results"][0]["customerId"], "cust_pro");
    assert_eq!(second["next"], Value::Null);
    assert_eq!(
        second["previous"],
        format!("{}{LIST}?page_size=1", api.mock.url())
    );

    let past = api.get(&format!("{LIST}?page_size=1&page=3")).await;
    assert_eq!(past.expect(404)["detail"], "Invalid page.");
}

// --- retrieve --------------------------------------------------------------------------

#[tokio::test]
async fn retrieve_returns_the_subscription_as_listed() {
    let api = Api::start().await;
    let listed = subscription_of(&api, "cust_pro").await;
    let id = listed["id"].as_str().unwrap();
    assert_eq!(retrieve(&api, id).await, listed);
}

#[tokio::test]
async fn retrieve_of_unknown_or_percent_encoded_ids_is_404() {
    let api = Api::start().await;
    for path in ["nope", "a%2Fb", "cust_pro"] {
        let reply = api.get(&format!("{LIST}{path}/")).await;
        assert_eq!(
            reply.expect(404),
            &json!({"detail": "Not found."}),
            "{path}"
        );
    }
}

// --- create ----------------------------------------------------------------------------

#[tokio::test]
async fn create_subscribes_the_customer_and_entitlements_follow() {
    let api = Api::start().await;
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "seats"]
    );
    let reply = api
        .post(
            CREATE,
            json!({
                "plan_identifier": "pro",
                "charge_period": "YEARLY",
                "customer_id": "cust_free",
                "success_url": "https://app.example/done",
                "features": [{"identifier": "seats", "quantity": 5}],
                "ip_address": "203.0.113.9",
            }),
        )
        .await;
    let created = reply.expect(201).clone();
    assert_eq!(created["customerId"], "cust_free");
    assert_eq!(created["plan"]["identifier"], "pro");
    assert_eq!(created["status"], "active");
    assert_eq!(created["billingType"], "SUBSCRIPTION");
    assert_eq!(created["recurrence"], "1 year");
    assert_eq!(created["recurrenceType"], "YEAR");
    assert_eq!(created["amount"], "49.00");
    assert!(
        created["features"].as_array().unwrap().contains(
            &json!({"identifier": "seats", "featureType": "CUSTOMIZABLE", "quantity": 5})
        ),
        "{}",
        created["features"]
    );
    assert_eq!(created["license"].as_array().unwrap().len(), 1);
    assert_eq!(created["license"][0]["activationLimit"], 3);

    let id = created["id"].as_str().unwrap();
    assert_eq!(retrieve(&api, id).await, created);
    let page = api.get(&format!("{LIST}?customer_id=cust_free")).await;
    let page = page.expect(200);
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][1]["id"], id);
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "reports", "seats"]
    );
}

#[tokio::test]
async fn create_of_a_one_time_purchase_has_no_recurrence() {
    let api = Api::start().await;
    let reply = api
        .post(
            CREATE,
            json!({"plan_identifier": "pro", "charge_period": "ONE_TIME", "customer_id": "cust_free"}),
        )
        .await;
    let created = reply.expect(201);
    assert_eq!(created["billingType"], "ONE_TIME");
    assert_eq!(created["recurrence"], Value::Null);
    assert_eq!(created["recurrenceUnit"], Value::Null);
    assert_eq!(created["nextInvoiceDate"], Value::Null);
    assert_eq!(created["status"], "active");
}

#[tokio::test]
async fn create_rejects_camel_case_fields() {
    let api = Api::start().await;
    let reply = api
        .post(
            CREATE,
            json!({"planIdentifier": "pro", "chargePeriod": "MONTHLY", "customerId": "cust_free"}),
        )
        .await;
    assert_eq!(
        reply.field_errors("plan_identifier"),
        ["This field is required."]
    );
    assert_eq!(
        reply.field_errors("charge_period"),
        ["This field is required."]
    );
    assert_eq!(
        reply.field_errors("customer_id"),
        ["This field is required."]
    );
    assert_eq!(reply.field_errors("planIdentifier"), ["Unknown field."]);
    assert_eq!(reply.field_errors("chargePeriod"), ["Unknown field."]);
    assert_eq!(reply.field_errors("customerId"), ["Unknown field."]);
}

#[tokio::test]
async fn create_validates_every_field_and_creates_nothing_on_error() {
    let api = Api::start().await;
    api.delete("/api/v1/customers/cust_pro/").await.expect(204);
    let valid =
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "customer_id": "cust_free"});
    let cases: [(&str, Value, &str); 12] = [
        (
            "plan_identifier",
            json!(null),
            "This field may not be null.",
        ),
        ("plan_identifier", json!(""), "This field may not be blank."),
        ("plan_identifier", json!("enterprise"), "Plan not found."),
        (
            "charge_period",
            json!("monthly"),
            "\"monthly\" is not a valid choice.",
        ),
        ("charge_period", json!(1), "Not a valid string."),
        ("customer_id", json!("nobody"), "Customer not found."),
        ("customer_id", json!("cust_pro"), "Customer not found."),
        (
            "success_url",
            json!("app.example/done"),
            "Enter a valid URL.",
        ),
        (
            "features",
            json!({"seats": 2}),
            "Expected a list of items but got type \"dict\".",
        ),
        (
            "features",
            json!([{"identifier": "sso", "quantity": 1}]),
            "Item 0: \"sso\" is not a feature of plan \"pro\".",
        ),
        ("ip_address", json!(42), "Not a valid string."),
        ("coupon", json!("X"), "Unknown field."),
    ];
    for (field, value, message) in cases {
        let mut body = valid.clone();
        body[field] = value;
        let reply = api.post(CREATE, body).await;
        assert_eq!(reply.field_errors(field), [message], "{field}");
    }
    assert_eq!(api.get(LIST).await.expect(200)["count"], 2);
}

// --- cancel ----------------------------------------------------------------------------

#[tokio::test]
async fn cancel_immediate_ends_access_at_once() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    assert!(
        entitled_features(&api, "cust_pro")
            .await
            .contains(&"reports".to_owned())
    );
    let reply = cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"})).await;
    assert_eq!(
        reply.expect(200),
        &json!({"message": "Subscription cancelled successfully."})
    );
    let canceled = retrieve(&api, &id).await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["endDate"], canceled["startDate"]);
    assert_eq!(canceled["nextInvoiceDate"], Value::Null);
    assert!(entitled_features(&api, "cust_pro").await.is_empty());

    let again = cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"})).await;
    assert_eq!(
        again.expect(400),
        &json!({"detail": "Subscription is already canceled."})
    );
}

#[tokio::test]
async fn cancel_at_period_end_keeps_access_until_the_period_end_date() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    let reply = cancel(
        &api,
        &id,
        json!({"cancellation_type": "CURRENT_PERIOD_ENDS"}),
    )
    .await;
    reply.expect(200);
    let scheduled = retrieve(&api, &id).await;
    assert_eq!(scheduled["status"], "active");
    let period_end = scheduled["billingPeriodEndTime"].as_str().unwrap();
    assert_eq!(scheduled["endDate"], json!(&period_end[..10]));
    assert_eq!(scheduled["nextInvoiceDate"], Value::Null);
    assert_eq!(
        entitled_features(&api, "cust_pro").await,
        ["api-calls", "reports", "seats"]
    );
    // A scheduled cancellation can still be brought forward.
    cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"}))
        .await
        .expect(200);
    assert_eq!(retrieve(&api, &id).await["status"], "canceled");
}

#[tokio::test]
async fn cancel_on_a_specific_date_ends_access_that_day() {
    let api = Api::start().await;
    let pro = subscription_of(&api, "cust_pro").await;
    let id = pro["id"].as_str().unwrap();
    let later = today(&pro) + 10.days();
    cancel(
        &api,
        id,
        json!({"cancellation_type": "SPECIFIC_DATE", "cancellation_date": later.to_string()}),
    )
    .await
    .expect(200);
    let scheduled = retrieve(&api, id).await;
    assert_eq!(scheduled["status"], "active");
    assert_eq!(scheduled["endDate"], later.to_string());
    assert!(!entitled_features(&api, "cust_pro").await.is_empty());

    let free = subscription_of(&api, "cust_free").await;
    let free_id = free["id"].as_str().unwrap();
    cancel(
        &api,
        free_id,
        json!({"cancellation_type": "SPECIFIC_DATE", "cancellation_date": today(&free).to_string()}),
    )
    .await
    .expect(200);
    assert_eq!(retrieve(&api, free_id).await["status"], "canceled");
    assert!(entitled_features(&api, "cust_free").await.is_empty());
}

#[tokio::test]
async fn cancel_validates_type_and_date_and_leaves_the_subscription_alone() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    let before = retrieve(&api, &id).await;
    let cases: [(Value, &str, &str); 7] = [
        (json!({}), "cancellation_type", "This field is required."),
        (
            json!({"cancellation_type": "immediate"}),
            "cancellation_type",
            "\"immediate\" is not a valid choice.",
        ),
        (
            json!({"cancellation_type": null}),
            "cancellation_type",
            "This field may not be null.",
        ),
        (
            json!({"cancellation_type": "SPECIFIC_DATE"}),
            "cancellation_date",
            "This field is required when cancellation_type is SPECIFIC_DATE.",
        ),
        (
            json!({"cancellation_type": "SPECIFIC_DATE", "cancellation_date": "31-12-2030"}),
            "cancellation_date",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        (
            json!({"cancellationType": "IMMEDIATE"}),
            "cancellationType",
            "Unknown field.",
        ),
        (
            json!({"cancellation_type": "IMMEDIATE", "reason": "too expensive"}),
            "reason",
            "Unknown field.",
        ),
    ];
    for (body, field, message) in cases {
        let reply = cancel(&api, &id, body.clone()).await;
        assert_eq!(reply.field_errors(field), [message], "{body}");
    }
    assert_eq!(retrieve(&api, &id).await, before);
}

#[tokio::test]
async fn cancel_of_unknown_ids_is_404() {
    let api = Api::start().await;
    for id in ["nope", "a%2Fb"] {
        let reply = cancel(&api, id, json!({"cancellation_type": "IMMEDIATE"})).await;
        assert_eq!(reply.expect(404)["detail"], "Not found.", "{id}");
    }
}

// --- update ----------------------------------------------------------------------------

#[tokio::test]
async fn update_moves_the_subscription_to_the_new_plan_and_entitlements_follow() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let reply = update(
        &api,
        &id,
        json!({
            "plan_identifier": "pro",
            "charge_period": "MONTHLY",
            "proration_behavior": "NO_PRORATION",
            "probation_behaviour": "legacy",
            "ipAddress": "203.0.113.9",
            "offering_id": "off_1",
            "pricing_table_id": "pt_1",
            "rule_id": "rule_1",
            "features": [{"identifier": "seats", "quantity": 4}],
            "payment_behavior": "activate_on_payment",
        }),
    )
    .await;
    assert_eq!(reply.expect(200), &json!({"subscriptionId": id}));
    let updated = retrieve(&api, &id).await;
    assert_eq!(updated["plan"]["identifier"], "pro");
    assert_eq!(updated["amount"], "49.00");
    assert_eq!(updated["license"].as_array().unwrap().len(), 1);
    assert!(
        updated["features"].as_array().unwrap().contains(
            &json!({"identifier": "seats", "featureType": "CUSTOMIZABLE", "quantity": 4})
        )
    );
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "reports", "seats"]
    );
}

#[tokio::test]
async fn update_with_immediate_charge_charges_the_price_difference() {
    let api = Api::start().await;
    let transactions = "/api/v1/transaction/?search=cust_free";
    assert_eq!(api.get(transactions).await.expect(200)["count"], 0);
    let id = subscription_id(&api, "cust_free").await;
    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "proration_behavior": "IMMEDIATE_CHARGE"}),
    )
    .await
    .expect(200);
    let page = api.get(transactions).await;
    let page = page.expect(200);
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["amountTotal"], 49.0);

    // Without IMMEDIATE_CHARGE nothing is charged now.
    update(
        &api,
        &id,
        json!({"plan_identifier": "free", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(200);
    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "proration_behavior": "PRORATE_NEXT_INVOICE"}),
    )
    .await
    .expect(200);
    assert_eq!(api.get(transactions).await.expect(200)["count"], 1);
}

#[tokio::test]
async fn update_takes_ip_address_in_camel_case_only() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let before = retrieve(&api, &id).await;
    let reply = update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "ip_address": "203.0.113.9"}),
    )
    .await;
    assert_eq!(reply.field_errors("ip_address"), ["Unknown field."]);
    assert_eq!(retrieve(&api, &id).await, before);
}

#[tokio::test]
async fn update_validates_every_field_and_changes_nothing_on_error() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let before = retrieve(&api, &id).await;
    let valid = json!({"plan_identifier": "pro", "charge_period": "MONTHLY"});
    let cases: [(&str, Value, &str); 12] = [
        ("plan_identifier", json!("enterprise"), "Plan not found."),
        (
            "plan_identifier",
            json!(null),
            "This field may not be null.",
        ),
        (
            "charge_period",
            json!("Monthly"),
            "\"Monthly\" is not a valid choice.",
        ),
        (
            "charge_period",
            json!("ONE_TIME"),
            "A subscription cannot be changed to ONE_TIME.",
        ),
        (
            "proration_behavior",
            json!("immediate_charge"),
            "\"immediate_charge\" is not a valid choice.",
        ),
        (
            "payment_behavior",
            json!("ACTIVATE_ON_PAYMENT"),
            "\"ACTIVATE_ON_PAYMENT\" is not a valid choice.",
        ),
        (
            "trial_end",
            json!("tomorrow"),
            "Enter 'now' or an ISO 8601 date-time such as '2025-12-31 23:59:59'.",
        ),
        (
            "trial_end",
            json!("2020-01-01 00:00:00"),
            "The trial end must be in the future.",
        ),
        (
            "features",
            json!([{"identifier": "seats"}]),
            "Item 0: quantity: This field is required.",
        ),
        ("probation_behaviour", json!(1), "Not a valid string."),
        ("prorationBehavior", json!("NO_PRORATION"), "Unknown field."),
        ("planIdentifier", json!("pro"), "Unknown field."),
    ];
    for (field, value, message) in cases {
        let mut body = valid.clone();
        body[field] = value;
        let reply = update(&api, &id, body).await;
        assert_eq!(reply.field_errors(field), [message], "{field}");
    }
    let reply = update(&api, &id, json!({"charge_period": "MONTHLY"})).await;
    assert_eq!(
        reply.field_errors("plan_identifier"),
        ["This field is required."]
    );
    assert_eq!(retrieve(&api, &id).await, before);
}

#[tokio::test]
async fn update_of_a_canceled_or_unknown_subscription_is_refused() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"}))
        .await
        .expect(200);
    let body = json!({"plan_identifier": "free", "charge_period": "MONTHLY"});
    let reply = update(&api, &id, body.clone()).await;
    assert_eq!(
        reply.expect(400),
        &json!({"detail": "Subscription is already canceled."})
    );
    for unknown in ["nope", "a%2Fb"] {
        update(&api, unknown, body.clone()).await.expect(404);
    }
}

#[tokio::test]
async fn update_with_trial_end_starts_and_ends_a_trial() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    let trial_end = in_days(10);
    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "trial_end": trial_end}),
    )
    .await
    .expect(200);
    let trialing = retrieve(&api, &id).await;
    assert_eq!(trialing["status"], "trialing");
    assert_eq!(trialing["trialDaysRemaining"], 10);
    assert_eq!(trialing["nextInvoiceDate"], json!(&trial_end[..10]));

    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "trial_end": "now"}),
    )
    .await
    .expect(200);
    let active = retrieve(&api, &id).await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["trialDaysRemaining"], 0);
}

#[tokio::test]
async fn update_of_the_charge_period_restarts_the_period() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_pro").await;
    update(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "WEEKLY"}),
    )
    .await
    .expect(200);
    let weekly = retrieve(&api, &id).await;
    assert_eq!(weekly["recurrence"], "1 week");
    assert_eq!(weekly["recurrenceType"], "WEEK");
    assert_eq!(
        date(&weekly["billingPeriodEndTime"]),
        date(&weekly["billingPeriodStartTime"]) + 1.week()
    );
}

// --- preview ---------------------------------------------------------------------------

#[tokio::test]
async fn preview_quotes_an_immediate_upgrade_without_changing_anything() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let before = retrieve(&api, &id).await;
    let reply = preview(
        &api,
        &id,
        json!({
            "plan_identifier": "pro",
            "charge_period": "MONTHLY",
            "proration_behavior": "IMMEDIATE_CHARGE",
            "features": [{"identifier": "seats", "quantity": 3}],
            "ip_address": "203.0.113.9",
        }),
    )
    .await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "currency": "USD",
            "recurringAmount": 49.0,
            "recurringAmountUnits": 4900,
            "amountChargedImmediately": 49.0,
            "amountChargedImmediatelyUnits": 4900,
            "nextInvoice": {
                "amountDue": 49.0,
                "amountDueUnits": 4900,
                "nextPaymentAttempt": before["billingPeriodEndTime"],
            },
            "lineItems": [
                {"description": "Upgrade from Free to Pro, charged now", "amount": 49.0, "amountUnits": 4900},
                {"description": "Pro (1 month)", "amount": 49.0, "amountUnits": 4900},
            ],
        })
    );
    assert_eq!(retrieve(&api, &id).await, before);
    assert_eq!(
        entitled_features(&api, "cust_free").await,
        ["api-calls", "seats"]
    );
    let transactions = api.get("/api/v1/transaction/?search=cust_free").await;
    assert_eq!(transactions.expect(200)["count"], 0);
}

#[tokio::test]
async fn preview_follows_the_proration_behavior() {
    let api = Api::start().await;
    let free = subscription_id(&api, "cust_free").await;
    let pro = subscription_id(&api, "cust_pro").await;
    // (subscription, target plan, proration, charged now, next invoice)
    let cases = [
        (&free, "pro", None, 0, 9800),
        (&free, "pro", Some("PRORATE_NEXT_INVOICE"), 0, 9800),
        (&free, "pro", Some("NO_PRORATION"), 0, 4900),
        (&pro, "free", Some("IMMEDIATE_CHARGE"), 0, 0),
        (&pro, "free", Some("NO_PRORATION"), 0, 0),
        (&pro, "pro", Some("IMMEDIATE_CHARGE"), 0, 4900),
    ];
    for (id, plan, proration, now, next) in cases {
        let mut body = json!({"plan_identifier": plan, "charge_period": "MONTHLY"});
        if let Some(proration) = proration {
            body["proration_behavior"] = json!(proration);
        }
        let reply = preview(&api, id, body.clone()).await;
        let quote = reply.expect(200);
        assert_eq!(quote["amountChargedImmediatelyUnits"], now, "{body}");
        assert_eq!(quote["nextInvoice"]["amountDueUnits"], next, "{body}");
    }
    let downgrade = preview(
        &api,
        &pro,
        json!({"plan_identifier": "free", "charge_period": "MONTHLY"}),
    )
    .await;
    assert_eq!(
        downgrade.expect(200)["lineItems"][0],
        json!({"description": "Downgrade from Pro to Free, on the next invoice", "amount": -49.0, "amountUnits": -4900})
    );
}

#[tokio::test]
async fn preview_takes_ip_address_in_snake_case_and_any_trial_end() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let body =
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "trial_end": "whenever"});
    preview(&api, &id, body).await.expect(200);
    let reply = preview(
        &api,
        &id,
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "ipAddress": "203.0.113.9"}),
    )
    .await;
    assert_eq!(reply.field_errors("ipAddress"), ["Unknown field."]);
    let reply = preview(
        &api,
        &id,
        json!({"plan_identifier": "pro", "chargePeriod": "MONTHLY"}),
    )
    .await;
    assert_eq!(
        reply.field_errors("charge_period"),
        ["This field is required."]
    );
    assert_eq!(reply.field_errors("chargePeriod"), ["Unknown field."]);
}

#[tokio::test]
async fn preview_of_a_trial_moves_no_money_now() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    let trial_end = in_days(7);
    let reply = preview(
        &api,
        &id,
        json!({
            "plan_identifier": "pro",
            "charge_period": "MONTHLY",
            "proration_behavior": "IMMEDIATE_CHARGE",
            "trial_end": trial_end,
        }),
    )
    .await;
    let quote = reply.expect(200);
    assert_eq!(quote["amountChargedImmediatelyUnits"], 0);
    assert_eq!(quote["nextInvoice"]["amountDueUnits"], 4900);
    let attempt = quote["nextInvoice"]["nextPaymentAttempt"].as_str().unwrap();
    assert_eq!(&attempt[..10], &trial_end[..10]);
}

#[tokio::test]
async fn preview_of_a_canceled_or_unknown_subscription_is_refused() {
    let api = Api::start().await;
    let id = subscription_id(&api, "cust_free").await;
    cancel(&api, &id, json!({"cancellation_type": "IMMEDIATE"}))
        .await
        .expect(200);
    let body = json!({"plan_identifier": "pro", "charge_period": "MONTHLY"});
    let reply = preview(&api, &id, body.clone()).await;
    assert_eq!(
        reply.expect(400)["detail"],
        "Subscription is already canceled."
    );
    for unknown in ["nope", "a%2Fb"] {
        preview(&api, unknown, body.clone()).await.expect(404);
    }
}

// --- a seed of its own -----------------------------------------------------------------

#[tokio::test]
async fn entitlements_follow_a_plan_change_between_custom_plans() {
    let seed = Seed::empty()
        .plan(Plan::new("basic").feature(Feature::boolean("export")))
        .plan(
            Plan::new("team")
                .price_units(1500)
                .currency("EUR")
                .feature(Feature::boolean("export"))
                .feature(Feature::boolean("sso")),
        )
        .customer(SeedCustomer::new("acme").subscribe("basic"));
    let api = Api::with(MockServer::builder().seed(seed)).await;
    let id = subscription_id(&api, "acme").await;
    assert_eq!(entitled_features(&api, "acme").await, ["export"]);
    let quote = preview(
        &api,
        &id,
        json!({"plan_identifier": "team", "charge_period": "MONTHLY"}),
    )
    .await;
    assert_eq!(quote.expect(200)["currency"], "EUR");
    update(
        &api,
        &id,
        json!({"plan_identifier": "team", "charge_period": "MONTHLY"}),
    )
    .await
    .expect(200);
    assert_eq!(entitled_features(&api, "acme").await, ["export", "sso"]);
    let team = retrieve(&api, &id).await;
    assert_eq!(team["amount"], "15.00");
    assert_eq!(team["currency"], "EUR");
    assert_eq!(team["plan"], json!({"identifier": "team", "name": "team"}));
}
