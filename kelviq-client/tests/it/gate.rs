//! The gate against the mock: decisions for each feature type, limits, unknown features
//! and customers, both failure policies, the exact denial bodies, the adapter functions
//! (`admit`, `finish`, `deny`), metering, and the builder's checks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kelviq_client::gate::{
    Admission, Decision, Denial, DenialReason, FailurePolicy, Gate, Metered, RequestContext,
    Requirement, StatusCode, StatusFilter, UsageAmount,
};
use kelviq_client::meter::MeterConfig;
use kelviq_client::{CacheConfig, Error, Kelviq, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, Feature, MockServer, Plan, Route, Seed, SeedCustomer};
use serde_json::json;

use crate::support::{Setup, Warnings, client_for};

/// A client (with the entitlement cache, as by default) without retries, whose meter
/// flushes every 10 ms.
fn client(mock: &MockServer) -> Kelviq {
    client_for(mock)
        .retry_policy(RetryPolicy::none())
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .build()
        .unwrap()
}

fn requiring(kelviq: &Kelviq, feature: &str) -> Gate {
    kelviq.gate().require(feature).build().unwrap()
}

/// The denial of a decision that must be a [`Decision::Deny`].
fn denied(decision: Decision) -> Denial {
    match decision {
        Decision::Deny(denial) => denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// What `gate` admits for `customer`, as an adapter gets it: at once on a warm cache,
/// after loading the snapshot on a cold one.
async fn admit(gate: &Gate, customer: &str) -> Result<RequestContext, Denial> {
    match gate.admit(Some(customer.into())) {
        Admission::Ready(ready) => ready,
        Admission::Loading(loading) => loading.await,
    }
}

/// The context of a request `gate` lets through.
async fn admitted(gate: &Gate, customer: &str) -> RequestContext {
    admit(gate, customer).await.expect("admitted")
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
    let kelviq = client(&setup.mock);
    for feature in ["reports", "api-calls", "seats"] {
        match requiring(&kelviq, feature).check("cust_pro").await {
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
    let kelviq = client(&setup.mock);
    let gate = kelviq
        .gate()
        .require_all(["reports", "api-calls"])
        .build()
        .unwrap();
    assert!(
        matches!(gate.admit(Some("cust_pro".into())), Admission::Loading(_)),
        "cold cache"
    );
    let first = gate.check("cust_pro").await;
    let second = gate.check("cust_pro").await;
    let warm = match gate.admit(Some("cust_pro".into())) {
        Admission::Ready(Ok(context)) => context,
        other => panic!("a fresh snapshot decides at once: {other:?}"),
    };
    assert_eq!(setup.mock.entitlement_calls("cust_pro"), 1);
    let first = first.snapshot().unwrap();
    assert!(Arc::ptr_eq(first, second.snapshot().unwrap()));
    assert!(Arc::ptr_eq(first, warm.snapshot().unwrap()));
    // A denial on a warm cache needs no call either.
    let exports = requiring(&kelviq, "exports");
    let denial = denied(exports.check("cust_pro").await);
    assert_eq!(denial.feature(), Some("exports"));
    match exports.admit(Some("cust_pro".into())) {
        Admission::Ready(Err(denial)) => assert_eq!(denial.feature(), Some("exports")),
        other => panic!("{other:?}"),
    }
    assert_eq!(setup.mock.entitlement_calls("cust_pro"), 1);
}

#[tokio::test]
async fn a_feature_missing_from_the_plan_is_denied_with_the_exact_body() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let reports = requiring(&kelviq, "reports");
    let denial = denied(reports.check("cust_free").await);
    assert_eq!(denial.reason(), DenialReason::UnknownFeature);
    assert_eq!(denial.status(), 403);
    assert_eq!(
        denial.body(),
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled", "title": "Feature not in plan", "status": 403, "detail": "your plan does not include reports", "code": "feature_not_entitled", "feature": "reports"})
    );
    let body = r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled","title":"Feature not in plan","status":403,"detail":"your plan does not include reports","code":"feature_not_entitled","feature":"reports"}"#;
    assert_eq!(denial.to_json_string(), body);
    // The response every adapter answers with.
    let response = reports.deny(&denial);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.body(), &Bytes::from(body));
    // Through the adapters' path too.
    let denial = admit(&reports, "cust_free").await.unwrap_err();
    assert_eq!(denial.to_json_string(), body);
}

#[tokio::test]
async fn a_gate_on_a_client_without_the_cache_is_refused_naming_it() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock).no_entitlement_cache().build().unwrap();
    let error = kelviq.gate().require("reports").build().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("entitlement cache"), "{message}");
    assert!(message.contains("no_entitlement_cache"), "{message}");
    assert!(mock.journal().is_empty());
}

#[test]
fn a_gate_built_outside_a_runtime_is_refused_naming_it() {
    let kelviq = Kelviq::new("k").unwrap();
    let error = kelviq.gate().require("reports").build().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}

#[tokio::test]
async fn builder_errors_name_the_mistake() {
    let kelviq = Kelviq::new("k").unwrap();
    let message =
        |builder: kelviq_client::gate::GateBuilder| builder.build().unwrap_err().to_string();

    let empty = message(kelviq.gate().require(""));
    assert!(
        empty.contains("require") && empty.contains("empty"),
        "{empty}"
    );
    let empty_any = message(kelviq.gate().require_any(Vec::<String>::new()));
    assert!(empty_any.contains("require_any"), "{empty_any}");
    let ok = message(kelviq.gate().limit_reached_status(StatusCode::OK));
    assert!(
        ok.contains("limit_reached_status") && ok.contains("200"),
        "{ok}"
    );
    let negative = message(kelviq.gate().meter("api-calls", -1));
    assert!(
        negative.contains("meter") && negative.contains("-1"),
        "{negative}"
    );
    let no_feature = message(kelviq.gate().meter("", 1));
    assert!(no_feature.contains("meter"), "{no_feature}");
    let range = message(kelviq.gate().success_statuses(200..200));
    assert!(
        range.contains("success statuses") && range.contains("empty"),
        "{range}"
    );

    // A template keeps its mistake for every gate stamped from it.
    let template = kelviq
        .gate()
        .limit_reached_status(StatusCode::MOVED_PERMANENTLY);
    for feature in ["reports", "exports"] {
        let stamped = message(template.clone().require(feature));
        assert!(stamped.contains("301"), "{stamped}");
    }
    // A good template stamps good gates, with its settings.
    let template = kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .failure_policy(FailurePolicy::Allow);
    let gate = template.clone().require("reports").build().unwrap();
    assert_eq!(gate.limit_reached_status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(gate.failure_policy(), &FailurePolicy::Allow);
    assert!(template.build().unwrap().requirements().is_empty());
}

#[tokio::test]
async fn feature_types_name_features_in_require_and_meter() {
    kelviq_client::feature! {
        Reports = "reports";
        ApiCalls = "api-calls";
        Seats = "seats";
    }
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let gate = kelviq
        .gate()
        .require(Reports)
        .require_any([Seats, Seats])
        .meter(ApiCalls, 3)
        .build()
        .unwrap();
    assert_eq!(
        gate.requirements(),
        [
            Requirement::Feature("reports".to_owned()),
            Requirement::AnyOf(vec!["seats".to_owned(), "seats".to_owned()])
        ]
    );
    assert_eq!(gate.metered_feature(), Some("api-calls"));
    assert_eq!(gate.metered_amount(), Some(3));
    let context = admitted(&gate, "cust_pro").await;
    assert!(gate.finish(&context, 200, None).is_recorded());
    let denial = admit(&gate, "cust_free").await.unwrap_err();
    assert_eq!(denial.feature(), Some("reports"));
    kelviq.usage_meter().unwrap().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 12 + 3);
}

#[tokio::test]
async fn admit_is_ready_on_a_warm_cache_and_loading_on_a_cold_one() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let gate = kelviq.gate().require("api-calls").build().unwrap();

    let cold = gate.admit(Some("cust_free".into()));
    let Admission::Loading(loading) = cold else {
        panic!("a cold cache loads: {cold:?}");
    };
    assert_eq!(
        setup.mock.entitlement_calls("cust_free"),
        0,
        "not polled yet"
    );
    let loaded = loading.await.unwrap();
    assert_eq!(setup.mock.entitlement_calls("cust_free"), 1);
    assert_eq!(loaded.customer_id(), "cust_free");
    assert!(!loaded.is_stale());
    assert!(loaded.snapshot().unwrap().has_access("api-calls"));
    assert_eq!(loaded.limit_reached_status(), StatusCode::FORBIDDEN);

    let warm = gate.admit(Some("cust_free".into()));
    let Admission::Ready(Ok(ready)) = warm else {
        panic!("a warm cache decides at once: {warm:?}");
    };
    assert!(Arc::ptr_eq(
        ready.snapshot().unwrap(),
        loaded.snapshot().unwrap()
    ));
    assert_eq!(setup.mock.entitlement_calls("cust_free"), 1);

    // No customer: decided at once, no call.
    for missing in [None, Some(Arc::from(""))] {
        match gate.admit(missing) {
            Admission::Ready(Err(denial)) => {
                assert_eq!(denial.reason(), DenialReason::MissingCustomer);
                assert_eq!(denial.status(), 401);
            }
            other => panic!("{other:?}"),
        }
    }
    // An unknown customer: loaded, then refused.
    let denial = admit(&gate, "nobody").await.unwrap_err();
    assert_eq!(denial.reason(), DenialReason::UnknownCustomer);
    assert_eq!(setup.mock.entitlement_calls("nobody"), 1);
}

#[tokio::test]
async fn finish_prefers_the_response_amount_then_the_context_amount_then_the_configured_one() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let gate = kelviq.gate().meter("api-calls", 1).build().unwrap();
    let context = admitted(&gate, "cust_free").await;
    assert_eq!(context.usage_amount(), None);
    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Recorded { amount: 1 }
    ));
    context.set_usage_amount(4);
    assert_eq!(context.usage_amount(), Some(4));
    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Recorded { amount: 4 }
    ));
    assert!(matches!(
        gate.finish(&context, 200, Some(UsageAmount(9))),
        Metered::Recorded { amount: 9 }
    ));
    // A context amount of zero records nothing, even with a configured amount.
    context.set_usage_amount(0);
    assert!(matches!(gate.finish(&context, 200, None), Metered::Zero));
    // Clones share the amount: an extractor sets it on its copy of the context.
    context.clone().set_usage_amount(2);
    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Recorded { amount: 2 }
    ));
    // Not a success: nothing, whatever the amounts.
    assert!(matches!(
        gate.finish(&context, 500, Some(UsageAmount(9))),
        Metered::NotSuccess
    ));
    // The gate meters with the client's one meter.
    assert_eq!(context.meter().stats().recorded, 1 + 4 + 9 + 2);
    assert_eq!(gate.usage_meter().stats().recorded, 1 + 4 + 9 + 2);
    kelviq.usage_meter().unwrap().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 16);
}

#[tokio::test]
async fn a_denial_handler_answers_every_denial() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let gate = kelviq
        .gate()
        .require("reports")
        .on_denied(|denial| {
            let mut response = http::Response::new(Bytes::from(denial.code()));
            *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
            response
        })
        .build()
        .unwrap();
    let denial = admit(&gate, "cust_free").await.unwrap_err();
    let response = gate.deny(&denial);
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(response.body(), &Bytes::from("feature_not_entitled"));
    let missing = Denial::missing_customer();
    assert_eq!(gate.deny(&missing).body(), &Bytes::from("missing_customer"));
    // Without a handler: the denial's own response.
    let plain = requiring(&kelviq, "reports");
    assert_eq!(plain.deny(&missing).status(), 401);
}

#[tokio::test]
async fn a_reached_hard_limit_is_denied_with_the_configured_status() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = client(&setup.mock);
    let denial = denied(requiring(&kelviq, "exports").check("acme").await);
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(denial.status(), 403);
    let mut body = denial.body();
    let reset = body
        .as_object_mut()
        .unwrap()
        .remove("resetAt")
        .expect("the mock gives the period's end");
    assert!(reset.as_str().unwrap().ends_with('Z'), "{reset}");
    assert_eq!(
        body,
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#usage-limit-reached", "title": "Usage limit reached", "status": 403, "detail": "you have reached the usage limit of exports", "code": "usage_limit_reached", "feature": "exports", "limit": 3, "used": 3, "remaining": 0})
    );
    let too_many = kelviq
        .gate()
        .require("exports")
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .build()
        .unwrap();
    let denial = denied(too_many.check("acme").await);
    assert_eq!(
        (denial.status(), denial.code()),
        (StatusCode::TOO_MANY_REQUESTS, "usage_limit_reached")
    );
    assert_eq!(too_many.deny(&denial).status(), 429);
}

#[tokio::test]
async fn a_soft_limit_past_its_limit_is_still_allowed() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = client(&setup.mock);
    assert!(
        requiring(&kelviq, "emails")
            .check("acme")
            .await
            .is_allowed()
    );
}

#[tokio::test]
async fn all_of_and_any_of() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let all = kelviq
        .gate()
        .require_all(["api-calls", "reports", "seats"])
        .build()
        .unwrap();
    assert!(all.check("cust_pro").await.is_allowed());
    let denial = denied(all.check("cust_free").await);
    assert_eq!(denial.feature(), Some("reports"));

    let any = kelviq
        .gate()
        .require_any(["reports", "seats"])
        .build()
        .unwrap();
    assert!(any.check("cust_free").await.is_allowed());
    let none = kelviq
        .gate()
        .require_any(["reports", "exports"])
        .build()
        .unwrap();
    let denial = denied(none.check("cust_free").await);
    assert_eq!(
        (denial.reason(), denial.feature()),
        (DenialReason::UnknownFeature, Some("reports"))
    );
}

#[tokio::test]
async fn an_unknown_customer_is_denied_whatever_the_failure_policy() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    for policy in [FailurePolicy::Deny, FailurePolicy::Allow] {
        let gate = kelviq
            .gate()
            .require("reports")
            .failure_policy(policy)
            .build()
            .unwrap();
        let denial = denied(gate.check("nobody").await);
        assert_eq!(denial.status(), 403);
        assert_eq!(
            denial.body(),
            json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#unknown-customer", "title": "Unknown customer", "status": 403, "detail": "no plan is on record for this customer", "code": "unknown_customer"})
        );
    }
}

#[tokio::test]
async fn an_empty_customer_id_is_a_missing_customer_without_a_call() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let denial = denied(requiring(&kelviq, "reports").check("").await);
    assert_eq!(denial.status(), 401);
    assert_eq!(
        denial.to_json_string(),
        r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#missing-customer","title":"Customer not identified","status":401,"detail":"this request does not identify a customer","code":"missing_customer"}"#
    );
    assert!(matches!(
        requiring(&kelviq, "reports").admit(Some("".into())),
        Admission::Ready(Err(_))
    ));
    assert_eq!(setup.mock.calls(Route::Entitlements), 0);
}

#[tokio::test]
async fn kelviq_down_fails_closed_by_default_with_a_503_body() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let kelviq = client(&setup.mock);
    match requiring(&kelviq, "reports").check("cust_pro").await {
        Decision::Unavailable(denial) => {
            assert_eq!(denial.status(), 503);
            assert_eq!(denial.reason(), DenialReason::Unavailable);
            assert_eq!(
                denial.to_json_string(),
                r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#kelviq-unavailable","title":"Entitlements unavailable","status":503,"detail":"entitlements cannot be checked right now; try again later","code":"kelviq_unavailable"}"#
            );
            let error = denial.error().expect("the error is kept");
            assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
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
    let kelviq = client(&setup.mock);
    let open = kelviq
        .gate()
        .require("reports")
        .failure_policy(FailurePolicy::Allow)
        .build()
        .unwrap();
    assert!(matches!(
        open.check("cust_pro").await,
        Decision::Allow {
            snapshot: None,
            stale: false
        }
    ));
    // An adapter lets it through with a context that has no snapshot.
    let context = admitted(&open, "cust_pro").await;
    assert!(context.snapshot().is_none() && !context.is_stale());
    assert!(context.evaluate_feature("reports").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_stale_snapshot_still_decides_while_kelviq_is_down() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(
            CacheConfig::default()
                .ttl(Duration::from_secs(1))
                .stale_window(Duration::from_secs(3600)),
        )
        .build()
        .unwrap();
    assert!(
        requiring(&kelviq, "reports")
            .check("cust_free")
            .await
            .denial()
            .is_some()
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let seats = requiring(&kelviq, "seats");
    assert!(
        matches!(seats.admit(Some("cust_free".into())), Admission::Loading(_)),
        "a stale snapshot is not decided without trying Kelviq"
    );
    match seats.check("cust_free").await {
        Decision::Allow { snapshot, stale } => assert!(snapshot.is_some() && stale),
        other => panic!("{other:?}"),
    }
    let context = admitted(&seats, "cust_free").await;
    assert!(context.is_stale() && context.snapshot().is_some());
    let denial = denied(requiring(&kelviq, "reports").check("cust_free").await);
    assert_eq!(denial.reason(), DenialReason::UnknownFeature);
}

#[tokio::test]
async fn a_bad_token_is_unavailable_not_the_end_users_fault() {
    let mock = MockServer::start().await;
    let kelviq = client_for(&mock)
        .access_token("not-the-token")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    match requiring(&kelviq, "reports").check("cust_pro").await {
        Decision::Unavailable(denial) => {
            assert_eq!(denial.status(), 503);
            assert_eq!(
                denial.error().and_then(Error::status),
                Some(StatusCode::UNAUTHORIZED)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn metering_records_on_success_only_and_takes_the_response_amount() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let meter = kelviq.usage_meter().unwrap().clone();
    let gate = kelviq
        .gate()
        .require("reports")
        .meter("api-calls", 2)
        .build()
        .unwrap();
    assert!(gate.meters());
    let context = admitted(&gate, "cust_pro").await;

    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Recorded { amount: 2 }
    ));
    assert!(matches!(
        gate.finish(&context, 201, Some(UsageAmount(5))),
        Metered::Recorded { amount: 5 }
    ));
    for status in [199, 301, 404, 500] {
        assert!(matches!(
            gate.finish(&context, status, Some(UsageAmount(100))),
            Metered::NotSuccess
        ));
    }
    assert!(matches!(
        gate.finish(&context, 200, Some(UsageAmount(0))),
        Metered::Zero
    ));
    assert_eq!(meter.stats().recorded, 7);
    meter.flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 12 + 7);

    let unmetered = requiring(&kelviq, "exports");
    assert!(matches!(
        unmetered.finish(&context, 200, Some(UsageAmount(3))),
        Metered::NotConfigured
    ));
    meter.shutdown(Duration::from_secs(5)).await;
    assert!(matches!(
        gate.finish(&context, 200, None),
        Metered::Failed(Error::MeterClosed)
    ));
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 12 + 7);
}

#[tokio::test]
async fn a_custom_success_filter_decides_what_is_metered() {
    let setup = Setup::start().await;
    let kelviq = client(&setup.mock);
    let created_only = kelviq
        .gate()
        .meter("api-calls", 1)
        .success_statuses(201..=201)
        .build()
        .unwrap();
    let context = admitted(&created_only, "cust_free").await;
    assert!(!created_only.finish(&context, 200, None).is_recorded());
    assert!(created_only.finish(&context, 201, None).is_recorded());
    let below_500 = kelviq
        .gate()
        .meter("api-calls", 1)
        .success_statuses(StatusFilter::Custom(|status| status < 500))
        .build()
        .unwrap();
    let filter = below_500.success_statuses();
    assert!(filter.matches(404) && !filter.matches(503));
    assert!(below_500.finish(&context, 404, None).is_recorded());
    kelviq.usage_meter().unwrap().flush().await.unwrap();
    assert_eq!(setup.mock.usage_total("cust_free", "api-calls"), 2);
}

#[tokio::test]
async fn a_meter_only_gate_allows_and_metered_usage_reaches_the_limit_without_a_refresh() {
    let setup = Setup::with(MockServer::builder().seed(limits_seed())).await;
    let kelviq = client(&setup.mock);
    let meter_only = kelviq.gate().meter("uploads", 1).build().unwrap();
    assert!(meter_only.check("acme").await.is_allowed());
    let uploads = kelviq
        .gate()
        .require("uploads")
        .meter("uploads", 1)
        .build()
        .unwrap();
    let context = admitted(&uploads, "acme").await;
    assert!(uploads.finish(&context, 200, None).is_recorded());
    // The meter applied the unit to the cached snapshot: 3 of 3, refused at once.
    let denial = denied(uploads.check("acme").await);
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    match uploads.admit(Some("acme".into())) {
        Admission::Ready(Err(denial)) => {
            assert_eq!(denial.reason(), DenialReason::LimitReached);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(setup.mock.entitlement_calls("acme"), 1);
    kelviq
        .usage_meter()
        .unwrap()
        .shutdown(Duration::from_secs(5))
        .await;
    assert_eq!(setup.mock.usage_total("acme", "uploads"), 3);
}

/// An outage does not write one warning per request: 40 refusals while Kelviq is down
/// give one `kelviq unavailable` warning (the rest at `debug`, counted in `held_back`).
#[tokio::test]
async fn an_outage_warns_once_not_once_per_request() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let kelviq = client(&setup.mock);
    let gate = requiring(&kelviq, "reports");
    let (warnings, _guard) = Warnings::capture();
    for customer in (0..40).map(|i| format!("cust_{i}")) {
        assert!(matches!(
            gate.check(&customer).await,
            Decision::Unavailable(_)
        ));
    }
    let unavailable = warnings.count("kelviq unavailable: refusing the request");
    assert_eq!(unavailable, 1, "{:#?}", warnings.lines());
}
