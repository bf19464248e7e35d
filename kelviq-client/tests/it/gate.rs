//! The gate against the mock: decisions for each feature type, limits, unknown features
//! and customers, both failure policies, the exact denial bodies, and metering.

use std::time::Duration;

use kelviq_client::gate::{
    Decision, Denial, DenialReason, FailurePolicy, Gate, Metered, StatusFilter,
};
use kelviq_client::meter::UsageMeter;
use kelviq_client::{CacheConfig, Kelviq, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, Feature, MockServer, Plan, Route, Seed, SeedCustomer};
use serde_json::json;

use crate::support::{Setup, client_for};

/// A client with the entitlement cache and no retries.
fn cached(mock: &MockServer) -> Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(CacheConfig::default())
        .build()
        .unwrap()
}

fn requiring(feature: &str) -> Gate {
    Gate::builder().require(feature).build().unwrap()
}

fn meter(kelviq: &Kelviq) -> UsageMeter {
    UsageMeter::builder(kelviq.clone())
        .flush_interval(Duration::from_millis(10))
        .start()
        .unwrap()
}

/// The denial of a decision that must be a [`Decision::Deny`].
fn denied(decision: Decision) -> Denial {
    match decision {
        Decision::Deny(denial) => denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// A plan with a hard meter at its limit, a soft one past it and a hard one below it.
fn limits_seed() -> Seed {
    Seed::empty()
        .plan(
            Plan::new("metered")
                .feature(Feature::metered("exports").limit(3))
                .feature(Feature::metered("emails").limit(3).soft_limit())
                .feature(Feature::metered("uploads").limit(3)),
        )
        .customer(
            SeedCustomer::new("acme")
                .subscribe("metered")
                .usage("exports", 3)
                .usage("emails", 5)
                .usage("uploads", 2),
        )
}

#[tokio::test]
async fn each_feature_type_with_access_is_allowed_with_the_snapshot() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    for feature in ["reports", "api-calls", "seats"] {
        match requiring(feature).check(&kelviq, "cust_pro").await {
            Decision::Allow { snapshot, stale } => {
                let snapshot = snapshot.expect("a snapshot");
                assert!(snapshot.has_access(feature));
                assert!(!stale);
            }
            other => panic!("{feature}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_warm_check_makes_no_second_call_and_shares_the_snapshot() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let gate = Gate::builder()
        .require_all(["reports", "api-calls"])
        .build()
        .unwrap();
    assert!(
        gate.check_cached(&kelviq, "cust_pro").is_none(),
        "cold cache"
    );
    let first = gate.check(&kelviq, "cust_pro").await;
    let second = gate.check(&kelviq, "cust_pro").await;
    let warm = gate
        .check_cached(&kelviq, "cust_pro")
        .expect("a fresh snapshot");
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
    let first = first.snapshot().unwrap();
    assert!(std::sync::Arc::ptr_eq(first, second.snapshot().unwrap()));
    assert!(std::sync::Arc::ptr_eq(first, warm.snapshot().unwrap()));
    // A denial on a warm cache needs no call either.
    let denial = denied(requiring("exports").check(&kelviq, "cust_pro").await);
    assert_eq!(denial.feature(), Some("exports"));
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
}

#[tokio::test]
async fn a_feature_missing_from_the_plan_is_denied_with_the_exact_body() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let denial = denied(requiring("reports").check(&kelviq, "cust_free").await);
    assert_eq!(denial.reason(), DenialReason::UnknownFeature);
    assert_eq!(denial.status(), 403);
    assert_eq!(
        denial.body(),
        json!({"error": "feature_not_entitled",
               "message": "your plan does not include reports",
               "feature": "reports"})
    );
    assert_eq!(
        denial.to_json_string(),
        r#"{"error":"feature_not_entitled","message":"your plan does not include reports","feature":"reports"}"#
    );
    // The same on a client without a cache.
    let denial = denied(requiring("reports").check(&setup.kelviq, "cust_free").await);
    assert_eq!(denial.code(), "feature_not_entitled");
}

#[tokio::test]
async fn a_reached_hard_limit_is_denied_with_the_configured_status() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = cached(&setup.mock);
    let denial = denied(requiring("exports").check(&kelviq, "acme").await);
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(denial.status(), 403);
    assert_eq!(
        denial.body(),
        json!({"error": "usage_limit_reached",
               "message": "you have reached the usage limit of exports",
               "feature": "exports"})
    );
    let too_many = Gate::builder()
        .require("exports")
        .limit_reached_status(429)
        .build()
        .unwrap();
    let denial = denied(too_many.check(&kelviq, "acme").await);
    assert_eq!(
        (denial.status(), denial.code()),
        (429, "usage_limit_reached")
    );
    assert_eq!(denial.status_code(), http::StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_soft_limit_past_its_limit_is_still_allowed() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = cached(&setup.mock);
    assert!(
        requiring("emails")
            .check(&kelviq, "acme")
            .await
            .is_allowed()
    );
}

#[tokio::test]
async fn all_of_and_any_of() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let all = Gate::builder()
        .require_all(["api-calls", "reports", "seats"])
        .build()
        .unwrap();
    assert!(all.check(&kelviq, "cust_pro").await.is_allowed());
    let denial = denied(all.check(&kelviq, "cust_free").await);
    assert_eq!(denial.feature(), Some("reports"));

    let any = Gate::builder()
        .require_any(["reports", "seats"])
        .build()
        .unwrap();
    assert!(any.check(&kelviq, "cust_free").await.is_allowed());
    let none = Gate::builder()
        .require_any(["reports", "exports"])
        .build()
        .unwrap();
    let denial = denied(none.check(&kelviq, "cust_free").await);
    assert_eq!(
        (denial.reason(), denial.feature()),
        (DenialReason::UnknownFeature, Some("reports"))
    );
}

#[tokio::test]
async fn an_unknown_customer_is_denied_whatever_the_failure_policy() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    for policy in [FailurePolicy::Deny, FailurePolicy::Allow] {
        let gate = Gate::builder()
            .require("reports")
            .failure_policy(policy)
            .build()
            .unwrap();
        let denial = denied(gate.check(&kelviq, "nobody").await);
        assert_eq!(denial.status(), 403);
        assert_eq!(
            denial.body(),
            json!({"error": "unknown_customer",
                   "message": "no plan is on record for this customer",
                   "feature": null})
        );
    }
}

#[tokio::test]
async fn an_empty_customer_id_is_a_missing_customer_without_a_call() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let denial = denied(requiring("reports").check(&kelviq, "").await);
    assert_eq!(denial.status(), 401);
    assert_eq!(
        denial.to_json_string(),
        r#"{"error":"missing_customer","message":"this request does not identify a customer","feature":null}"#
    );
    assert!(requiring("reports").check_cached(&kelviq, "").is_some());
    assert_eq!(setup.mock.calls(Route::Entitlements), 0);
}

#[tokio::test]
async fn kelviq_down_fails_closed_by_default_with_a_503_body() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let kelviq = cached(&setup.mock);
    match requiring("reports").check(&kelviq, "cust_pro").await {
        Decision::Unavailable(denial) => {
            assert_eq!(denial.status(), 503);
            assert_eq!(denial.reason(), DenialReason::Unavailable);
            assert_eq!(
                denial.to_json_string(),
                r#"{"error":"kelviq_unavailable","message":"entitlements cannot be checked right now; try again later","feature":null}"#
            );
            let error = denial.error().expect("the error is kept");
            assert_eq!(error.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn kelviq_down_lets_requests_through_when_failing_open() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let kelviq = cached(&setup.mock);
    let open = Gate::builder()
        .require("reports")
        .failure_policy(FailurePolicy::Allow)
        .build()
        .unwrap();
    assert!(matches!(
        open.check(&kelviq, "cust_pro").await,
        Decision::Allow {
            snapshot: None,
            stale: false
        }
    ));
}

#[tokio::test]
async fn a_stale_snapshot_still_decides_while_kelviq_is_down() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(
            CacheConfig::default()
                .ttl(Duration::from_millis(1))
                .stale_window(Duration::from_secs(3600)),
        )
        .build()
        .unwrap();
    assert!(
        requiring("reports")
            .check(&kelviq, "cust_free")
            .await
            .denial()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    assert!(
        requiring("seats")
            .check_cached(&kelviq, "cust_free")
            .is_none()
    );
    match requiring("seats").check(&kelviq, "cust_free").await {
        Decision::Allow { snapshot, stale } => assert!(snapshot.is_some() && stale),
        other => panic!("{other:?}"),
    }
    let denial = denied(requiring("reports").check(&kelviq, "cust_free").await);
    assert_eq!(denial.reason(), DenialReason::UnknownFeature);
}

#[tokio::test]
async fn a_bad_token_is_unavailable_not_the_end_users_fault() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock)
        .access_token("not-the-token")
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(CacheConfig::default())
        .build()
        .unwrap();
    match requiring("reports").check(&kelviq, "cust_pro").await {
        Decision::Unavailable(denial) => {
            assert_eq!(denial.status(), 503);
            assert_eq!(
                denial.error().and_then(kelviq_client::Error::status),
                Some(http::StatusCode::UNAUTHORIZED)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn metering_records_on_success_only_and_takes_the_response_amount() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let meter = meter(&kelviq);
    let gate = Gate::builder()
        .require("reports")
        .meter("api-calls", 2)
        .build()
        .unwrap();
    assert!(gate.meters());
    assert!(gate.check(&kelviq, "cust_pro").await.is_allowed());

    assert!(matches!(
        gate.after_response(&meter, "cust_pro", 200, None),
        Metered::Recorded { amount: 2 }
    ));
    assert!(matches!(
        gate.after_response(&meter, "cust_pro", 201, Some(5)),
        Metered::Recorded { amount: 5 }
    ));
    for status in [199, 301, 404, 500] {
        assert!(matches!(
            gate.after_response(&meter, "cust_pro", status, Some(100)),
            Metered::NotSuccess
        ));
    }
    assert!(matches!(
        gate.after_response(&meter, "cust_pro", 200, Some(0)),
        Metered::Zero
    ));
    assert_eq!(meter.stats().recorded, 7);
    meter.flush().await;
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 12 + 7);

    let unmetered = requiring("exports");
    assert!(matches!(
        unmetered.after_response(&meter, "cust_pro", 200, Some(3)),
        Metered::NotConfigured
    ));
    meter.shutdown(Duration::from_secs(5)).await;
    assert!(matches!(
        gate.after_response(&meter, "cust_pro", 200, None),
        Metered::Failed(kelviq_client::Error::MeterClosed)
    ));
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 12 + 7);
}

#[tokio::test]
async fn a_custom_success_filter_decides_what_is_metered() {
    let setup = Setup::start().await;
    let kelviq = cached(&setup.mock);
    let meter = meter(&kelviq);
    let created_only = Gate::builder()
        .meter("api-calls", 1)
        .success_statuses(201..=201)
        .build()
        .unwrap();
    assert!(
        !created_only
            .after_response(&meter, "cust_free", 200, None)
            .is_recorded()
    );
    assert!(
        created_only
            .after_response(&meter, "cust_free", 201, None)
            .is_recorded()
    );
    let below_500 = Gate::builder()
        .meter("api-calls", 1)
        .success_statuses(StatusFilter::Custom(|status| status < 500))
        .build()
        .unwrap();
    assert!(below_500.should_meter(404) && !below_500.should_meter(503));
    assert!(
        below_500
            .after_response(&meter, "cust_free", 404, None)
            .is_recorded()
    );
    meter.flush().await;
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 2);
}

#[tokio::test]
async fn a_meter_only_gate_allows_and_metered_usage_reaches_the_limit_without_a_refresh() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = cached(&setup.mock);
    let meter = meter(&kelviq);
    let meter_only = Gate::builder().meter("uploads", 1).build().unwrap();
    assert!(meter_only.check(&kelviq, "acme").await.is_allowed());
    let uploads = Gate::builder()
        .require("uploads")
        .meter("uploads", 1)
        .build()
        .unwrap();
    assert!(uploads.check(&kelviq, "acme").await.is_allowed());
    assert!(
        uploads
            .after_response(&meter, "acme", 200, None)
            .is_recorded()
    );
    // The meter applied the unit to the cached snapshot: 3 of 3, refused at once.
    let denial = denied(uploads.check(&kelviq, "acme").await);
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
    meter.shutdown(Duration::from_secs(5)).await;
    assert_eq!(setup.mock.usage_total("acme", "uploads"), 3);
}
