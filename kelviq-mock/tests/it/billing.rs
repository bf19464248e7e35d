//! Charges, refunds, transactions and payment methods (`kelviq-api.md` sections 4.8–4.11).

use jiff::ToSpan;
use jiff::civil::Date;
use kelviq_mock::{MockServer, SeedCustomer};
use serde_json::{Value, json};

use crate::support::{Api, Reply};

const CHARGES: &str = "/api/v1/charges/";
const REFUNDS: &str = "/api/v1/refunds/";
const TRANSACTIONS: &str = "/api/v1/transaction/";
const PAYMENT_METHODS: &str = "/api/v1/payment-methods/";

/// The default seed plus `buyer`: a saved card and no subscription.
async fn with_buyer() -> Api {
    Api::with(
        MockServer::builder().customer(
            SeedCustomer::new("buyer")
                .email("buyer@shop.example")
                .payment_method(),
        ),
    )
    .await
}

fn charge(customer: &str, plan: &str) -> Value {
    json!({"plan_identifier": plan, "charge_period": "ONE_TIME", "customer_id": customer})
}

/// `charge` with more fields.
fn charge_with(customer: &str, plan: &str, extra: Value) -> Value {
    let mut body = charge(customer, plan);
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

fn results(reply: &Reply) -> &Vec<Value> {
    reply.expect(200)["results"].as_array().unwrap()
}

/// The transactions whose ids, order ids or customer ids contain `search`.
async fn transactions_of(api: &Api, search: &str) -> Vec<Value> {
    let reply = api
        .get(&format!("{TRANSACTIONS}?search={search}&page_size=100"))
        .await;
    results(&reply).clone()
}

/// The order id of the customer's (newest) charge, read from `GET /transaction/`.
async fn charged_order(api: &Api, customer: &str) -> String {
    transactions_of(api, customer)
        .await
        .iter()
        .find(|tx| tx["transactionType"] == "CHARGE")
        .expect("a charge transaction")["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn entitled_features(api: &Api, customer: &str) -> Vec<String> {
    let reply = api
        .edge_get(&format!("/api/v1/entitlements?customer_id={customer}"))
        .await;
    reply.expect(200)["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["featureId"].as_str().unwrap().to_owned())
        .collect()
}

async fn refund(api: &Api, body: Value) -> Value {
    api.post(REFUNDS, body).await.expect(201).clone()
}

/// The UTC date of a `createdOn` value.
fn date_of(created_on: &Value) -> Date {
    created_on.as_str().unwrap()[..10].parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// POST /charges/

#[tokio::test]
async fn charge_buys_the_plan_once_at_its_price_and_grants_its_features() {
    let api = with_buyer().await;
    assert!(
        !entitled_features(&api, "buyer")
            .await
            .contains(&"reports".to_owned())
    );

    let reply = api.post(CHARGES, charge("buyer", "pro")).await;

    let body = reply.expect(201);
    assert_eq!(body["amount"], "49.00");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["billingType"], "ONE_TIME");
    assert_eq!(body["recurrence"], Value::Null);
    assert_eq!(body["customerId"], "buyer");
    assert_eq!(body["trialDaysRemaining"], 0);
    assert_eq!(body["plan"], json!({"name": "Pro", "identifier": "pro"}));
    assert_eq!(body["product"]["identifier"], "pro");
    assert_eq!(body["features"], json!([]));
    assert!(body["id"].is_string());
    assert!(body["startDate"].is_string());
    let transactions = transactions_of(&api, "buyer").await;
    assert_eq!(transactions.len(), 1, "{transactions:?}");
    assert_eq!(transactions[0]["transactionType"], "CHARGE");
    assert_eq!(transactions[0]["amountTotal"], json!(49.0));
    assert_eq!(transactions[0]["order"]["customerId"], "buyer");
    assert_eq!(transactions[0]["order"]["amountUnits"], 4900);
    assert!(
        entitled_features(&api, "buyer")
            .await
            .contains(&"reports".to_owned())
    );
}

#[tokio::test]
async fn charge_with_custom_amount_records_one_order_of_that_amount_and_currency() {
    let api = with_buyer().await;

    let reply = api
        .post(
            CHARGES,
            charge_with(
                "buyer",
                "pro",
                json!({"custom_amount": 12.5, "currency_code": "EUR", "tax_behavior": "INCLUSIVE"}),
            ),
        )
        .await;

    let body = reply.expect(201);
    assert_eq!(body["amount"], "12.50");
    assert_eq!(body["currency"], "EUR");
    let transactions = transactions_of(&api, "buyer").await;
    assert_eq!(transactions.len(), 1, "{transactions:?}");
    assert_eq!(transactions[0]["amountTotal"], json!(12.5));
    assert_eq!(transactions[0]["currency"], "EUR");
    assert_eq!(transactions[0]["currencySymbol"], "€");
    assert_eq!(transactions[0]["order"]["amountUnits"], 1250);
    let order_id = charged_order(&api, "buyer").await;
    let refunded = refund(&api, json!({"order_id": order_id})).await;
    assert_eq!(refunded["amountUnits"], 1250);
    assert_eq!(refunded["currency"], "EUR");
}

#[tokio::test]
async fn charge_of_a_free_plan_makes_an_order_only_for_a_custom_amount() {
    let api = with_buyer().await;

    let free = api.post(CHARGES, charge("buyer", "free")).await;
    assert_eq!(free.expect(201)["amount"], "0.00");
    assert!(transactions_of(&api, "buyer").await.is_empty());

    let custom = api
        .post(
            CHARGES,
            charge_with(
                "buyer",
                "free",
                json!({"custom_amount": 5, "currency_code": "usd"}),
            ),
        )
        .await;
    assert_eq!(custom.expect(201)["amount"], "5.00");
    assert_eq!(custom.body["currency"], "USD");
    let transactions = transactions_of(&api, "buyer").await;
    assert_eq!(transactions.len(), 1, "{transactions:?}");
    assert_eq!(transactions[0]["amountTotal"], json!(5.0));
}

#[tokio::test]
async fn charge_echoes_chosen_features_of_the_plan_and_refuses_others() {
    let api = with_buyer().await;
    let features = json!({"features": [{"identifier": "seats", "quantity": 3}]});

    let reply = api
        .post(CHARGES, charge_with("buyer", "pro", features))
        .await;
    assert_eq!(
        reply.expect(201)["features"],
        json!([{"identifier": "seats", "quantity": 3}])
    );

    let unknown = json!({"features": [{"identifier": "teleport", "quantity": 1}]});
    let reply = api
        .post(CHARGES, charge_with("buyer", "pro", unknown))
        .await;
    assert_eq!(
        reply.field_errors("features"),
        ["Plan pro has no feature \"teleport\"."]
    );
    let zero = json!({"features": [{"identifier": "seats", "quantity": 0}]});
    let reply = api.post(CHARGES, charge_with("buyer", "pro", zero)).await;
    assert_eq!(reply.field_errors("features").len(), 1);
    let extra_key = json!({"features": [{"identifier": "seats", "quantity": 1, "qty": 1}]});
    let reply = api
        .post(CHARGES, charge_with("buyer", "pro", extra_key))
        .await;
    assert_eq!(reply.field_errors("features").len(), 1);
}

#[tokio::test]
async fn charge_refuses_camel_case_fields() {
    let api = with_buyer().await;

    let reply = api
        .post(
            CHARGES,
            json!({"planIdentifier": "pro", "chargePeriod": "ONE_TIME", "customerId": "buyer"}),
        )
        .await;

    for field in ["plan_identifier", "charge_period", "customer_id"] {
        assert_eq!(reply.field_errors(field), ["This field is required."]);
    }
    for field in ["planIdentifier", "chargePeriod", "customerId"] {
        assert_eq!(reply.field_errors(field), ["Unknown field."]);
    }
    assert!(transactions_of(&api, "buyer").await.is_empty());
}

#[tokio::test]
async fn charge_period_must_be_exactly_one_time() {
    let api = with_buyer().await;

    let monthly = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"charge_period": "MONTHLY"})),
        )
        .await;
    assert_eq!(
        monthly.field_errors("charge_period"),
        ["A charge is one-time: chargePeriod must be ONE_TIME, not MONTHLY."]
    );

    let lower = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"charge_period": "one_time"})),
        )
        .await;
    assert_eq!(
        lower.field_errors("charge_period"),
        ["\"one_time\" is not a valid choice."]
    );
    assert!(transactions_of(&api, "buyer").await.is_empty());
}

#[tokio::test]
async fn charge_custom_amount_requires_currency_code() {
    let api = with_buyer().await;

    let reply = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"custom_amount": 10.0})),
        )
        .await;

    assert_eq!(
        reply.field_errors("currency_code"),
        ["currencyCode is required when customAmount is provided."]
    );
    assert!(transactions_of(&api, "buyer").await.is_empty());
}

#[tokio::test]
async fn charge_without_custom_amount_must_use_the_plan_currency() {
    let api = with_buyer().await;

    let eur = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"currency_code": "EUR"})),
        )
        .await;
    assert_eq!(
        eur.field_errors("currency_code"),
        ["Plan pro is not priced in EUR."]
    );

    let usd = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"currency_code": "USD"})),
        )
        .await;
    assert_eq!(usd.expect(201)["amount"], "49.00");
}

#[tokio::test]
async fn charge_rejects_invalid_values() {
    let api = with_buyer().await;
    let cases = [
        (
            json!({"custom_amount": 0, "currency_code": "USD"}),
            "custom_amount",
        ),
        (
            json!({"custom_amount": -5.0, "currency_code": "USD"}),
            "custom_amount",
        ),
        (
            json!({"custom_amount": "12.00", "currency_code": "USD"}),
            "custom_amount",
        ),
        (
            json!({"custom_amount": 0.001, "currency_code": "USD"}),
            "custom_amount",
        ),
        (
            json!({"custom_amount": 1e12, "currency_code": "USD"}),
            "custom_amount",
        ),
        (
            json!({"custom_amount": 1, "currency_code": "US"}),
            "currency_code",
        ),
        (json!({"tax_behavior": "inclusive"}), "tax_behavior"),
        (json!({"tax_behavior": null}), "tax_behavior"),
        (json!({"ip_address": "not-an-ip"}), "ip_address"),
        (json!({"customer_id": null}), "customer_id"),
        (json!({"customer_id": 42}), "customer_id"),
        (json!({"features": {"identifier": "seats"}}), "features"),
        (json!({"coupon": "FREE"}), "coupon"),
    ];
    for (extra, field) in cases {
        let reply = api
            .post(CHARGES, charge_with("buyer", "pro", extra.clone()))
            .await;
        assert_eq!(
            reply.field_errors(field).len(),
            1,
            "{extra}: {}",
            reply.body
        );
    }
    let ok = api
        .post(
            CHARGES,
            charge_with("buyer", "pro", json!({"ip_address": "2001:db8::1"})),
        )
        .await;
    ok.expect(201);
    assert_eq!(transactions_of(&api, "buyer").await.len(), 1);
}

#[tokio::test]
async fn charge_names_an_existing_live_customer_and_plan() {
    let api = with_buyer().await;

    let nobody = api.post(CHARGES, charge("nobody", "pro")).await;
    assert_eq!(nobody.field_errors("customer_id"), ["Customer not found."]);

    let no_plan = api.post(CHARGES, charge("buyer", "platinum")).await;
    assert_eq!(no_plan.field_errors("plan_identifier"), ["Plan not found."]);

    api.delete("/api/v1/customers/buyer/").await.expect(204);
    let archived = api.post(CHARGES, charge("buyer", "pro")).await;
    assert_eq!(
        archived.field_errors("customer_id"),
        ["Customer not found."]
    );
}

#[tokio::test]
async fn charge_needs_a_default_payment_method() {
    let api = Api::start().await;
    let before = transactions_of(&api, "").await.len();

    let reply = api.post(CHARGES, charge("cust_free", "pro")).await;

    assert_eq!(
        reply.expect(400),
        &json!({"detail": "Customer has no default payment method."})
    );
    assert_eq!(transactions_of(&api, "").await.len(), before);
    assert!(
        !entitled_features(&api, "cust_free")
            .await
            .contains(&"reports".to_owned())
    );
}

// ---------------------------------------------------------------------------------------
// POST /refunds/

#[tokio::test]
async fn refund_without_amount_refunds_the_whole_order_once() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;

    let body = refund(&api, json!({"order_id": order_id})).await;

    assert_eq!(body["amountUnits"], 4900);
    assert_eq!(body["amount"], json!(49.0));
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["reason"], Value::Null);
    assert_eq!(body["internalNote"], Value::Null);
    assert_eq!(body["failureReason"], Value::Null);
    assert_eq!(body["order"]["id"], order_id.as_str());
    assert_eq!(body["order"]["refundedUnits"], 4900);
    assert!(body["id"].is_string());

    let again = api.post(REFUNDS, json!({"order_id": order_id})).await;
    assert_eq!(
        again.field_errors("order_id"),
        ["The order has already been fully refunded."]
    );
    let list = api.get(REFUNDS).await;
    assert_eq!(list.expect(200)["count"], 1);
}

#[tokio::test]
async fn partial_refunds_add_up_to_the_order_amount() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;

    let first = refund(&api, json!({"order_id": order_id, "amount_units": 1000})).await;
    assert_eq!(first["amountUnits"], 1000);
    let second = refund(&api, json!({"order_id": order_id, "amount": 15.0})).await;
    assert_eq!(second["amountUnits"], 1500);
    assert_eq!(second["amount"], json!(15.0));
    assert_eq!(second["order"]["refundedUnits"], 2500);
    let rest = refund(&api, json!({"order_id": order_id})).await;
    assert_eq!(rest["amountUnits"], 2400);

    let more = api
        .post(REFUNDS, json!({"order_id": order_id, "amount_units": 1}))
        .await;
    assert_eq!(
        more.field_errors("order_id"),
        ["The order has already been fully refunded."]
    );
}

#[tokio::test]
async fn refund_above_the_refundable_balance_is_refused() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;
    refund(&api, json!({"order_id": order_id, "amount_units": 900})).await;

    let units = api
        .post(REFUNDS, json!({"order_id": order_id, "amount_units": 4001}))
        .await;
    assert_eq!(
        units.field_errors("amount_units"),
        ["Ensure this value is less than or equal to 4000, the order's refundable balance."]
    );
    let amount = api
        .post(REFUNDS, json!({"order_id": order_id, "amount": 40.01}))
        .await;
    assert_eq!(
        amount.field_errors("amount"),
        ["Ensure this value is less than or equal to 40.00, the order's refundable balance."]
    );

    let exact = refund(&api, json!({"order_id": order_id, "amount": 40.0})).await;
    assert_eq!(exact["amountUnits"], 4000);
    assert_eq!(api.get(REFUNDS).await.expect(200)["count"], 2);
}

#[tokio::test]
async fn refund_amounts_given_together_must_agree() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;

    let disagree = api
        .post(
            REFUNDS,
            json!({"order_id": order_id, "amount_units": 1000, "amount": 9.99}),
        )
        .await;
    assert_eq!(disagree.field_errors("non_field_errors").len(), 1);
    assert_eq!(api.get(REFUNDS).await.expect(200)["count"], 0);

    let agree = refund(
        &api,
        json!({"order_id": order_id, "amount_units": 1000, "amount": 10.0}),
    )
    .await;
    assert_eq!(agree["amountUnits"], 1000);
}

#[tokio::test]
async fn refund_keeps_reason_and_note_and_records_a_negative_transaction() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;

    let body = refund(
        &api,
        json!({
            "order_id": order_id,
            "amount_units": 1000,
            "reason": "REQUESTED_BY_CUSTOMER",
            "internal_note": "goodwill",
        }),
    )
    .await;

    assert_eq!(body["reason"], "REQUESTED_BY_CUSTOMER");
    assert_eq!(body["internalNote"], "goodwill");
    let transactions = transactions_of(&api, &order_id).await;
    assert_eq!(transactions.len(), 2, "{transactions:?}");
    let refund_tx = &transactions[0];
    assert_eq!(refund_tx["transactionType"], "REFUND");
    assert_eq!(refund_tx["status"], "success");
    assert_eq!(refund_tx["amountTotal"], json!(-10.0));
    assert_eq!(refund_tx["morFee"], json!(0.0));
    assert_eq!(refund_tx["netPayout"], json!(-10.0));
    assert_eq!(refund_tx["morFeeBreakdown"], json!([]));
    assert_eq!(refund_tx["availableOn"], Value::Null);
    assert_eq!(refund_tx["order"]["id"], order_id.as_str());
    assert_eq!(refund_tx["order"]["refundedUnits"], 1000);
    assert_eq!(transactions[1]["transactionType"], "CHARGE");
}

#[tokio::test]
async fn refund_body_is_strict() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;

    let camel = api.post(REFUNDS, json!({"orderId": order_id})).await;
    assert_eq!(camel.field_errors("order_id"), ["This field is required."]);
    assert_eq!(camel.field_errors("orderId"), ["Unknown field."]);

    let cases = [
        (json!({"amount_units": 0}), "amount_units"),
        (json!({"amount_units": 10.5}), "amount_units"),
        (json!({"amount_units": "100"}), "amount_units"),
        (json!({"amountUnits": 100}), "amountUnits"),
        (json!({"amount": 0}), "amount"),
        (json!({"amount": -1.5}), "amount"),
        (json!({"amount": null}), "amount"),
        (json!({"reason": "DASHBOARD_INITIATED"}), "reason"),
        (json!({"reason": "duplicate"}), "reason"),
        (json!({"internal_note": 7}), "internal_note"),
        (json!({"order_id": null}), "order_id"),
        (json!({"order_id": ""}), "order_id"),
        (json!({"order_id": "no-such-order"}), "order_id"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"order_id": order_id});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let reply = api.post(REFUNDS, body).await;
        assert_eq!(
            reply.field_errors(field).len(),
            1,
            "{extra}: {}",
            reply.body
        );
    }
    let unknown = api
        .post(REFUNDS, json!({"order_id": "no-such-order"}))
        .await;
    assert_eq!(unknown.field_errors("order_id"), ["Order not found."]);
    assert_eq!(api.get(REFUNDS).await.expect(200)["count"], 0);
}

// ---------------------------------------------------------------------------------------
// GET /refunds/ and /refunds/{id}/

#[tokio::test]
async fn refund_is_retrievable_by_id_and_unknown_ids_are_404() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;
    let created = refund(&api, json!({"order_id": order_id, "amount_units": 100})).await;
    let id = created["id"].as_str().unwrap();

    let fetched = api.get(&format!("{REFUNDS}{id}/")).await;
    assert_eq!(fetched.expect(200), &created);

    for unknown in ["no-such-refund", "a%2Fb", "a%20b"] {
        let reply = api.get(&format!("{REFUNDS}{unknown}/")).await;
        assert_eq!(
            reply.expect(404),
            &json!({"detail": "Not found."}),
            "{unknown}"
        );
    }
}

/// A mock whose pro order has three refunds: notes `first`, `second`, `third`.
async fn with_three_refunds() -> (Api, Vec<Value>) {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;
    let mut refunds = Vec::new();
    for note in ["first", "second", "third"] {
        let body = json!({"order_id": order_id, "amount_units": 100, "internal_note": note});
        refunds.push(refund(&api, body).await);
    }
    (api, refunds)
}

fn ids(reply: &Reply) -> Vec<String> {
    results(reply)
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn refund_list_is_newest_first_and_filters() {
    let (api, refunds) = with_three_refunds().await;
    let id = |index: usize| refunds[index]["id"].as_str().unwrap().to_owned();
    let today = date_of(&refunds[0]["createdOn"]);
    let tomorrow = today.checked_add(1.day()).unwrap();
    let yesterday = today.checked_sub(1.day()).unwrap();

    let all = api.get(REFUNDS).await;
    assert_eq!(all.body["count"], 3);
    assert_eq!(ids(&all), [id(2), id(1), id(0)]);

    let by_note = api.get(&format!("{REFUNDS}?search=SEC")).await;
    assert_eq!(ids(&by_note), [id(1)]);
    let by_id = api.get(&format!("{REFUNDS}?search={}", id(0))).await;
    assert_eq!(ids(&by_id), [id(0)]);
    let by_order = api
        .get(&format!(
            "{REFUNDS}?search={}",
            refunds[0]["order"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_order.body["count"], 3);

    let succeeded = api.get(&format!("{REFUNDS}?status=SUCCEEDED")).await;
    assert_eq!(succeeded.expect(200)["count"], 3);
    let failed = api.get(&format!("{REFUNDS}?status=FAILED")).await;
    assert_eq!(failed.expect(200)["count"], 0);

    let in_range = api
        .get(&format!("{REFUNDS}?start_date={today}&end_date={today}"))
        .await;
    assert_eq!(in_range.expect(200)["count"], 3);
    let from_tomorrow = api.get(&format!("{REFUNDS}?start_date={tomorrow}")).await;
    assert_eq!(from_tomorrow.expect(200)["count"], 0);
    let until_yesterday = api.get(&format!("{REFUNDS}?end_date={yesterday}")).await;
    assert_eq!(until_yesterday.expect(200)["count"], 0);
}

#[tokio::test]
async fn refund_list_query_is_strict() {
    let (api, _) = with_three_refunds().await;
    let cases = [
        ("status=succeeded", "status"),
        ("status=REFUNDED", "status"),
        ("start_date=2025-1-02", "start_date"),
        ("end_date=tomorrow", "end_date"),
        ("startDate=2025-01-02", "startDate"),
        ("order_id=x", "order_id"),
        ("page_size=0", "page_size"),
    ];
    for (query, field) in cases {
        let reply = api.get(&format!("{REFUNDS}?{query}")).await;
        assert_eq!(
            reply.field_errors(field).len(),
            1,
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn refund_list_paginates_with_absolute_links() {
    let (api, refunds) = with_three_refunds().await;
    let base = format!("{}{REFUNDS}", api.mock.url());

    let first = api.get(&format!("{REFUNDS}?page_size=2")).await;
    assert_eq!(first.expect(200)["count"], 3);
    assert_eq!(results(&first).len(), 2);
    assert_eq!(first.body["previous"], Value::Null);
    assert_eq!(first.body["next"], format!("{base}?page_size=2&page=2"));

    let second = api.get(&format!("{REFUNDS}?page_size=2&page=2")).await;
    assert_eq!(ids(&second), [refunds[0]["id"].as_str().unwrap()]);
    assert_eq!(second.body["next"], Value::Null);
    assert_eq!(second.body["previous"], format!("{base}?page_size=2"));

    for page in ["3", "0", "x"] {
        let reply = api.get(&format!("{REFUNDS}?page_size=2&page={page}")).await;
        assert_eq!(
            reply.expect(404),
            &json!({"detail": "Invalid page."}),
            "{page}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// GET /transaction/

#[tokio::test]
async fn transactions_show_the_seeded_charge_with_fees_and_card() {
    let api = Api::start().await;

    let reply = api.get(TRANSACTIONS).await;

    assert_eq!(reply.expect(200)["count"], 1);
    let tx = &results(&reply)[0];
    assert!(tx["id"].is_string());
    assert!(tx["createdOn"].is_string());
    assert_eq!(tx["currency"], "USD");
    assert_eq!(tx["currencySymbol"], "$");
    assert_eq!(tx["amountTotal"], json!(49.0));
    assert_eq!(tx["morFee"], json!(2.95));
    assert_eq!(tx["collectedTax"], json!(0.0));
    assert_eq!(tx["netPayout"], json!(46.05));
    assert_eq!(tx["status"], "success");
    assert_eq!(tx["transactionType"], "CHARGE");
    assert_eq!(tx["paymentMethodType"], "card");
    assert_eq!(tx["isSettled"], false);
    assert!(tx["availableOn"].is_string());
    assert_eq!(tx["paymentMethodName"], "Visa");
    assert_eq!(tx["last4"], "4242");
    assert_eq!(
        tx["morFeeBreakdown"],
        json!([
            {"name": "base_fee", "percentage": "5.00", "valueUnits": 245, "currency": "USD"},
            {"name": "fixed_fee", "percentage": null, "valueUnits": 50, "currency": "USD"},
        ])
    );
    assert_eq!(tx["order"]["customerId"], "cust_pro");
    assert_eq!(tx["order"]["amountUnits"], 4900);
    assert_eq!(tx["order"]["currency"], "USD");
    assert!(tx["order"]["id"].is_string());
}

#[tokio::test]
async fn transactions_filter_by_status_search_and_date() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;
    refund(&api, json!({"order_id": order_id, "amount_units": 100})).await;
    let all = api.get(TRANSACTIONS).await;
    let today = date_of(&results(&all)[0]["createdOn"]);
    let tomorrow = today.checked_add(1.day()).unwrap();

    let types: Vec<&Value> = results(&all)
        .iter()
        .map(|tx| &tx["transactionType"])
        .collect();
    assert_eq!(types, ["REFUND", "CHARGE"]);
    let success = api.get(&format!("{TRANSACTIONS}?status=success")).await;
    assert_eq!(success.expect(200)["count"], 2);
    let failure = api.get(&format!("{TRANSACTIONS}?status=failure")).await;
    assert_eq!(failure.expect(200)["count"], 0);
    let by_customer = api.get(&format!("{TRANSACTIONS}?search=CUST_PRO")).await;
    assert_eq!(by_customer.expect(200)["count"], 2);
    let by_nobody = api.get(&format!("{TRANSACTIONS}?search=cust_free")).await;
    assert_eq!(by_nobody.expect(200)["count"], 0);
    let charge_id = results(&all)[1]["id"].as_str().unwrap();
    let by_id = api.get(&format!("{TRANSACTIONS}?search={charge_id}")).await;
    assert_eq!(ids(&by_id), [charge_id]);
    let in_range = api
        .get(&format!(
            "{TRANSACTIONS}?start_date={today}&end_date={today}"
        ))
        .await;
    assert_eq!(in_range.expect(200)["count"], 2);
    let from_tomorrow = api
        .get(&format!("{TRANSACTIONS}?start_date={tomorrow}"))
        .await;
    assert_eq!(from_tomorrow.expect(200)["count"], 0);

    for (query, field) in [
        ("status=SUCCESS", "status"),
        ("status=succeeded", "status"),
        ("start_date=20250102", "start_date"),
        ("transaction_type=CHARGE", "transaction_type"),
    ] {
        let reply = api.get(&format!("{TRANSACTIONS}?{query}")).await;
        assert_eq!(
            reply.field_errors(field).len(),
            1,
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn transactions_paginate() {
    let api = Api::start().await;
    let order_id = charged_order(&api, "cust_pro").await;
    refund(&api, json!({"order_id": order_id, "amount_units": 100})).await;
    let base = format!("{}{TRANSACTIONS}", api.mock.url());

    let first = api
        .get(&format!("{TRANSACTIONS}?status=success&page_size=1"))
        .await;
    assert_eq!(results(&first).len(), 1);
    assert_eq!(
        first.body["next"],
        format!("{base}?status=success&page_size=1&page=2")
    );
    let second = api
        .get(&format!("{TRANSACTIONS}?status=success&page_size=1&page=2"))
        .await;
    assert_eq!(results(&second)[0]["transactionType"], "CHARGE");
    assert_eq!(
        second.body["previous"],
        format!("{base}?status=success&page_size=1")
    );
    let past = api.get(&format!("{TRANSACTIONS}?page_size=1&page=3")).await;
    assert_eq!(past.expect(404), &json!({"detail": "Invalid page."}));
}

// ---------------------------------------------------------------------------------------
// GET /payment-methods/

#[tokio::test]
async fn payment_methods_list_saved_cards() {
    let api = Api::start().await;

    let reply = api.get(PAYMENT_METHODS).await;

    assert_eq!(reply.expect(200)["count"], 1);
    let method = &results(&reply)[0];
    assert!(method["id"].is_i64(), "{method}");
    assert_eq!(
        method["customer"],
        json!({
            "customerId": "cust_pro",
            "name": "Pro Inc",
            "email": "owner@pro.example",
            "billingAddress": null,
        })
    );
    assert_eq!(method["methodType"], "card");
    assert_eq!(method["methodData"]["brand"], "visa");
    assert_eq!(method["methodData"]["last4"], "4242");
    assert!(method["methodData"]["expMonth"].is_i64());
    assert!(method["methodData"]["expYear"].is_i64());
    assert_eq!(method["isDefault"], true);
    assert_eq!(method["status"], "succeeded");
    assert!(method["createdOn"].is_string());
    assert!(method["modifiedOn"].is_string());
}

#[tokio::test]
async fn payment_methods_filter_by_customer_id_or_email() {
    let api = with_buyer().await;
    let customers = |reply: &Reply| -> Vec<String> {
        results(reply)
            .iter()
            .map(|method| {
                method["customer"]["customerId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };

    let all = api.get(PAYMENT_METHODS).await;
    assert_eq!(customers(&all), ["cust_pro", "buyer"]);
    let by_id = api
        .get(&format!("{PAYMENT_METHODS}?customer_id=buyer"))
        .await;
    assert_eq!(customers(&by_id), ["buyer"]);
    let by_email = api
        .get(&format!(
            "{PAYMENT_METHODS}?customer_email=OWNER%40pro.example"
        ))
        .await;
    assert_eq!(customers(&by_email), ["cust_pro"]);
    let both = api
        .get(&format!(
            "{PAYMENT_METHODS}?customer_id=buyer&customer_email=owner%40pro.example"
        ))
        .await;
    assert!(customers(&both).is_empty());
    let without_card = api
        .get(&format!("{PAYMENT_METHODS}?customer_id=cust_free"))
        .await;
    assert!(customers(&without_card).is_empty());

    let paged = api
        .get(&format!("{PAYMENT_METHODS}?page_size=1&page=2"))
        .await;
    assert_eq!(customers(&paged), ["buyer"]);
    let past = api
        .get(&format!("{PAYMENT_METHODS}?page_size=1&page=3"))
        .await;
    assert_eq!(past.expect(404), &json!({"detail": "Invalid page."}));
    let camel = api
        .get(&format!("{PAYMENT_METHODS}?customerId=buyer"))
        .await;
    assert_eq!(
        camel.field_errors("customerId"),
        ["Unknown query parameter."]
    );
}

#[tokio::test]
async fn payment_methods_of_archived_customers_are_hidden() {
    let api = Api::start().await;

    api.delete("/api/v1/customers/cust_pro/").await.expect(204);

    let reply = api.get(PAYMENT_METHODS).await;
    assert_eq!(reply.expect(200)["count"], 0);
    let charge = api.post(CHARGES, charge("cust_pro", "pro")).await;
    assert_eq!(charge.field_errors("customer_id"), ["Customer not found."]);
}
