//! `KelviqBuilder::api_version`: the version in every path, on both hosts.

use kelviq_client::{ApiVersion, Error, Kelviq, ReportUsage};
use kelviq_mock::{ApiVersion as MockVersion, Base, MockServer, Route};

use crate::support::client_for;

async fn mock() -> MockServer {
    MockServer::start().await
}

#[tokio::test]
async fn the_default_version_is_v1_on_both_hosts() {
    let mock = mock().await;
    let kelviq = client_for(&mock).no_entitlement_cache().build().unwrap();
    assert_eq!(kelviq.api_version(), ApiVersion::V1);
    kelviq.customers().retrieve("cust_pro").await.unwrap();
    kelviq
        .entitlements()
        .has_access("cust_pro", "reports")
        .await
        .unwrap();
    let journal = mock.journal();
    assert_eq!(journal[0].path, "/api/v1/customers/cust_pro/");
    assert_eq!(journal[1].path, "/api/v1/entitlements");
    assert!(
        journal
            .iter()
            .all(|request| request.api_version() == Some(MockVersion::V1))
    );
}

#[tokio::test]
async fn v2_is_in_every_path_on_the_api_host() {
    let mock = mock().await;
    let kelviq = client_for(&mock)
        .api_version(ApiVersion::V2)
        .no_entitlement_cache()
        .build()
        .unwrap();
    assert_eq!(kelviq.api_version(), ApiVersion::V2);
    let customer = kelviq.customers().retrieve("cust_pro").await.unwrap();
    assert_eq!(customer.customer_id, "cust_pro");
    kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_pro", "api-calls", 1))
        .await
        .unwrap();
    let retrieve = mock.requests(Route::CustomersRetrieve).pop().unwrap();
    assert_eq!(retrieve.base, Base::Api);
    assert_eq!(retrieve.path, "/api/v2/customers/cust_pro/");
    assert_eq!(retrieve.api_version(), Some(MockVersion::V2));
    assert_eq!(retrieve.status(), Some(200));
    let report = mock.requests(Route::ReportUsage).pop().unwrap();
    assert_eq!(report.path, "/api/v2/report/usage/");
    assert_eq!(report.status(), Some(201));
    assert_eq!(mock.usage_total("cust_pro", "api-calls"), 13);
}

#[tokio::test]
async fn v2_is_in_the_entitlements_path_on_the_edge_host() {
    let mock = mock().await;
    let uncached = client_for(&mock)
        .api_version(ApiVersion::V2)
        .no_entitlement_cache()
        .build()
        .unwrap();
    assert!(
        uncached
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    // The cache loads its snapshots through the same transport.
    let cached = client_for(&mock)
        .api_version(ApiVersion::V2)
        .build()
        .unwrap();
    assert!(
        cached
            .entitlements()
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    let sent = mock.requests(Route::Entitlements);
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(request.base, Base::Edge);
        assert_eq!(request.path, "/api/v2/entitlements");
        assert_eq!(request.api_version(), Some(MockVersion::V2));
        assert_eq!(request.status(), Some(200));
    }
    assert_eq!(
        sent[0].query.as_deref(),
        Some("customer_id=cust_pro&feature_id=reports")
    );
    assert_eq!(sent[1].query.as_deref(), Some("customer_id=cust_pro"));
}

#[tokio::test]
async fn a_version_the_service_does_not_serve_is_a_not_found_from_it() {
    let mock = mock().await;
    let kelviq = client_for(&mock)
        .api_version(ApiVersion::new(3))
        .no_entitlement_cache()
        .build()
        .unwrap();
    let error = kelviq.customers().retrieve("cust_pro").await.unwrap_err();
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
    let sent = mock.journal().pop().unwrap();
    assert_eq!(sent.path, "/api/v3/customers/cust_pro/");
    assert_eq!(sent.route, None);
}

#[test]
fn v0_is_refused_by_build_before_any_request() {
    let error = Kelviq::builder()
        .access_token("sk_test_123")
        .api_version(ApiVersion::new(0))
        .build()
        .unwrap_err();
    let Error::Config(message) = &error else {
        panic!("expected a configuration error, got {error:?}");
    };
    assert!(message.contains("v0"), "{message}");
    let parsed = "v2".parse::<ApiVersion>().unwrap();
    let kelviq = Kelviq::builder()
        .access_token("sk_test_123")
        .api_version(parsed)
        .build()
        .unwrap();
    assert_eq!(kelviq.api_version().to_string(), "v2");
    assert!(matches!("2".parse::<ApiVersion>(), Err(Error::Config(_))));
}
