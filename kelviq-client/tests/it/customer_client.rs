//! `kelviq.customer(id)`: every call scoped to one customer.

use std::time::Duration;

use kelviq_client::{Error, Kelviq};
use kelviq_mock::Route;

use crate::support::Setup;

#[tokio::test]
async fn calls_are_about_the_scoped_customer() {
    let setup = Setup::start().await;
    let customer = setup.kelviq.customer("cust_pro");
    assert_eq!(customer.id(), "cust_pro");
    assert!(customer.has_access("reports").await.unwrap());
    assert_eq!(
        customer
            .entitlement("seats")
            .await
            .unwrap()
            .unwrap()
            .limit(),
        Some(10)
    );
    assert_eq!(
        customer
            .entitlements()
            .await
            .unwrap()
            .snapshot()
            .fetched_entitlements()
            .len(),
        3
    );
    assert_eq!(customer.retrieve().await.unwrap().customer_id, "cust_pro");
    assert_eq!(customer.subscriptions().await.unwrap().count, 1);
    assert_eq!(
        setup.mock.requests(Route::SubscriptionsList)[0]
            .query
            .as_deref(),
        Some("customer_id=cust_pro")
    );
    assert_eq!(customer.payment_methods().await.unwrap().count, 1);
    assert!(
        !customer
            .portal_session()
            .await
            .unwrap()
            .customer_portal_url
            .is_empty()
    );
    customer.report_usage("api-calls", 3).await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 15);
    let event = customer
        .report_event("report.exported", None)
        .await
        .unwrap();
    assert_eq!(event.customer_id, "cust_pro");
}

#[tokio::test]
async fn recording_uses_the_clients_meter() {
    let setup = Setup::start().await;
    let customer = setup.kelviq.customer("cust_free");
    customer.record_usage("api-calls", 2).unwrap();
    let meter = setup.kelviq.usage_meter().unwrap();
    assert_eq!(meter.stats().recorded, 2);
    meter.shutdown(Duration::from_secs(5)).await;
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 2);
    assert!(matches!(
        customer.record_usage("api-calls", 1),
        Err(Error::MeterClosed)
    ));
}

#[test]
fn recording_outside_a_runtime_is_a_config_error() {
    let kelviq = Kelviq::new("k").unwrap();
    let error = kelviq
        .customer("cust_free")
        .record_usage("api-calls", 1)
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}
