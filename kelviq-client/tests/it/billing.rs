//! `kelviq.charges()`, `.refunds()`, `.transactions()` and `.payment_methods()` against the
//! mock.

use kelviq_client::models::{
    FeatureQuantity, PaymentMethodStatus, RecordedRefundReason, Refund, RefundReason, RefundStatus,
    TaxBehavior, Transaction, TransactionStatus, TransactionType,
};
use kelviq_client::{
    CreateCharge, CreateRefund, Error, ListPaymentMethods, ListRefunds, ListTransactions,
};
use kelviq_mock::{Fault, FaultRule, MockServer, Route, SeedCustomer};
use serde_json::json;

use crate::support::Setup;

/// The default seed (`cust_pro` has a saved card and one paid order, `cust_free` neither)
/// plus `buyer`: a saved card and no order.
async fn with_buyer() -> Setup {
    Setup::with(
        MockServer::builder().customer(
            SeedCustomer::new("buyer")
                .email("buyer@shop.example")
                .payment_method(),
        ),
    )
    .await
}

/// The transactions whose ids, order ids or customer ids contain `search`, newest first.
async fn transactions_of(setup: &Setup, search: &str) -> Vec<Transaction> {
    setup
        .kelviq
        .transactions()
        .list(ListTransactions::new().search(search).page_size(100))
        .await
        .unwrap()
        .results
}

/// The order id of the customer's newest charge.
async fn charged_order(setup: &Setup, customer_id: &str) -> String {
    transactions_of(setup, customer_id)
        .await
        .iter()
        .find(|tx| tx.transaction_type == TransactionType::Charge)
        .and_then(Transaction::order_id)
        .expect("a charge with an order")
        .to_owned()
}

/// Asserts that `error` is a validation error of `field`.
fn assert_refused(error: &Error, field: &str) {
    match error {
        Error::Validation { field: refused, .. } => assert_eq!(*refused, field, "{error}"),
        other => panic!("expected a validation error of {field}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// charges

#[tokio::test]
async fn charge_sends_every_key_snake_case_in_order_and_returns_the_typed_charge() {
    let setup = with_buyer().await;
    let charge = setup
        .kelviq
        .charges()
        .create(
            CreateCharge::new("pro", "buyer")
                .features([FeatureQuantity::new("seats", 5)])
                .currency_code("USD")
                .custom_amount(19.99)
                .tax_behavior(TaxBehavior::Exclusive)
                .ip_address("2001:db8::7"),
        )
        .await
        .unwrap();

    let sent = setup.mock.requests(Route::ChargesCreate).pop().unwrap();
    assert_eq!(sent.path, "/api/v1/charges/");
    assert_eq!(
        sent.json().unwrap(),
        json!({
            "plan_identifier": "pro", "charge_period": "ONE_TIME", "customer_id": "buyer",
            "features": [{"identifier": "seats", "quantity": 5}], "currency_code": "USD",
            "custom_amount": 19.99, "tax_behavior": "EXCLUSIVE", "ip_address": "2001:db8::7"
        })
    );
    let body = String::from_utf8(sent.body.to_vec()).unwrap();
    let positions: Vec<usize> = [
        "plan_identifier",
        "charge_period",
        "customer_id",
        "features",
        "currency_code",
        "custom_amount",
        "tax_behavior",
        "ip_address",
    ]
    .iter()
    .map(|key| body.find(&format!("\"{key}\"")).unwrap())
    .collect();
    assert!(positions.is_sorted(), "keys out of order: {body}");

    assert_eq!(charge.amount.as_deref(), Some("19.99"));
    assert_eq!(charge.currency.as_deref(), Some("USD"));
    assert_eq!(charge.customer_id.as_deref(), Some("buyer"));
    assert_eq!(charge.billing_type.as_deref(), Some("ONE_TIME"));
    assert_eq!(charge.trial_days_remaining, Some(0));
    assert_eq!(charge.recurrence, None);
    assert!(charge.id.is_some());
    let plan = charge.plan.unwrap();
    assert_eq!(
        (plan.identifier.as_deref(), plan.name.as_deref()),
        (Some("pro"), Some("Pro"))
    );
    assert_eq!(charge.product.unwrap().identifier.as_deref(), Some("pro"));
    assert_eq!(
        charge.features,
        [json!({"identifier": "seats", "quantity": 5})]
    );

    let charges = transactions_of(&setup, "buyer").await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount_total, 19.99);
}

#[tokio::test]
async fn charge_at_the_plan_price_sends_only_the_required_keys() {
    let setup = Setup::start().await;
    let charge = setup
        .kelviq
        .charges()
        .create(CreateCharge::new("pro", "cust_pro"))
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::ChargesCreate)[0].json().unwrap(),
        json!({"plan_identifier": "pro", "charge_period": "ONE_TIME", "customer_id": "cust_pro"})
    );
    assert_eq!(charge.amount.as_deref(), Some("49.00"));
    assert!(charge.features.is_empty());
}

#[tokio::test]
async fn charge_parameters_are_checked_before_any_request() {
    let setup = Setup::start().await;
    let charges = setup.kelviq.charges();
    let usd = |amount: f64| {
        CreateCharge::new("pro", "cust_pro")
            .currency_code("USD")
            .custom_amount(amount)
    };
    let cases = [
        (CreateCharge::new("", "cust_pro"), "plan_identifier"),
        (CreateCharge::new("pro", ""), "customer_id"),
        (
            CreateCharge::new("pro", "cust_pro").custom_amount(10.0),
            "currency_code",
        ),
        (usd(0.0), "custom_amount"),
        (usd(-1.0), "custom_amount"),
        (usd(f64::NAN), "custom_amount"),
        (usd(f64::INFINITY), "custom_amount"),
        (
            CreateCharge::new("pro", "cust_pro").currency_code("US"),
            "currency_code",
        ),
        (
            CreateCharge::new("pro", "cust_pro").ip_address("10.0.0.300"),
            "ip_address",
        ),
        (
            CreateCharge::new("pro", "cust_pro").features([FeatureQuantity::new("", 1)]),
            "features",
        ),
    ];
    for (params, field) in cases {
        let error = charges.create(params).await.unwrap_err();
        assert_refused(&error, field);
    }
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn charge_of_a_customer_without_a_saved_card_is_a_bad_request() {
    let setup = Setup::start().await;
    let error = setup
        .kelviq
        .charges()
        .create(CreateCharge::new("pro", "cust_free"))
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(400));
    assert_eq!(
        error.as_api().unwrap().detail(),
        Some("Customer has no default payment method.")
    );
}

#[tokio::test]
async fn charge_whose_outcome_is_unknown_is_not_replayed() {
    let setup = with_buyer().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ChargesCreate));
    let error = setup
        .kelviq
        .charges()
        .create(CreateCharge::new("pro", "buyer"))
        .await
        .unwrap_err();
    assert!(!error.is_not_processed(), "{error:?}");
    assert_eq!(setup.mock.calls(Route::ChargesCreate), 1);
    assert_eq!(transactions_of(&setup, "buyer").await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// refunds and transactions

#[tokio::test]
async fn a_charge_and_a_refund_of_its_order_show_in_transactions() {
    let setup = with_buyer().await;
    setup
        .kelviq
        .charges()
        .create(CreateCharge::new("pro", "buyer"))
        .await
        .unwrap();
    let order_id = charged_order(&setup, "buyer").await;

    let refund = setup
        .kelviq
        .refunds()
        .create(
            CreateRefund::new(&order_id)
                .amount_units(1000)
                .amount(10.0)
                .reason(RefundReason::Duplicate)
                .internal_note("double click"),
        )
        .await
        .unwrap();

    let sent = setup.mock.requests(Route::RefundsCreate).pop().unwrap();
    assert_eq!(
        sent.json().unwrap(),
        json!({"order_id": order_id, "amount_units": 1000, "amount": 10.0,
               "reason": "DUPLICATE", "internal_note": "double click"})
    );
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.reason, Some(RecordedRefundReason::Duplicate));
    assert_eq!(refund.reason, Some(RefundReason::Duplicate.into()));
    assert_eq!((refund.amount_units, refund.amount), (1000, 10.0));
    assert_eq!(refund.internal_note.as_deref(), Some("double click"));
    assert_eq!(refund.failure_reason, None);
    assert_eq!(refund.order_id(), Some(order_id.as_str()));

    let transactions = transactions_of(&setup, "buyer").await;
    let kinds: Vec<&TransactionType> = transactions.iter().map(|tx| &tx.transaction_type).collect();
    assert_eq!(kinds, [&TransactionType::Refund, &TransactionType::Charge]);
    assert_eq!(transactions[0].amount_total, -10.0);
    assert_eq!(transactions[0].order_id(), Some(order_id.as_str()));
    assert_eq!(transactions[0].status, TransactionStatus::Success);
    let charge = &transactions[1];
    assert_eq!(charge.amount_total, 49.0);
    assert_eq!(charge.currency, "USD");
    assert_eq!(charge.currency_symbol, "$");
    assert_eq!(charge.payment_method_name.as_deref(), Some("Visa"));
    assert_eq!(charge.last4.as_deref(), Some("4242"));
    assert!(!charge.is_settled);
    let fees: Vec<(&str, i64)> = charge
        .mor_fee_breakdown
        .iter()
        .map(|fee| (fee.name.as_str(), fee.value_units))
        .collect();
    assert_eq!(fees, [("base_fee", 245), ("fixed_fee", 50)]);
    assert_eq!(charge.mor_fee, 2.95);
    assert_eq!(charge.net_payout, 46.05);

    let sent = setup.mock.requests(Route::TransactionsList).pop().unwrap();
    assert_eq!(sent.path, "/api/v1/transaction/");
    assert_eq!(sent.query.as_deref(), Some("search=buyer&page_size=100"));
}

#[tokio::test]
async fn a_refund_without_an_amount_refunds_the_whole_order_and_only_once() {
    let setup = Setup::start().await;
    let order_id = charged_order(&setup, "cust_pro").await;
    let refunds = setup.kelviq.refunds();
    let refund = refunds.create(CreateRefund::new(&order_id)).await.unwrap();
    assert_eq!(
        setup.mock.requests(Route::RefundsCreate)[0].json().unwrap(),
        json!({"order_id": order_id})
    );
    assert_eq!(refund.amount_units, 4900);
    assert_eq!(refund.reason, None);

    let again = refunds
        .create(CreateRefund::new(&order_id))
        .await
        .unwrap_err();
    let api = again.as_api().unwrap();
    assert_eq!(api.status.as_u16(), 400);
    assert_eq!(
        api.field_errors(),
        [(
            "order_id",
            vec!["The order has already been fully refunded."]
        )]
    );
}

#[tokio::test]
async fn refunds_are_retrieved_by_id_and_ids_stay_one_segment() {
    let setup = Setup::start().await;
    let order_id = charged_order(&setup, "cust_pro").await;
    let refunds = setup.kelviq.refunds();
    let created = refunds
        .create(CreateRefund::new(order_id).amount(1.5))
        .await
        .unwrap();

    let fetched = refunds.retrieve(&created.id).await.unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched.amount_units, 150);
    let sent = setup.mock.requests(Route::RefundsRetrieve).pop().unwrap();
    assert_eq!(sent.path, format!("/api/v1/refunds/{}/", created.id));

    let error = refunds.retrieve("no such refund").await.unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));

    let error = refunds.retrieve("../r/1?x=#").await.unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
    let sent = setup.mock.requests(Route::RefundsRetrieve).pop().unwrap();
    assert_eq!(sent.path, "/api/v1/refunds/..%2Fr%2F1%3Fx%3D%23/");
    assert_eq!(sent.query, None);
    assert_eq!(sent.path_params(), ["../r/1?x=#"]);
}

/// Three partial refunds of `cust_pro`'s order (1.00, 2.00, 3.00, the last one `OTHER`),
/// returned newest first.
async fn three_refunds(setup: &Setup) -> (String, Vec<Refund>) {
    let order_id = charged_order(setup, "cust_pro").await;
    let mut made = Vec::new();
    for units in [100, 200, 300] {
        let mut params = CreateRefund::new(&order_id).amount_units(units);
        if units == 300 {
            params = params.reason(RefundReason::Other).internal_note("note-300");
        }
        made.push(setup.kelviq.refunds().create(params).await.unwrap());
    }
    made.reverse();
    (order_id, made)
}

/// The ids of `refunds`, in order (a refund's embedded order changes as it is refunded).
fn ids(refunds: &[Refund]) -> Vec<&str> {
    refunds.iter().map(|refund| refund.id.as_str()).collect()
}

#[tokio::test]
async fn refund_list_sends_filters_in_order_and_paginates() {
    let setup = Setup::start().await;
    let (order_id, made) = three_refunds(&setup).await;
    let today = &made[0].created_on.as_deref().unwrap()[..10];
    let refunds = setup.kelviq.refunds();

    let all = refunds.list(ListRefunds::new()).await.unwrap();
    assert_eq!(all.count, 3);
    assert_eq!(ids(&all.results), ids(&made));
    assert_eq!(setup.mock.requests(Route::RefundsList)[0].query, None);

    let filtered = refunds
        .list(
            ListRefunds::new()
                .page(1)
                .page_size(2)
                .end_date(today)
                .start_date(today)
                .status(RefundStatus::Succeeded)
                .search(&order_id),
        )
        .await
        .unwrap();
    let sent = setup.mock.requests(Route::RefundsList).pop().unwrap();
    assert_eq!(
        sent.query,
        Some(format!(
            "search={order_id}&status=SUCCEEDED&start_date={today}&end_date={today}&page_size=2&page=1"
        ))
    );
    assert_eq!(filtered.count, 3);
    assert_eq!(ids(&filtered.results), ids(&made[..2]));
    assert!(filtered.has_next());
    assert_eq!(filtered.previous, None);

    let second = refunds
        .list(ListRefunds::new().page_size(2).page(2))
        .await
        .unwrap();
    assert_eq!(ids(&second.results), ids(&made[2..]));
    assert!(!second.has_next());
    assert!(second.previous.is_some());

    let noted = refunds
        .list(ListRefunds::new().search("NOTE-300"))
        .await
        .unwrap();
    assert_eq!(ids(&noted.results), ids(&made[..1]));
    assert_eq!(noted.results[0].reason, Some(RecordedRefundReason::Other));
    let failed = refunds
        .list(ListRefunds::new().status(RefundStatus::Failed))
        .await
        .unwrap();
    assert_eq!(failed.count, 0);
    let before = refunds
        .list(ListRefunds::new().end_date("2000-01-01"))
        .await
        .unwrap();
    assert_eq!(before.count, 0);

    let odd = refunds
        .list(ListRefunds::new().search("a b&c=d+e"))
        .await
        .unwrap();
    assert_eq!(odd.count, 0);
    let sent = setup.mock.requests(Route::RefundsList).pop().unwrap();
    assert_eq!(
        sent.query_pairs(),
        [("search".to_owned(), "a b&c=d+e".to_owned())]
    );
}

#[tokio::test]
async fn refund_parameters_are_checked_before_any_request() {
    let setup = Setup::start().await;
    let refunds = setup.kelviq.refunds();
    let creates = [
        (CreateRefund::new(""), "order_id"),
        (CreateRefund::new("o").amount_units(0), "amount_units"),
        (CreateRefund::new("o").amount_units(-5), "amount_units"),
        (CreateRefund::new("o").amount(0.0), "amount"),
        (CreateRefund::new("o").amount(-2.5), "amount"),
        (CreateRefund::new("o").amount(f64::NAN), "amount"),
        (CreateRefund::new("o").amount(f64::NEG_INFINITY), "amount"),
    ];
    for (params, field) in creates {
        assert_refused(&refunds.create(params).await.unwrap_err(), field);
    }
    for (id, field) in [("", "refund_id"), ("..", "refund_id"), (".", "refund_id")] {
        assert_refused(&refunds.retrieve(id).await.unwrap_err(), field);
    }
    let lists = [
        (ListRefunds::new().start_date("2025-1-01"), "start_date"),
        (ListRefunds::new().end_date("2025-02-30"), "end_date"),
        (
            ListRefunds::new().end_date("2025-01-01T00:00:00"),
            "end_date",
        ),
        (
            ListRefunds::new()
                .start_date("2025-03-02")
                .end_date("2025-03-01"),
            "start_date",
        ),
        (ListRefunds::new().status(RefundStatus::from("")), "status"),
        (ListRefunds::new().page(0), "page"),
        (ListRefunds::new().page_size(0), "page_size"),
    ];
    for (params, field) in lists {
        assert_refused(&refunds.list(params).await.unwrap_err(), field);
    }
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn transaction_list_filters_by_typed_status_and_date_and_paginates() {
    let setup = Setup::start().await;
    let order_id = charged_order(&setup, "cust_pro").await;
    setup
        .kelviq
        .refunds()
        .create(CreateRefund::new(&order_id).amount_units(100))
        .await
        .unwrap();
    let transactions = setup.kelviq.transactions();

    let first = transactions
        .list(ListTransactions::new().page_size(1))
        .await
        .unwrap();
    assert_eq!(first.count, 2);
    assert_eq!(first.results.len(), 1);
    assert_eq!(first.results[0].transaction_type, TransactionType::Refund);
    assert!(first.has_next());
    let today = first.results[0].created_on[..10].to_owned();
    let second = transactions
        .list(ListTransactions::new().page_size(1).page(2))
        .await
        .unwrap();
    assert_eq!(second.results[0].transaction_type, TransactionType::Charge);
    assert!(!second.has_next());

    let success = transactions
        .list(
            ListTransactions::new()
                .status(TransactionStatus::Success)
                .start_date(&today)
                .end_date(&today),
        )
        .await
        .unwrap();
    assert_eq!(success.count, 2);
    let sent = setup.mock.requests(Route::TransactionsList).pop().unwrap();
    assert_eq!(
        sent.query,
        Some(format!(
            "status=success&start_date={today}&end_date={today}"
        ))
    );
    for status in [TransactionStatus::Failure, TransactionStatus::Pending] {
        let none = transactions
            .list(ListTransactions::new().status(status))
            .await
            .unwrap();
        assert_eq!(none.count, 0);
    }
    let later = transactions
        .list(ListTransactions::new().start_date("2999-01-01"))
        .await
        .unwrap();
    assert_eq!(later.count, 0);

    setup.mock.clear_journal();
    for (params, field) in [
        (
            ListTransactions::new().start_date("01/02/2025"),
            "start_date",
        ),
        (ListTransactions::new().page_size(0), "page_size"),
        (
            ListTransactions::new().status(TransactionStatus::from("")),
            "status",
        ),
    ] {
        assert_refused(&transactions.list(params).await.unwrap_err(), field);
    }
    assert!(setup.mock.journal().is_empty());
}

// ---------------------------------------------------------------------------------------
// payment methods

#[tokio::test]
async fn payment_methods_are_listed_and_filtered_by_customer() {
    let setup = with_buyer().await;
    let methods = setup.kelviq.payment_methods();

    let all = methods.list(ListPaymentMethods::new()).await.unwrap();
    assert_eq!(all.count, 2);
    let owners: Vec<&str> = all
        .results
        .iter()
        .map(|method| method.customer.customer_id.as_str())
        .collect();
    assert_eq!(owners, ["cust_pro", "buyer"]);
    let pro = &all.results[0];
    assert_eq!(pro.id, 1);
    assert_eq!(pro.method_type, "card");
    assert_eq!(pro.status, PaymentMethodStatus::Succeeded);
    assert!(pro.is_default);
    assert_eq!(pro.method_data["brand"], "visa");
    assert_eq!(pro.method_data["last4"], "4242");
    assert_eq!(pro.customer.email.as_deref(), Some("owner@pro.example"));
    assert_eq!(pro.customer.billing_address, None);
    assert_eq!(
        setup.mock.requests(Route::PaymentMethodsList)[0].path,
        "/api/v1/payment-methods/"
    );

    let buyer = methods
        .list(ListPaymentMethods::new().customer_id("buyer"))
        .await
        .unwrap();
    assert_eq!(buyer.results.len(), 1);
    assert_eq!(buyer.results[0].id, 2);
    let by_email = methods
        .list(ListPaymentMethods::new().customer_email("OWNER@pro.example"))
        .await
        .unwrap();
    assert_eq!(by_email.results[0].customer.customer_id, "cust_pro");
    let nobody = methods
        .list(ListPaymentMethods::new().customer_id("cust_free"))
        .await
        .unwrap();
    assert_eq!(nobody.count, 0);

    let page = methods
        .list(
            ListPaymentMethods::new()
                .page(2)
                .page_size(1)
                .customer_email("buyer@shop.example")
                .customer_id("buyer"),
        )
        .await;
    let sent = setup
        .mock
        .requests(Route::PaymentMethodsList)
        .pop()
        .unwrap();
    assert_eq!(
        sent.query.as_deref(),
        Some("customer_id=buyer&customer_email=buyer%40shop.example&page_size=1&page=2")
    );
    assert_eq!(
        page.unwrap_err().status().map(|status| status.as_u16()),
        Some(404)
    );
    let second = methods
        .list(ListPaymentMethods::new().page_size(1).page(2))
        .await
        .unwrap();
    assert_eq!(second.results[0].customer.customer_id, "buyer");
    assert!(!second.has_next());
    assert!(second.previous.is_some());
}

#[tokio::test]
async fn payment_method_parameters_are_checked_before_any_request() {
    let setup = Setup::start().await;
    let methods = setup.kelviq.payment_methods();
    for (params, field) in [
        (ListPaymentMethods::new().customer_id(""), "customer_id"),
        (
            ListPaymentMethods::new().customer_email(""),
            "customer_email",
        ),
        (ListPaymentMethods::new().page(0), "page"),
        (ListPaymentMethods::new().page_size(0), "page_size"),
    ] {
        assert_refused(&methods.list(params).await.unwrap_err(), field);
    }
    assert!(setup.mock.journal().is_empty());
}
