//! `kelviq.customer(id)`: every call scoped to one customer.

use std::time::Duration;

use kelviq_client::Error;
use kelviq_client::meter::UsageMeter;
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
async fn recording_needs_a_meter() {
    let setup = Setup::start().await;
    let customer = setup.kelviq.customer("cust_free");
    assert!(matches!(
        customer.record_usage("api-calls", 1),
        Err(Error::Config(_))
    ));
    let meter = UsageMeter::builder(setup.kelviq.clone()).start().unwrap();
    let customer = customer.with_meter(meter.clone());
    customer.record_usage("api-calls", 2).unwrap();
    meter.shutdown(Duration::from_secs(5)).await;
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 2);
}
