//! `kelviq.checkout()` and `kelviq.portal()` against the mock.

use kelviq_client::models::{ChargePeriod, FeatureQuantity, TaxBehavior};
use kelviq_client::{CreateCheckoutSession, ListSubscriptions};
use kelviq_mock::Route;
use serde_json::{Map, json};

use crate::subscriptions::refused;
use crate::support::Setup;

#[tokio::test]
async fn create_session_sends_every_field_camel_case() {
    let setup = Setup::start().await;
    let mut metadata = Map::new();
    metadata.insert("campaign".to_owned(), json!("spring"));
    let session = setup
        .kelviq
        .checkout()
        .create_session(
            CreateCheckoutSession::new("pro", ChargePeriod::ThreeMonths, "https://app.test/ok")
                .offering_id("off_1")
                .pricing_table_id("pt_1")
                .ip_address("203.0.113.7")
                .rule_id("rule_1")
                .customer_id("cust_free")
                .features(vec![FeatureQuantity::new("seats", 4)])
                .trial_period(14)
                .currency_code("EUR")
                .custom_amount(25.5)
                .tax_behavior(TaxBehavior::Exclusive)
                .discounts_enabled(true)
                .lock_email(false)
                .default_billing_country("DE")
                .metadata(metadata),
        )
        .await
        .unwrap();
    let sent = setup
        .mock
        .requests(Route::CheckoutCreateSession)
        .pop()
        .unwrap();
    assert_eq!(
        sent.json().unwrap(),
        json!({
            "offeringId": "off_1",
            "planIdentifier": "pro",
            "pricingTableId": "pt_1",
            "ipAddress": "203.0.113.7",
            "ruleId": "rule_1",
            "chargePeriod": "THREE_MONTHS",
            "customerId": "cust_free",
            "features": [{"identifier": "seats", "quantity": 4}],
            "successUrl": "https://app.test/ok",
            "trialPeriod": 14,
            "currencyCode": "EUR",
            "customAmount": 25.5,
            "taxBehavior": "EXCLUSIVE",
            "discountsEnabled": true,
            "lockEmail": false,
            "defaultBillingCountry": "DE",
            "metadata": {"campaign": "spring"}
        })
    );
    assert!(!session.checkout_session_id.is_empty());
    assert!(session.checkout_url.contains(&session.checkout_session_id));
}

#[tokio::test]
async fn a_completed_checkout_subscribes_the_buyer() {
    let setup = Setup::start().await;
    let session = setup
        .kelviq
        .checkout()
        .create_session(
            CreateCheckoutSession::new("pro", ChargePeriod::Yearly, "https://app.test/ok")
                .customer_id("new_buyer")
                .trial_period(7),
        )
        .await
        .unwrap();
    assert_eq!(
        setup.mock.requests(Route::CheckoutCreateSession)[0]
            .json()
            .unwrap(),
        json!({
            "planIdentifier": "pro",
            "chargePeriod": "YEARLY",
            "customerId": "new_buyer",
            "successUrl": "https://app.test/ok",
            "trialPeriod": 7
        })
    );
    let subscriptions = setup.kelviq.subscriptions();
    let buyer = || ListSubscriptions::new().customer_id("new_buyer");
    assert_eq!(subscriptions.list(buyer()).await.unwrap().count, 0);

    let subscription_id = setup
        .mock
        .complete_checkout(&session.checkout_session_id)
        .unwrap();
    let page = subscriptions.list(buyer()).await.unwrap();
    assert_eq!(page.count, 1);
    let bought = &page.results[0];
    assert_eq!(bought.id, subscription_id);
    assert_eq!(
        bought
            .plan
            .as_ref()
            .and_then(|plan| plan.identifier.as_deref()),
        Some("pro")
    );
    assert_eq!(bought.recurrence.as_deref(), Some("1 year"));
    assert_eq!(bought.status.as_deref(), Some("trialing"));
    assert_eq!(bought.trial_days_remaining, 7);
    assert!(
        setup
            .kelviq
            .entitlements()
            .has_access("new_buyer", "reports")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn invalid_sessions_are_refused_before_any_request() {
    let setup = Setup::start().await;
    let checkout = setup.kelviq.checkout();
    let session = || CreateCheckoutSession::new("pro", ChargePeriod::Monthly, "https://app.test");
    assert_eq!(
        refused(
            checkout
                .create_session(CreateCheckoutSession::new(
                    "",
                    ChargePeriod::Monthly,
                    "https://a.test"
                ))
                .await
        ),
        "plan_identifier"
    );
    assert_eq!(
        refused(
            checkout
                .create_session(CreateCheckoutSession::new("pro", ChargePeriod::Monthly, ""))
                .await
        ),
        "success_url"
    );
    assert_eq!(
        refused(checkout.create_session(session().customer_id("")).await),
        "customer_id"
    );
    assert_eq!(
        refused(checkout.create_session(session().trial_period(0)).await),
        "trial_period"
    );
    for amount in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -10.0] {
        let params = session()
            .custom_amount(amount)
            .currency_code("USD")
            .tax_behavior(TaxBehavior::Inclusive);
        assert_eq!(
            refused(checkout.create_session(params).await),
            "custom_amount",
            "{amount}"
        );
    }
    assert!(setup.mock.journal().is_empty());
}

#[tokio::test]
async fn the_service_refuses_what_only_it_can_check() {
    let setup = Setup::start().await;
    let checkout = setup.kelviq.checkout();
    let error = checkout
        .create_session(
            CreateCheckoutSession::new("pro", ChargePeriod::Monthly, "https://app.test")
                .custom_amount(12.0),
        )
        .await
        .unwrap_err();
    let api = error.as_api().unwrap();
    assert_eq!(api.status.as_u16(), 400);
    let fields: Vec<&str> = api
        .field_errors()
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["currencyCode", "taxBehavior"]);

    let error = checkout
        .create_session(CreateCheckoutSession::new(
            "gold",
            ChargePeriod::Monthly,
            "https://app.test",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        error.as_api().unwrap().field_errors(),
        [("planIdentifier", vec!["Plan not found."])]
    );
}

#[tokio::test]
async fn portal_create_session_sends_the_customer_id_camel_case() {
    let setup = Setup::start().await;
    let session = setup
        .kelviq
        .portal()
        .create_session("cust_pro")
        .await
        .unwrap();
    let sent = setup
        .mock
        .requests(Route::PortalCreateSession)
        .pop()
        .unwrap();
    assert_eq!(sent.json().unwrap(), json!({"customerId": "cust_pro"}));
    assert_eq!(session.email, "owner@pro.example");
    assert!(!session.token.is_empty());
    assert!(session.customer_portal_url.contains(&session.token));
}

#[tokio::test]
async fn portal_refuses_an_empty_id_and_the_service_an_unknown_one() {
    let setup = Setup::start().await;
    let portal = setup.kelviq.portal();
    assert_eq!(refused(portal.create_session("").await), "customer_id");
    assert!(setup.mock.journal().is_empty());

    let error = portal.create_session("nobody").await.unwrap_err();
    assert_eq!(
        error.as_api().unwrap().field_errors(),
        [("customerId", vec!["Customer not found."])]
    );
}
