//! `kelviq.reporting()`: usage and events on the wire.

use kelviq_client::{Error, ReportEvent, ReportUsage};
use kelviq_mock::Route;
use serde_json::{Map, json};

use crate::support::Setup;

#[tokio::test]
async fn usage_reports_are_camel_case_and_change_the_entitlement() {
    let setup = Setup::start().await;
    let report = setup
        .kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_free", "api-calls", 100).resource_id("doc-7"))
        .await
        .unwrap();
    assert_eq!(report.value, 100);
    assert_eq!(report.behaviour, "DELTA");
    assert_eq!(report.resource_id.as_deref(), Some("doc-7"));
    assert_eq!(report.org_id, "org_mock");
    assert_eq!(
        setup.mock.requests(Route::ReportUsage)[0].json().unwrap(),
        json!({"value": 100, "customerId": "cust_free", "featureId": "api-calls",
               "behaviour": "DELTA", "resourceId": "doc-7"})
    );
    assert!(
        !setup
            .kelviq
            .entitlements()
            .has_access("cust_free", "api-calls")
            .await
            .unwrap()
    );

    setup
        .kelviq
        .reporting()
        .report_usage(ReportUsage::set("cust_free", "api-calls", 5))
        .await
        .unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 5);
    assert_eq!(
        setup.mock.requests(Route::ReportUsage)[1].json().unwrap()["behaviour"],
        "SET"
    );
}

#[tokio::test]
async fn a_negative_delta_is_legal() {
    let setup = Setup::start().await;
    setup
        .kelviq
        .reporting()
        .report_usage(ReportUsage::delta("cust_pro", "api-calls", -2))
        .await
        .unwrap();
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 10);
}

#[tokio::test]
async fn events_carry_a_generated_key_and_timestamp() {
    let setup = Setup::start().await;
    let mut properties = Map::new();
    properties.insert("rows".to_owned(), json!(3));
    let event = setup
        .kelviq
        .reporting()
        .report_event(ReportEvent::new("cust_pro", "report.exported").properties(properties))
        .await
        .unwrap();
    assert_eq!(event.idempotency_key.len(), 36);
    let sent = setup.mock.requests(Route::ReportEvent)[0].json().unwrap();
    assert_eq!(sent["idempotencyKey"], event.idempotency_key.as_str());
    assert_eq!(sent["properties"], json!({"rows": 3}));
    assert_eq!(sent["timestamp"].as_str().unwrap().len(), 26);
    let keys: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");

    let given = ReportEvent::new("cust_pro", "report.exported")
        .idempotency_key("fixed-key")
        .timestamp("2025-05-22 08:27:45.1");
    let reporting = setup.kelviq.reporting();
    reporting.report_event(given.clone()).await.unwrap();
    reporting.report_event(given).await.unwrap();
    let stored = setup.mock.events();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].idempotency_key, "fixed-key");
    assert_eq!(stored[1].deliveries, 2);
}

#[tokio::test]
async fn invalid_reports_are_refused_before_any_request() {
    let setup = Setup::start().await;
    let reporting = setup.kelviq.reporting();
    let errors = [
        reporting
            .report_usage(ReportUsage::delta("", "api-calls", 1))
            .await
            .unwrap_err(),
        reporting
            .report_usage(ReportUsage::delta("c", "", 1))
            .await
            .unwrap_err(),
        reporting
            .report_event(ReportEvent::new("cust_pro", ""))
            .await
            .unwrap_err(),
        reporting
            .report_event(ReportEvent::new("cust_pro", "e").idempotency_key(""))
            .await
            .unwrap_err(),
        reporting
            .report_event(ReportEvent::new("cust_pro", "e").timestamp("2025-05-22T08:27:45Z"))
            .await
            .unwrap_err(),
    ];
    for error in errors {
        assert!(matches!(error, Error::Validation { .. }), "{error:?}");
    }
    assert!(setup.mock.journal().is_empty());
}
