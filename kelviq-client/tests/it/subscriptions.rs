//! `kelviq.subscriptions()` against the mock.

use kelviq_client::models::{
    BillingType, CancellationType, ChargePeriod, FeatureQuantity, PaymentBehavior,
    ProrationBehavior, Subscription, SubscriptionProduct,
};
use kelviq_client::{
    CancelSubscription, CreateSubscription, Error, ListSubscriptions, PreviewSubscriptionUpdate,
    UpdateSubscription,
};
use kelviq_mock::Route;
use serde_json::json;

use crate::support::{Setup, uncached};

/// The seeded subscription of a customer (each seeded customer has exactly one).
async fn subscription_of(setup: &Setup, customer_id: &str) -> Subscription {
    let mut page = setup
        .kelviq
        .subscriptions()
        .list(ListSubscriptions::new().customer_id(customer_id))
        .await
        .unwrap();
    assert_eq!(page.results.len(), 1, "{customer_id}");
    page.results.remove(0)
}

#[tokio::test]
async fn list_sends_the_filters_in_order_and_returns_typed_subscriptions() {
    let setup = Setup::start().await;
    let subscriptions = setup.kelviq.subscriptions();
    let all = subscriptions.list(ListSubscriptions::new()).await.unwrap();
    assert_eq!(all.count, 2);
    assert_eq!(setup.mock.requests(Route::SubscriptionsList)[0].query, None);

    let today = all.results[0].start_date.clone();
    let page = subscriptions
        .list(
            ListSubscriptions::new()
                .customer_id("cust_pro")
                .start_date_after(today.as_str())
                .start_date_before(today.as_str())
                .modified_on_after(today.as_str())
                .modified_on_before(today.as_str())
                .page(1)
                .page_size(10),
        )
        .await
        .unwrap();
    let sent = setup.mock.requests(Route::SubscriptionsList).pop().unwrap();
    assert_eq!(
        sent.query.unwrap(),
        format!(
            "customer_id=cust_pro&start_date_after={today}&start_date_before={today}\
             &modified_on_after={today}&modified_on_before={today}&page=1&page_size=10"
        )
    );
    assert_eq!(page.count, 1);
    let pro = &page.results[0];
    assert_eq!(pro.customer_id.as_deref(), Some("cust_pro"));
    assert_eq!(pro.billing_type, BillingType::Subscription);
    assert_eq!(pro.status.as_deref(), Some("active"));
    assert_eq!(pro.amount.as_deref(), Some("49.00"));
    assert_eq!(pro.currency.as_deref(), Some("USD"));
    assert_eq!(pro.recurrence.as_deref(), Some("1 month"));
    assert_eq!(pro.recurrence_type.as_deref(), Some("MONTH"));
    assert_eq!(pro.recurrence_unit, Some(1));
    assert_eq!(pro.trial_days_remaining, 0);
    assert_eq!(pro.end_date, None);
    assert!(pro.next_invoice_date.is_some());
    assert_eq!(
        pro.plan
            .as_ref()
            .and_then(|plan| plan.identifier.as_deref()),
        Some("pro")
    );
    let product = pro.product.as_ref().unwrap();
    assert!(matches!(product, SubscriptionProduct::Details(_)));
    assert_eq!(product.identifier(), Some("pro"));
    assert_eq!(pro.features.len(), 3);
    assert_eq!(pro.license.len(), 1);
    assert_eq!(
        pro.license[0].license_key.as_deref(),
        Some("PRO-LICENSE-0001")
    );
    assert_eq!(pro.license[0].activation_limit, Some(3));

    let none = subscriptions
        .list(ListSubscriptions::new().modified_on_before("2000-01-01"))
        .await
        .unwrap();
    assert_eq!(none.count, 0);
    assert!(none.results.is_empty());
}

#[tokio::test]
async fn list_sends_modified_on_instants_in_utc_and_days_as_dates() {
    let setup = Setup::start().await;
    let subscriptions = setup.kelviq.subscriptions();
    let since: jiff::Timestamp = "2025-02-01T01:00:00+01:00".parse().unwrap();
    let until: jiff::civil::Date = "2999-12-31".parse().unwrap();
    let page = subscriptions
        .list(
            ListSubscriptions::new()
                .modified_on_after(since)
                .modified_on_before(until),
        )
        .await
        .unwrap();
    assert_eq!(page.count, 2);
    let sent = setup.mock.requests(Route::SubscriptionsList).pop().unwrap();
    assert_eq!(
        sent.query.as_deref(),
        Some("modified_on_after=2025-02-01T00%3A00%3A00Z&modified_on_before=2999-12-31")
    );
    assert_eq!(
        sent.query_pairs(),
        [
            (
                "modified_on_after".to_owned(),
                "2025-02-01T00:00:00Z".to_owned()
            ),
            ("modified_on_before".to_owned(), "2999-12-31".to_owned()),
        ]
    );
    assert_eq!(sent.status(), Some(200));

    // Text in either form, an offset normalised to UTC; a zoned value by its instant.
    let zoned = "2999-01-01T09:00:00.5+09:00[+09:00]"
        .parse::<jiff::Zoned>()
        .unwrap();
    let none = subscriptions
        .list(
            ListSubscriptions::new()
                .modified_on_after(&zoned)
                .modified_on_before("2999-01-01T02:00:00+01:00"),
        )
        .await
        .unwrap();
    assert_eq!(none.count, 0);
    let sent = setup.mock.requests(Route::SubscriptionsList).pop().unwrap();
    assert_eq!(
        sent.query_pairs(),
        [
            (
                "modified_on_after".to_owned(),
                "2999-01-01T00:00:00.5Z".to_owned()
            ),
            (
                "modified_on_before".to_owned(),
                "2999-01-01T01:00:00Z".to_owned()
            ),
        ]
    );
    assert_eq!(sent.status(), Some(200));
    let none = subscriptions
        .list(ListSubscriptions::new().modified_on_before(jiff::Timestamp::UNIX_EPOCH))
        .await
        .unwrap();
    assert_eq!(none.count, 0);
    let sent = setup.mock.requests(Route::SubscriptionsList).pop().unwrap();
    assert_eq!(
        sent.query.as_deref(),
        Some("modified_on_before=1970-01-01T00%3A00%3A00Z")
    );
}

#[tokio::test]
async fn retrieve_encodes_the_id_and_an_unknown_one_is_not_found() {
    let setup = Setup::start().await;
    let free = subscription_of(&setup, "cust_free").await;
    let retrieved = setup
        .kelviq
        .subscriptions()
        .retrieve(&free.id)
        .await
        .unwrap();
    assert_eq!(retrieved, free);
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsRetrieve)[0].path,
        format!("/api/v1/subscriptions/{}/", free.id)
    );

    let error = setup
        .kelviq
        .subscriptions()
        .retrieve("sub/../x?y")
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
    let sent = setup
        .mock
        .requests(Route::SubscriptionsRetrieve)
        .pop()
        .unwrap();
    assert_eq!(sent.path, "/api/v1/subscriptions/sub%2F..%2Fx%3Fy/");
    assert_eq!(sent.path_params(), ["sub/../x?y"]);
}

#[tokio::test]
async fn create_sends_the_snake_case_body_and_grants_the_plan() {
    let setup = Setup::start().await;
    // No entitlement cache: each check sees the plan change at once.
    let checks = uncached(&setup.mock);
    let entitlements = checks.entitlements();
    assert!(
        !entitlements
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );

    let created = setup
        .kelviq
        .subscriptions()
        .create(
            CreateSubscription::new("pro", ChargePeriod::Monthly, "cust_free")
                .success_url("https://app.test/done")
                .features(vec![FeatureQuantity::new("seats", 5)])
                .ip_address("203.0.113.7"),
        )
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsCreate)[0]
            .json()
            .unwrap(),
        json!({
            "plan_identifier": "pro",
            "charge_period": "MONTHLY",
            "customer_id": "cust_free",
            "success_url": "https://app.test/done",
            "features": [{"identifier": "seats", "quantity": 5}],
            "ip_address": "203.0.113.7"
        })
    );
    assert_eq!(created.customer_id.as_deref(), Some("cust_free"));
    assert_eq!(created.billing_type, BillingType::Subscription);
    assert_eq!(
        created.plan.and_then(|plan| plan.identifier).as_deref(),
        Some("pro")
    );
    assert!(
        created
            .features
            .iter()
            .any(|feature| feature["identifier"] == "seats" && feature["quantity"] == 5)
    );
    assert!(
        entitlements
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );

    let one_time = setup
        .kelviq
        .subscriptions()
        .create(CreateSubscription::new(
            "pro",
            ChargePeriod::OneTime,
            "cust_free",
        ))
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsCreate)[1]
            .json()
            .unwrap(),
        json!({"plan_identifier": "pro", "charge_period": "ONE_TIME", "customer_id": "cust_free"})
    );
    assert_eq!(one_time.billing_type, BillingType::OneTime);
    assert_eq!(one_time.recurrence, None);
}

#[tokio::test]
async fn cancel_immediately_ends_access_and_a_second_cancel_is_refused() {
    let setup = Setup::start().await;
    let pro = subscription_of(&setup, "cust_pro").await;
    // No entitlement cache: each check sees the cancellation at once.
    let checks = uncached(&setup.mock);
    let entitlements = checks.entitlements();
    assert!(
        entitlements
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );

    let cancelled = setup
        .kelviq
        .subscriptions()
        .cancel(&pro.id, CancelSubscription::immediate())
        .await
        .unwrap();
    assert!(!cancelled.message.is_empty());
    let sent = setup
        .mock
        .requests(Route::SubscriptionsCancel)
        .pop()
        .unwrap();
    assert_eq!(
        sent.path,
        format!("/api/v1/subscriptions/{}/cancel/", pro.id)
    );
    assert_eq!(
        sent.json().unwrap(),
        json!({"cancellation_type": "IMMEDIATE"})
    );
    assert!(
        !entitlements
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    let after = setup
        .kelviq
        .subscriptions()
        .retrieve(&pro.id)
        .await
        .unwrap();
    assert_eq!(after.status.as_deref(), Some("canceled"));
    assert!(after.end_date.is_some());

    let again = setup
        .kelviq
        .subscriptions()
        .cancel(
            &pro.id,
            CancelSubscription::new(CancellationType::Immediate),
        )
        .await
        .unwrap_err();
    assert_eq!(again.as_api().unwrap().status.as_u16(), 400);
}

#[tokio::test]
async fn cancel_on_a_date_sends_it_and_keeps_access_until_then() {
    let setup = Setup::start().await;
    let pro = subscription_of(&setup, "cust_pro").await;
    setup
        .kelviq
        .subscriptions()
        .cancel(&pro.id, CancelSubscription::on_date("2999-01-31"))
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsCancel)[0]
            .json()
            .unwrap(),
        json!({"cancellation_type": "SPECIFIC_DATE", "cancellation_date": "2999-01-31"})
    );
    assert!(
        setup
            .kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    let after = setup
        .kelviq
        .subscriptions()
        .retrieve(&pro.id)
        .await
        .unwrap();
    assert_eq!(after.end_date.as_deref(), Some("2999-01-31"));
    assert_eq!(after.status.as_deref(), Some("active"));
}

#[tokio::test]
#[allow(deprecated)]
async fn update_sends_ip_address_camel_case_and_changes_the_plan() {
    let setup = Setup::start().await;
    let free = subscription_of(&setup, "cust_free").await;
    let updated = setup
        .kelviq
        .subscriptions()
        .update(
            &free.id,
            UpdateSubscription::new("pro", ChargePeriod::Yearly)
                .proration_behavior(ProrationBehavior::ImmediateCharge)
                .probation_behaviour("legacy")
                .ip_address("203.0.113.7")
                .offering_id("off_1")
                .pricing_table_id("pt_1")
                .rule_id("rule_1")
                .features(vec![FeatureQuantity::new("seats", 3)])
                .trial_end("now")
                .payment_behavior(PaymentBehavior::ActivateOnPayment),
        )
        .await
        .unwrap();
    assert_eq!(updated.subscription_id, free.id);
    let sent = setup
        .mock
        .requests(Route::SubscriptionsUpdate)
        .pop()
        .unwrap();
    assert_eq!(
        sent.path,
        format!("/api/v1/subscriptions/{}/update/", free.id)
    );
    assert_eq!(
        sent.json().unwrap(),
        json!({
            "plan_identifier": "pro",
            "charge_period": "YEARLY",
            "proration_behavior": "IMMEDIATE_CHARGE",
            "probation_behaviour": "legacy",
            "ipAddress": "203.0.113.7",
            "offering_id": "off_1",
            "pricing_table_id": "pt_1",
            "rule_id": "rule_1",
            "features": [{"identifier": "seats", "quantity": 3}],
            "trial_end": "now",
            "payment_behavior": "activate_on_payment"
        })
    );
    let after = setup
        .kelviq
        .subscriptions()
        .retrieve(&free.id)
        .await
        .unwrap();
    assert_eq!(
        after.plan.and_then(|plan| plan.identifier).as_deref(),
        Some("pro")
    );
    assert_eq!(after.recurrence.as_deref(), Some("1 year"));
    assert!(
        setup
            .kelviq
            .entitlements()
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );

    // A future trial end, without a zone: sent verbatim, read as UTC by the service.
    setup
        .kelviq
        .subscriptions()
        .update(
            &free.id,
            UpdateSubscription::new("pro", ChargePeriod::Yearly).trial_end("2999-12-31 23:59:59"),
        )
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsUpdate)[1]
            .json()
            .unwrap(),
        json!({"plan_identifier": "pro", "charge_period": "YEARLY", "trial_end": "2999-12-31 23:59:59"})
    );
    let trialing = setup
        .kelviq
        .subscriptions()
        .retrieve(&free.id)
        .await
        .unwrap();
    assert_eq!(trialing.status.as_deref(), Some("trialing"));
    assert!(trialing.trial_days_remaining > 0);
}

#[tokio::test]
async fn preview_update_quotes_the_change_without_making_it() {
    let setup = Setup::start().await;
    let free = subscription_of(&setup, "cust_free").await;
    let preview = setup
        .kelviq
        .subscriptions()
        .preview_update(
            &free.id,
            PreviewSubscriptionUpdate::new("pro", ChargePeriod::Monthly)
                .proration_behavior(ProrationBehavior::ImmediateCharge)
                .features(vec![FeatureQuantity::new("seats", 2)])
                .ip_address("203.0.113.7"),
        )
        .await
        .unwrap();
    let sent = setup
        .mock
        .requests(Route::SubscriptionsPreviewUpdate)
        .pop()
        .unwrap();
    assert_eq!(
        sent.path,
        format!("/api/v1/subscriptions/{}/update/preview/", free.id)
    );
    assert_eq!(
        sent.json().unwrap(),
        json!({
            "plan_identifier": "pro",
            "charge_period": "MONTHLY",
            "proration_behavior": "IMMEDIATE_CHARGE",
            "features": [{"identifier": "seats", "quantity": 2}],
            "ip_address": "203.0.113.7"
        })
    );
    assert_eq!(preview.currency.as_deref(), Some("USD"));
    assert_eq!(preview.recurring_amount_units, Some(4900));
    assert_eq!(preview.recurring_amount, Some(49.0));
    assert_eq!(preview.amount_charged_immediately_units, Some(4900));
    let next = preview.next_invoice.as_ref().unwrap();
    assert_eq!(next.amount_due_units, Some(4900));
    assert!(next.next_payment_attempt.is_some());
    assert_eq!(preview.line_items.len(), 2);
    assert_eq!(preview.line_items[0].amount_units, Some(4900));

    // Nothing changed.
    let after = setup
        .kelviq
        .subscriptions()
        .retrieve(&free.id)
        .await
        .unwrap();
    assert_eq!(after, free);
    assert!(
        !setup
            .kelviq
            .entitlements()
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );

    // A trial that runs past the change: nothing is charged now.
    let in_trial = setup
        .kelviq
        .subscriptions()
        .preview_update(
            &free.id,
            PreviewSubscriptionUpdate::new("pro", ChargePeriod::Monthly)
                .trial_end("2999-12-31T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsPreviewUpdate)[1]
            .json()
            .unwrap(),
        json!({"plan_identifier": "pro", "charge_period": "MONTHLY", "trial_end": "2999-12-31T00:00:00Z"})
    );
    assert_eq!(in_trial.amount_charged_immediately_units, Some(0));
}

/// The field a validation error names; panics on anything else. Shared by the checkout
/// and license tests.
pub fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    match result {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_parameters_are_refused_before_any_request() {
    let setup = Setup::start().await;
    let subscriptions = setup.kelviq.subscriptions();
    let list = ListSubscriptions::new;
    assert_eq!(
        refused(
            subscriptions
                .list(list().start_date_after("2025-1-01"))
                .await
        ),
        "start_date_after"
    );
    assert_eq!(
        refused(
            subscriptions
                .list(list().start_date_before("2025-02-30"))
                .await
        ),
        "start_date_before"
    );
    assert_eq!(
        refused(
            subscriptions
                .list(list().modified_on_after("2025-01-01T00:00:00"))
                .await
        ),
        "modified_on_after"
    );
    assert_eq!(
        refused(
            subscriptions
                .list(list().modified_on_before("yesterday"))
                .await
        ),
        "modified_on_before"
    );
    let inverted = list()
        .modified_on_after("2025-02-01")
        .modified_on_before("2025-01-31");
    assert_eq!(
        refused(subscriptions.list(inverted).await),
        "modified_on_after"
    );
    let inverted_instants = list()
        .modified_on_after("2025-02-01T00:00:00Z")
        .modified_on_before("2025-01-31T23:59:59Z");
    assert_eq!(
        refused(subscriptions.list(inverted_instants).await),
        "modified_on_after"
    );
    assert_eq!(
        refused(
            subscriptions
                .list(list().modified_on_before("2025-02-01T25:00:00Z"))
                .await
        ),
        "modified_on_before"
    );
    assert_eq!(
        refused(subscriptions.list(list().customer_id("")).await),
        "customer_id"
    );
    assert_eq!(
        refused(subscriptions.list(list().page_size(0)).await),
        "page_size"
    );
    assert_eq!(refused(subscriptions.retrieve("").await), "subscription_id");
    assert_eq!(
        refused(subscriptions.retrieve("..").await),
        "subscription_id"
    );

    let create =
        |plan: &str, customer: &str| CreateSubscription::new(plan, ChargePeriod::Monthly, customer);
    assert_eq!(
        refused(subscriptions.create(create("", "cust_free")).await),
        "plan_identifier"
    );
    assert_eq!(
        refused(subscriptions.create(create("pro", "")).await),
        "customer_id"
    );

    let cancel = |params| subscriptions.cancel("s1", params);
    assert_eq!(
        refused(cancel(CancelSubscription::new(CancellationType::SpecificDate)).await),
        "cancellation_date"
    );
    assert_eq!(
        refused(cancel(CancelSubscription::on_date("31.12.2030")).await),
        "cancellation_date"
    );
    assert_eq!(
        refused(cancel(CancelSubscription::at_period_end().cancellation_date("2030-12-1")).await),
        "cancellation_date"
    );
    assert_eq!(
        refused(
            subscriptions
                .cancel("", CancelSubscription::immediate())
                .await
        ),
        "subscription_id"
    );

    let change = || UpdateSubscription::new("pro", ChargePeriod::Monthly);
    for past_or_malformed in [
        "2001-01-01 00:00:00",
        "tomorrow",
        "NOW",
        "2030-12-31 25:00:00",
    ] {
        assert_eq!(
            refused(
                subscriptions
                    .update("s1", change().trial_end(past_or_malformed))
                    .await
            ),
            "trial_end",
            "{past_or_malformed}"
        );
    }
    assert_eq!(
        refused(
            subscriptions
                .update("s1", UpdateSubscription::new("", ChargePeriod::Monthly))
                .await
        ),
        "plan_identifier"
    );
    assert_eq!(
        refused(subscriptions.update(".", change()).await),
        "subscription_id"
    );

    let preview = || PreviewSubscriptionUpdate::new("pro", ChargePeriod::Monthly);
    assert_eq!(
        refused(
            subscriptions
                .preview_update("s1", preview().trial_end("2001-01-01T00:00:00Z"))
                .await
        ),
        "trial_end"
    );
    assert_eq!(
        refused(
            subscriptions
                .preview_update(
                    "s1",
                    PreviewSubscriptionUpdate::new("", ChargePeriod::Monthly)
                )
                .await
        ),
        "plan_identifier"
    );
    assert_eq!(
        refused(subscriptions.preview_update("", preview()).await),
        "subscription_id"
    );
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn unknown_plans_and_subscriptions_are_refused_by_the_service() {
    let setup = Setup::start().await;
    let subscriptions = setup.kelviq.subscriptions();
    let error = subscriptions
        .create(CreateSubscription::new(
            "gold",
            ChargePeriod::Monthly,
            "cust_free",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        error.as_api().unwrap().field_errors(),
        [("plan_identifier", vec!["Plan not found."])]
    );

    let change = UpdateSubscription::new("pro", ChargePeriod::Monthly);
    let preview = PreviewSubscriptionUpdate::new("pro", ChargePeriod::Monthly);
    let not_found = [
        subscriptions.retrieve("sub_missing").await.map(|_| ()),
        subscriptions
            .cancel("sub_missing", CancelSubscription::immediate())
            .await
            .map(|_| ()),
        subscriptions
            .update("sub_missing", change)
            .await
            .map(|_| ()),
        subscriptions
            .preview_update("sub_missing", preview)
            .await
            .map(|_| ()),
    ];
    for result in not_found {
        let error = result.unwrap_err();
        assert_eq!(
            error.status().map(|status| status.as_u16()),
            Some(404),
            "{error:?}"
        );
    }
    // POSTs without an idempotency key are sent once each; nothing was retried.
    assert_eq!(setup.mock.journal().len(), 5);
}
