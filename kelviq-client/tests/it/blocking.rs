//! The blocking client: plain threads, no async in sight.

use kelviq_client::blocking::Kelviq;
use kelviq_client::{CreateCustomer, Error, ReportUsage};
use kelviq_mock::{MockServer, Route};

use crate::support::client_for;

/// A mock served by its own runtime's worker threads, so the test thread may block.
struct BackgroundMock {
    mock: MockServer,
    _runtime: tokio::runtime::Runtime,
}

fn background_mock() -> BackgroundMock {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(MockServer::start());
    BackgroundMock {
        mock,
        _runtime: runtime,
    }
}

fn blocking_client(mock: &MockServer) -> Kelviq {
    Kelviq::from_async(client_for(mock).build().unwrap()).unwrap()
}

#[test]
fn plain_main_thread_calls() {
    let server = background_mock();
    let kelviq = blocking_client(&server.mock);
    let customer = kelviq
        .customers()
        .create(CreateCustomer::new("blocking-co").email("b@co.test"))
        .unwrap();
    assert_eq!(customer.customer_id, "blocking-co");
    assert_eq!(
        kelviq.customers().retrieve("blocking-co").unwrap().email,
        customer.email
    );
    assert!(
        kelviq
            .entitlements()
            .has_access("cust_pro", "reports")
            .unwrap()
    );
    let report = kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_pro", "api-calls", 2))
        .unwrap();
    assert_eq!(report.value, 2);
    assert_eq!(server.mock.usage_total("cust_pro", "api-calls"), 14);
    let error = kelviq.customers().retrieve("nobody").unwrap_err();
    assert_eq!(error.status().unwrap().as_u16(), 404);
}

#[test]
fn clones_work_from_other_threads() {
    let server = background_mock();
    // Without the cache, each thread's check is its own call.
    let kelviq = Kelviq::from_async(
        client_for(&server.mock)
            .no_entitlement_cache()
            .build()
            .unwrap(),
    )
    .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let kelviq = kelviq.clone();
            std::thread::spawn(move || kelviq.entitlements().has_access("cust_pro", "reports"))
        })
        .collect();
    for handle in handles {
        assert!(handle.join().unwrap().unwrap());
    }
    assert_eq!(server.mock.entitlement_calls("cust_pro"), 4);
}

#[tokio::test]
async fn inside_an_async_runtime_it_refuses_without_panicking() {
    let mock = MockServer::start().await;
    let async_client = client_for(&mock).build().unwrap();
    let refused = Kelviq::from_async(async_client.clone()).unwrap_err();
    assert!(matches!(refused, Error::Blocking(_)), "{refused:?}");

    let built_outside = std::thread::spawn(move || Kelviq::from_async(async_client).unwrap())
        .join()
        .unwrap();
    let error = built_outside
        .entitlements()
        .has_access("cust_pro", "reports")
        .unwrap_err();
    assert!(matches!(error, Error::Blocking(_)), "{error:?}");
    assert!(
        built_outside
            .as_async()
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    drop(built_outside);
}

#[test]
fn other_resources_through_the_blocking_client() {
    use kelviq_client::models::ChargePeriod;
    use kelviq_client::{CreateCheckoutSession, ListRefunds, ListSubscriptions};

    let server = background_mock();
    let kelviq = blocking_client(&server.mock);
    let subscriptions = kelviq
        .subscriptions()
        .list(ListSubscriptions::new().customer_id("cust_pro"))
        .unwrap();
    assert_eq!(subscriptions.count, 1);
    let session = kelviq
        .checkout()
        .create_session(CreateCheckoutSession::new(
            "pro",
            ChargePeriod::Monthly,
            "https://app.test/done",
        ))
        .unwrap();
    assert!(!session.checkout_session_id.is_empty());
    let validation = kelviq.license().validate("PRO-LICENSE-0001", None).unwrap();
    assert!(validation.valid);
    assert_eq!(kelviq.refunds().list(ListRefunds::new()).unwrap().count, 0);
    assert_eq!(server.mock.calls(Route::SubscriptionsList), 1);
    assert_eq!(server.mock.calls(Route::LicenseValidate), 1);
}

#[test]
fn the_blocking_client_meters_and_caches_too() {
    use std::time::Duration;

    use kelviq_client::meter::MeterConfig;

    let server = background_mock();
    let kelviq = Kelviq::from_async(
        client_for(&server.mock)
            .usage_meter(MeterConfig::default().flush_interval(Duration::from_secs(3600)))
            .build()
            .unwrap(),
    )
    .unwrap();
    let meter = kelviq.usage_meter().unwrap();
    // The same meter every time, and the async client's.
    kelviq
        .usage_meter()
        .unwrap()
        .record("cust_free", "api-calls", 1)
        .unwrap();
    assert_eq!(kelviq.as_async().usage_meter().unwrap().stats().recorded, 1);
    for _ in 0..99 {
        meter.record("cust_free", "api-calls", 1).unwrap();
    }
    let snapshot = kelviq.entitlements_snapshot("cust_free").unwrap();
    assert!(
        !snapshot.snapshot().has_access("api-calls"),
        "the recorded usage counts"
    );
    let report = kelviq
        .shutdown_meter(&meter, Duration::from_secs(5))
        .unwrap();
    assert_eq!(report.stats.sent, 100);
    assert_eq!(server.mock.usage_total("cust_free", "api-calls"), 100);
    kelviq.invalidate_entitlements("cust_free");
    assert!(
        !kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .unwrap()
    );
}
