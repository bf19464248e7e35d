//! `kelviq.entitlements()`: the edge host, aggregation, and an unknown feature. These
//! tests pin the API calls themselves, so their client has no entitlement cache (the
//! cached path is in `cache.rs`).

use kelviq_client::Error;
use kelviq_client::models::FeatureType;
use kelviq_mock::{Base, Feature, MockServer, Plan, Route, Seed, SeedCustomer};

use crate::support::{Setup, uncached};

#[tokio::test]
async fn checks_go_to_the_edge_host_with_snake_case_query() {
    let setup = Setup::start().await;
    let kelviq = uncached(&setup.mock);
    let entitlements = kelviq.entitlements();
    assert!(
        entitlements
            .has_access("cust_pro", "reports")
            .await
            .unwrap()
    );
    assert!(
        !entitlements
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );
    let sent = setup.mock.requests(Route::Entitlements);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].base, Base::Edge);
    assert_eq!(sent[0].path, "/api/v1/entitlements");
    assert_eq!(
        sent[0].query.as_deref(),
        Some("customer_id=cust_pro&feature_id=reports")
    );

    let all = entitlements.get_all_entitlements("cust_pro").await.unwrap();
    assert_eq!(all.customer_id(), "cust_pro");
    assert_eq!(all.len(), 3);
    assert_eq!(
        setup.mock.requests(Route::Entitlements)[2].query.as_deref(),
        Some("customer_id=cust_pro")
    );
    let calls = all.get("api-calls").unwrap();
    assert_eq!(calls.feature_type(), Some(&FeatureType::Meter));
    assert_eq!(
        (calls.limit(), calls.usage(), calls.remaining()),
        (Some(10000), Some(12), Some(9988))
    );
}

#[tokio::test]
async fn one_feature_raw_and_aggregated() {
    let setup = Setup::start().await;
    let kelviq = uncached(&setup.mock);
    let entitlements = kelviq.entitlements();
    let seats = entitlements
        .get_entitlement("cust_pro", "seats")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seats.limit(), Some(10));
    assert!(
        entitlements
            .get_entitlement("cust_free", "reports")
            .await
            .unwrap()
            .is_none()
    );
    let raw = entitlements
        .get_raw_entitlement("cust_pro", "api-calls")
        .await
        .unwrap();
    assert_eq!(raw.entitlements.len(), 1);
    assert_eq!(raw.entitlements[0].current_usage(), Some(12));
    let raw_all = entitlements
        .get_raw_entitlements("cust_free")
        .await
        .unwrap();
    assert_eq!(raw_all.entitlements.len(), 2);
}

#[tokio::test]
async fn a_feature_in_two_subscriptions_is_aggregated_once() {
    let seed = Seed::empty()
        .plan(Plan::new("base").feature(Feature::metered("calls").limit(10)))
        .plan(Plan::new("boost").feature(Feature::metered("calls").limit(5)))
        .customer(
            SeedCustomer::new("c")
                .subscribe("base")
                .subscribe("boost")
                .usage("calls", 12),
        );
    let setup = Setup::with(MockServer::builder().seed(seed)).await;
    // The same aggregate from a single-feature call and from the cached snapshot.
    for kelviq in [uncached(&setup.mock), setup.kelviq.clone()] {
        let calls = kelviq
            .entitlements()
            .get_entitlement("c", "calls")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(calls.items().len(), 2);
        assert_eq!(calls.limit(), Some(15));
        assert_eq!(calls.usage(), Some(12));
        assert_eq!(calls.remaining(), Some(3));
        assert!(calls.has_access());
    }
    let sent = setup.mock.requests(Route::Entitlements);
    assert_eq!(
        sent[0].query.as_deref(),
        Some("customer_id=c&feature_id=calls")
    );
    assert_eq!(sent[1].query.as_deref(), Some("customer_id=c"));
}

#[tokio::test]
async fn unknown_customers_and_empty_ids() {
    let setup = Setup::start().await;
    let kelviq = uncached(&setup.mock);
    let entitlements = kelviq.entitlements();
    let error = entitlements
        .has_access("nobody", "reports")
        .await
        .unwrap_err();
    assert_eq!(
        error.as_api().unwrap().detail(),
        Some("Customer not found.")
    );
    for error in [
        entitlements.has_access("", "reports").await.unwrap_err(),
        entitlements.has_access("cust_pro", "").await.unwrap_err(),
        entitlements.get_all_entitlements("").await.unwrap_err(),
    ] {
        assert!(matches!(error, Error::Validation { .. }), "{error:?}");
    }
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
}
