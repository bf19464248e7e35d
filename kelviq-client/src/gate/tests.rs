//! Pure decision logic: requirements judged on hand-made snapshots, builder validation,
//! denial bodies, status filters.
//!
//! A gate needs a client; `Kelviq::new` is enough for `evaluate`, which does no I/O.
//! Building a gate starts the client's usage meter, so those tests run on a runtime.

use std::error::Error as _;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::Kelviq;
use crate::cache::Snapshot;
use crate::error::Error;
use crate::models::{Entitlements, RawEntitlements};

fn snapshot(entries: serde_json::Value) -> Snapshot {
    let raw: RawEntitlements =
        serde_json::from_value(json!({"customerId": "c", "entitlements": entries})).unwrap();
    Snapshot::new(Entitlements::from_raw(raw))
}

/// A boolean feature with and without access, meters (hard reached, soft past the limit,
/// unlimited, server-denied) and a customizable one.
fn sample() -> Snapshot {
    snapshot(json!([
        {"featureId": "reports", "featureType": "BOOLEAN", "hasAccess": true},
        {"featureId": "beta", "featureType": "BOOLEAN", "hasAccess": false},
        {"featureId": "calls", "featureType": "METER", "hasAccess": true, "hardLimit": true,
         "usageLimit": 10, "currentUsage": 10},
        {"featureId": "soft", "featureType": "METER", "hasAccess": true, "hardLimit": false,
         "usageLimit": 10, "currentUsage": 14},
        {"featureId": "unlimited", "featureType": "METER", "hasAccess": true, "hardLimit": true,
         "usageLimit": null, "currentUsage": 999},
        {"featureId": "revoked", "featureType": "METER", "hasAccess": false, "hardLimit": false,
         "usageLimit": null, "currentUsage": 1},
        {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true,
         "usageLimit": 10, "currentUsage": 0, "remaining": 10}
    ]))
}

/// A client for gates whose decisions are judged with `evaluate` only.
fn kelviq() -> Kelviq {
    Kelviq::new("k").unwrap()
}

/// A gate builder on a fresh client.
fn builder() -> GateBuilder {
    kelviq().gate()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

fn requiring(feature: &str) -> Gate {
    builder().require(feature).build().unwrap()
}

fn denial_of(gate: &Gate) -> Denial {
    gate.evaluate(&sample()).unwrap_err()
}

#[tokio::test]
async fn every_feature_type_with_access_passes() {
    for feature in ["reports", "soft", "unlimited", "seats"] {
        assert!(requiring(feature).evaluate(&sample()).is_ok(), "{feature}");
    }
}

#[tokio::test]
async fn a_listed_feature_without_access_is_not_entitled() {
    for feature in ["beta", "revoked"] {
        let denial = denial_of(&requiring(feature));
        assert_eq!(denial.reason(), DenialReason::NoAccess);
        assert_eq!(denial.status(), 403);
        assert_eq!(denial.code(), "feature_not_entitled");
        assert_eq!(denial.feature(), Some(feature));
    }
}

#[tokio::test]
async fn a_reached_hard_limit_has_its_own_code_and_the_configured_status() {
    let denial = denial_of(&requiring("calls"));
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(denial.status(), 403);
    assert_eq!(
        denial.body(),
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#usage-limit-reached", "title": "Usage limit reached", "status": 403, "detail": "you have reached the usage limit of calls", "code": "usage_limit_reached", "feature": "calls", "limit": 10, "used": 10, "remaining": 0})
    );
    let gate = builder()
        .require("calls")
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .build()
        .unwrap();
    let denial = denial_of(&gate);
    assert_eq!(denial.status(), 429);
    assert_eq!(denial.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denial.code(), "usage_limit_reached");
}

#[tokio::test]
async fn a_feature_the_snapshot_lacks_is_unknown() {
    let denial = denial_of(&requiring("exports"));
    assert_eq!(denial.reason(), DenialReason::UnknownFeature);
    assert_eq!(denial.status(), 403);
    assert_eq!(
        denial.to_json_string(),
        r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled","title":"Feature not in plan","status":403,"detail":"your plan does not include exports","code":"feature_not_entitled","feature":"exports"}"#
    );
}

#[tokio::test]
async fn all_of_is_decided_by_the_first_failing_feature() {
    let gate = builder()
        .require_all(["reports", "beta", "calls"])
        .build()
        .unwrap();
    assert_eq!(denial_of(&gate).feature(), Some("beta"));
    let gate = builder()
        .require("reports")
        .require_all(["seats", "soft"])
        .build()
        .unwrap();
    assert!(gate.evaluate(&sample()).is_ok());
    assert_eq!(gate.requirements().len(), 3);
}

#[tokio::test]
async fn any_of_passes_with_one_and_otherwise_names_its_first_feature() {
    let gate = builder()
        .require_any(["beta", "exports", "seats"])
        .build()
        .unwrap();
    assert!(gate.evaluate(&sample()).is_ok());
    let gate = builder()
        .require_any(["calls", "beta", "exports"])
        .limit_reached_status(StatusCode::PAYMENT_REQUIRED)
        .build()
        .unwrap();
    let denial = denial_of(&gate);
    assert_eq!(denial.reason(), DenialReason::LimitReached);
    assert_eq!(denial.feature(), Some("calls"));
    assert_eq!(denial.status(), 402);
    // Combined with a plain requirement, both must pass.
    let gate = builder()
        .require("beta")
        .require_any(["reports"])
        .build()
        .unwrap();
    assert_eq!(denial_of(&gate).feature(), Some("beta"));
}

#[tokio::test]
async fn a_gate_without_requirements_allows_any_snapshot() {
    let gate = builder().meter("calls", 1).build().unwrap();
    assert!(gate.evaluate(&snapshot(json!([]))).is_ok());
    assert!(gate.requirements().is_empty());
    assert!(gate.meters());
}

#[test]
fn evaluate_feature_refuses_as_a_gate_would() {
    let sample = sample();
    assert!(evaluate_feature(&sample, "reports").is_ok());
    let denial = evaluate_feature(&sample, "calls").unwrap_err();
    assert_eq!(
        (denial.reason(), denial.status()),
        (DenialReason::LimitReached, StatusCode::FORBIDDEN)
    );
    assert_eq!(
        evaluate_feature(&sample, "nope").unwrap_err().reason(),
        DenialReason::UnknownFeature
    );
}

#[tokio::test]
async fn the_builder_keeps_the_first_bad_value() {
    let error = builder()
        .require("")
        .limit_reached_status(StatusCode::OK)
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Validation {
            field: "require",
            ..
        }
    ));
    let error = builder()
        .limit_reached_status(status(600))
        .require("")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, Error::Config(ref m) if m.contains("600")),
        "{error}"
    );
    assert!(builder().limit_reached_status(status(399)).build().is_err());
    for code in [400, 402, 429, 599] {
        assert!(builder().limit_reached_status(status(code)).build().is_ok());
    }
    let empty: [&str; 0] = [];
    assert!(matches!(
        builder().require_any(empty).build(),
        Err(Error::Validation {
            field: "require_any",
            ..
        })
    ));
    assert!(matches!(
        builder().require_any(["a", ""]).build(),
        Err(Error::Validation {
            field: "require_any",
            ..
        })
    ));
    assert!(builder().require_all(empty).build().is_ok());
    assert!(builder().require_all(["a", ""]).build().is_err());
    assert!(matches!(
        builder().meter("", 1).build(),
        Err(Error::Validation { field: "meter", .. })
    ));
    assert!(builder().meter("calls", -1).build().is_err());
    assert!(builder().meter("calls", 0).build().is_ok());
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 300..=200;
    assert!(matches!(
        builder().success_statuses(backwards).build(),
        Err(Error::Config(_))
    ));
    assert!(builder().success_statuses(200..200).build().is_err());
}

#[tokio::test]
async fn defaults() {
    let gate = builder().build().unwrap();
    assert_eq!(gate.failure_policy(), &FailurePolicy::Deny);
    assert_eq!(gate.limit_reached_status(), 403);
    assert!(!gate.meters());
    assert!(gate.success_statuses().matches(200));
    assert_eq!(gate.metered_feature(), None);
    assert!(matches!(gate.success_statuses(), StatusFilter::Success2xx));
}

#[tokio::test]
async fn status_filters() {
    let default = StatusFilter::default();
    assert!(default.matches(200) && default.matches(299));
    assert!(!default.matches(199) && !default.matches(300) && !default.matches(404));
    let half_open = StatusFilter::from(200..202);
    assert!(half_open.matches(201) && !half_open.matches(202));
    let custom = StatusFilter::Custom(|status| status == 204 || status == 404);
    assert!(custom.matches(404) && !custom.matches(200));
    let gate = builder()
        .meter("calls", 1)
        .success_statuses(200..=201)
        .build()
        .unwrap();
    let filter = gate.success_statuses();
    assert!(gate.meters() && filter.matches(201) && !filter.matches(204) && !filter.matches(500));
    assert_eq!(gate.metered_feature(), Some("calls"));
    assert_eq!(gate.metered_amount(), Some(1));
}

#[test]
fn denial_constructors_bodies_and_display() {
    let missing = Denial::missing_customer();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.body(),
        json!({"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#missing-customer", "title": "Customer not identified", "status": 401, "detail": "this request does not identify a customer", "code": "missing_customer"})
    );
    assert_eq!(
        missing.to_string(),
        "missing_customer: this request does not identify a customer"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&missing.body_bytes()).unwrap(),
        missing.body()
    );
    let unknown = Denial::unknown_customer();
    assert_eq!(
        (unknown.status(), unknown.code()),
        (StatusCode::FORBIDDEN, "unknown_customer")
    );
    assert_eq!(unknown.feature(), None);
    let custom = Denial::no_access("reports").with_message("upgrade to Pro for reports");
    assert_eq!(custom.body()["detail"], "upgrade to Pro for reports");
    assert!(custom.source().is_none() && custom.error().is_none());
}

#[test]
fn an_unavailable_denial_keeps_the_error_out_of_the_body() {
    let error = Error::Config("secret detail".to_owned());
    let denial = Denial::unavailable(error);
    assert_eq!(denial.status(), 503);
    assert_eq!(denial.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        denial.to_json_string(),
        r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#kelviq-unavailable","title":"Entitlements unavailable","status":503,"detail":"entitlements cannot be checked right now; try again later","code":"kelviq_unavailable"}"#
    );
    assert!(!denial.to_string().contains("secret"));
    assert!(
        denial
            .source()
            .unwrap()
            .to_string()
            .contains("secret detail")
    );
    assert!(matches!(denial.error(), Some(Error::Config(_))));
}

#[test]
fn reasons_have_codes_and_default_statuses() {
    let all = [
        (DenialReason::MissingCustomer, "missing_customer", 401),
        (DenialReason::InvalidCustomer, "invalid_customer", 400),
        (DenialReason::NoAccess, "feature_not_entitled", 403),
        (DenialReason::LimitReached, "usage_limit_reached", 403),
        (DenialReason::UnknownFeature, "feature_not_entitled", 403),
        (DenialReason::UnknownCustomer, "unknown_customer", 403),
        (DenialReason::Unavailable, "kelviq_unavailable", 503),
    ];
    for (reason, code, status) in all {
        assert_eq!(reason.code(), code);
        assert_eq!(reason.to_string(), code);
        assert_eq!(reason.default_status(), status);
    }
}

#[test]
fn decision_helpers() {
    let snapshot = Arc::new(sample());
    let allow = Decision::Allow {
        snapshot: Some(Arc::clone(&snapshot)),
        stale: false,
    };
    assert!(allow.is_allowed() && allow.denial().is_none());
    assert!(Arc::ptr_eq(allow.snapshot().unwrap(), &snapshot));
    assert!(allow.into_result().unwrap().is_some());
    let deny = Decision::Deny(Denial::no_access("x"));
    assert!(!deny.is_allowed() && deny.snapshot().is_none());
    assert_eq!(deny.denial().unwrap().feature(), Some("x"));
    assert_eq!(
        deny.into_result().unwrap_err().reason(),
        DenialReason::NoAccess
    );
}

#[tokio::test]
async fn gates_and_their_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    fn send_sync_type<T: Send + Sync>() {}
    let kelviq = Kelviq::builder()
        .access_token("t")
        .api_url("http://127.0.0.1:1")
        .edge_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    let builder = kelviq.gate().require("reports");
    send_sync(&builder);
    let gate = builder.build().unwrap();
    send_sync(&gate);
    send_sync(&Denial::missing_customer());
    send_sync_type::<RequestContext>();
    let check = gate.check("c");
    send(&check);
    drop(check);
    // A cold cache: the admission is a future, not polled here.
    let admission = gate.admit(Some("c".into()));
    assert!(matches!(admission, Admission::Loading(_)));
    send(&admission);
}

#[test]
fn header_sources_from_literals() {
    assert_eq!(FromHeader::from_static("x-customer").name(), "x-customer");
    let bad = std::panic::catch_unwind(|| FromHeader::from_static("X Customer"));
    let message = bad.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("\"X Customer\""), "{message}");
}
