//! Customer ids longer than the client's maximum (`KelviqBuilder::max_customer_id_len`)
//! are refused before any I/O: `Error::Validation` from every call taking one, `400`
//! `invalid_customer` from a gate — never a failed request reported as an outage.

use kelviq_client::gate::{Admission, Decision, DenialReason};
use kelviq_client::models::ChargePeriod;
use kelviq_client::{
    ActivateLicense, CreateCharge, CreateCheckoutSession, CreateCustomer, CreateSubscription,
    DEFAULT_MAX_CUSTOMER_ID_LEN, Error, Kelviq, ListPaymentMethods, ListSubscriptions,
    MAX_CUSTOMER_ID_LEN_LIMIT, ReportEvent, ReportUsage, Result, UpdateCustomer,
};
use kelviq_mock::MockServer;

use crate::support::client_for;

fn is_customer_id_error<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(
        result,
        Err(Error::Validation {
            field: "customer_id",
            ..
        })
    )
}

/// Every call taking a customer id, with `id`: whether each refused it as a customer id.
async fn every_call_refuses(kelviq: &Kelviq, id: &str) -> Vec<(&'static str, bool)> {
    vec![
        (
            "has_access",
            is_customer_id_error(kelviq.entitlements().has_access(id, "reports").await),
        ),
        (
            "get_raw_entitlements",
            is_customer_id_error(kelviq.entitlements().get_raw_entitlements(id).await),
        ),
        (
            "entitlements_snapshot",
            is_customer_id_error(kelviq.entitlements_snapshot(id).await),
        ),
        (
            "customers.create",
            is_customer_id_error(kelviq.customers().create(CreateCustomer::new(id)).await),
        ),
        (
            "customers.retrieve",
            is_customer_id_error(kelviq.customers().retrieve(id).await),
        ),
        (
            "customers.update",
            is_customer_id_error(
                kelviq
                    .customers()
                    .update(id, UpdateCustomer::new().name("Ada"))
                    .await,
            ),
        ),
        (
            "customers.archive",
            is_customer_id_error(kelviq.customers().archive(id).await),
        ),
        (
            "charges.create",
            is_customer_id_error(kelviq.charges().create(CreateCharge::new("pro", id)).await),
        ),
        (
            "checkout.create_session",
            is_customer_id_error(
                kelviq
                    .checkout()
                    .create_session(
                        CreateCheckoutSession::new(
                            "pro",
                            ChargePeriod::Monthly,
                            "https://example.com/ok",
                        )
                        .customer_id(id),
                    )
                    .await,
            ),
        ),
        (
            "license.activate",
            is_customer_id_error(
                kelviq
                    .license()
                    .activate(ActivateLicense::new("KEY").customer_id(id))
                    .await,
            ),
        ),
        (
            "payment_methods.list",
            is_customer_id_error(
                kelviq
                    .payment_methods()
                    .list(ListPaymentMethods::new().customer_id(id))
                    .await,
            ),
        ),
        (
            "portal.create_session",
            is_customer_id_error(kelviq.portal().create_session(id).await),
        ),
        (
            "subscriptions.list",
            is_customer_id_error(
                kelviq
                    .subscriptions()
                    .list(ListSubscriptions::new().customer_id(id))
                    .await,
            ),
        ),
        (
            "subscriptions.create",
            is_customer_id_error(
                kelviq
                    .subscriptions()
                    .create(CreateSubscription::new("pro", ChargePeriod::Monthly, id))
                    .await,
            ),
        ),
        (
            "reporting.report_usage",
            is_customer_id_error(
                kelviq
                    .reporting()
                    .report_usage(ReportUsage::delta(id, "api-calls", 1))
                    .await,
            ),
        ),
        (
            "reporting.report_event",
            is_customer_id_error(
                kelviq
                    .reporting()
                    .report_event(ReportEvent::new(id, "signed_in"))
                    .await,
            ),
        ),
        (
            "usage_meter.record",
            is_customer_id_error(kelviq.usage_meter().unwrap().record(id, "api-calls", 1)),
        ),
    ]
}

#[tokio::test]
async fn every_call_refuses_an_id_longer_than_the_maximum_without_a_request() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).build().unwrap();
    assert_eq!(kelviq.max_customer_id_len(), DEFAULT_MAX_CUSTOMER_ID_LEN);
    // Bytes, not characters: 129 two-byte characters are 258 bytes.
    for id in [
        "c".repeat(100 * 1024),
        "é".repeat(11 * 1024),
        "é".repeat(129),
    ] {
        for (call, refused) in every_call_refuses(&kelviq, &id).await {
            assert!(refused, "{call} with {} bytes", id.len());
        }
    }
    assert!(mock.journal().is_empty(), "{:?}", mock.journal());
    // At the maximum, the id is sent.
    let at_max = "é".repeat(DEFAULT_MAX_CUSTOMER_ID_LEN / 2);
    assert!(
        kelviq
            .entitlements()
            .get_raw_entitlements(&at_max)
            .await
            .is_err()
    );
    assert_eq!(mock.entitlement_calls(&at_max), 1);
}

#[tokio::test]
async fn a_gate_answers_400_invalid_customer_without_a_request() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).max_customer_id_len(8).build().unwrap();
    let gate = kelviq.gate().require("reports").build().unwrap();
    let long = "cust_pro_".to_owned();
    match gate.admit(Some(long.as_str().into())) {
        Admission::Ready(Err(denial)) => {
            assert_eq!(denial.reason(), DenialReason::InvalidCustomer);
            assert_eq!(denial.status(), 400);
            assert_eq!(denial.code(), "invalid_customer");
            assert_eq!(denial.grpc_code(), 3);
        }
        other => panic!("{other:?}"),
    }
    match gate.check(&long).await {
        Decision::Deny(denial) => assert_eq!(denial.reason(), DenialReason::InvalidCustomer),
        other => panic!("{other:?}"),
    }
    assert!(mock.journal().is_empty(), "{:?}", mock.journal());
}

#[test]
fn the_maximum_is_checked_when_the_client_is_built() {
    let build = |max| {
        Kelviq::builder()
            .access_token("sk_test_123")
            .max_customer_id_len(max)
            .build()
    };
    for max in [0, MAX_CUSTOMER_ID_LEN_LIMIT + 1] {
        match build(max) {
            Err(Error::Config(message)) => {
                assert!(message.contains("max_customer_id_len"), "{message}")
            }
            other => panic!("{max}: {other:?}"),
        }
    }
    assert_eq!(build(1).unwrap().max_customer_id_len(), 1);
    assert_eq!(
        build(MAX_CUSTOMER_ID_LEN_LIMIT)
            .unwrap()
            .max_customer_id_len(),
        MAX_CUSTOMER_ID_LEN_LIMIT
    );
}
