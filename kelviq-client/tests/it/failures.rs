//! Error kinds and the retry rule, with the mock's fault injection.

use std::time::Duration;

use kelviq_client::{ApiErrorKind, Error, ReportEvent, ReportUsage, RetryPolicy};
use kelviq_mock::{Fault, FaultRule, Outcome, Route};
use serde_json::json;

use crate::support::{Setup, Warnings, client_for};

fn usage() -> ReportUsage {
    ReportUsage::delta("cust_pro", "api-calls", 1)
}

#[tokio::test]
async fn unauthorized_is_its_own_kind_and_is_not_retried() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .access_token("sk_wrong_token")
        .build()
        .unwrap();
    let error = kelviq.customers().retrieve("cust_pro").await.unwrap_err();
    let api = error.as_api().unwrap();
    assert_eq!(api.kind, ApiErrorKind::Unauthorized);
    assert_eq!(api.detail(), Some("Invalid token."));
    assert!(!error.is_retryable());
    assert_eq!(setup.mock.calls(Route::CustomersRetrieve), 1);
    assert!(!format!("{error:?} {error}").contains("sk_wrong_token"));
}

#[tokio::test]
async fn bad_request_and_unprocessable_keep_their_bodies() {
    let setup = Setup::start().await;
    let body = json!({"value": ["Ensure this value is less than 1000."]});
    setup.mock.inject(
        FaultRule::next(1, Fault::status_with_body(422, body.clone())).on(Route::ReportUsage),
    );
    let error = setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap_err();
    let api = error.as_api().unwrap();
    assert_eq!(api.kind, ApiErrorKind::Unprocessable);
    assert_eq!(api.body, body);
    assert_eq!(
        api.field_errors(),
        [("value", vec!["Ensure this value is less than 1000."])]
    );

    let mut bad = json!({});
    bad["x"] = json!(1);
    setup.mock.inject(FaultRule::next(
        1,
        Fault::status_with_body(400, json!({"customerId": ["Customer not found."]})),
    ));
    let error = setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap_err();
    assert_eq!(error.as_api().unwrap().kind, ApiErrorKind::BadRequest);
    assert_eq!(setup.mock.calls(Route::ReportUsage), 2);
}

#[tokio::test]
async fn not_found() {
    let setup = Setup::start().await;
    let error = setup
        .kelviq
        .customers()
        .retrieve("nobody")
        .await
        .unwrap_err();
    assert_eq!(error.as_api().unwrap().kind, ApiErrorKind::NotFound);
    assert_eq!(error.as_api().unwrap().path, "/customers/{customer_id}/");
}

#[tokio::test]
async fn service_unavailable_then_success_is_one_result_from_two_requests() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::status(503)).on(Route::ReportUsage));
    let report = setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap();
    assert_eq!(report.value, 1);
    let requests = setup.mock.requests(Route::ReportUsage);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].outcome, Outcome::Responded(503));
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 13);
}

/// On tokio's (paused) clock: the only wait is the client's before its retry.
#[tokio::test(start_paused = true)]
async fn rate_limiting_waits_for_retry_after() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::rate_limited(1)).on(Route::ReportUsage));
    let started = tokio::time::Instant::now();
    setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap();
    let waited = started.elapsed();
    let requests = setup.mock.requests(Route::ReportUsage);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].status(), Some(429));
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

#[tokio::test]
async fn retries_are_bounded() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::CustomersList));
    let error = setup
        .kelviq
        .customers()
        .list(Default::default())
        .await
        .unwrap_err();
    assert_eq!(error.as_api().unwrap().kind, ApiErrorKind::Server);
    assert_eq!(setup.mock.calls(Route::CustomersList), 3);

    let no_retries = client_for(&setup.mock)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    no_retries
        .customers()
        .list(Default::default())
        .await
        .unwrap_err();
    assert_eq!(setup.mock.calls(Route::CustomersList), 4);
}

#[tokio::test]
async fn bad_gateway_on_a_post_is_not_replayed_but_on_a_get_it_is() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::status(502)).on(Route::ReportUsage));
    let error = setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().as_u16(), 502);
    assert_eq!(setup.mock.calls(Route::ReportUsage), 1);

    setup
        .mock
        .inject(FaultRule::next(1, Fault::status(502)).on(Route::CustomersRetrieve));
    setup.kelviq.customers().retrieve("cust_pro").await.unwrap();
    assert_eq!(setup.mock.calls(Route::CustomersRetrieve), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_get_is_replayed() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    setup.mock.inject(
        FaultRule::next(1, Fault::Delay(Duration::from_secs(5))).on(Route::CustomersRetrieve),
    );
    let customer = kelviq.customers().retrieve("cust_pro").await.unwrap();
    assert_eq!(customer.customer_id, "cust_pro");
    assert_eq!(setup.mock.calls(Route::CustomersRetrieve), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_post_without_idempotency_key_is_not_replayed() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    setup.mock.inject(
        FaultRule::next(1, Fault::ApplyThenDelay(Duration::from_secs(5))).on(Route::ReportUsage),
    );
    let error = kelviq.reporting().report_usage(usage()).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(!error.is_not_processed());
    assert_eq!(setup.mock.calls(Route::ReportUsage), 1);
    assert_eq!(setup.mock.usage_total("cust_pro", "api-calls"), 13);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_event_is_replayed_with_the_same_key() {
    let setup = Setup::start().await;
    let kelviq = client_for(&setup.mock)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    setup.mock.inject(
        FaultRule::next(1, Fault::ApplyThenDelay(Duration::from_secs(5))).on(Route::ReportEvent),
    );
    let event = kelviq
        .reporting()
        .report_event(ReportEvent::new("cust_pro", "export"))
        .await
        .unwrap();
    let sent = setup.mock.requests(Route::ReportEvent);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json(), sent[1].json());
    let stored = setup.mock.events();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].idempotency_key, event.idempotency_key);
    assert_eq!(stored[0].deliveries, 2);
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::next(1, Fault::ApplyThenDrop).on(Route::ReportUsage));
    let error = setup
        .kelviq
        .reporting()
        .report_usage(usage())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Transport { connect: false, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable() && !error.is_not_processed());
    assert_eq!(setup.mock.calls(Route::ReportUsage), 1);

    setup
        .mock
        .inject(FaultRule::next(1, Fault::DropConnection).on(Route::CustomersRetrieve));
    setup.kelviq.customers().retrieve("cust_pro").await.unwrap();
    assert_eq!(setup.mock.calls(Route::CustomersRetrieve), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_not_processed() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let kelviq = kelviq_client::Kelviq::builder()
        .access_token("sk_test")
        .api_url(format!("http://127.0.0.1:{port}"))
        .edge_url(format!("http://127.0.0.1:{port}"))
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    let error = kelviq.reporting().report_usage(usage()).await.unwrap_err();
    assert!(
        matches!(error, Error::Transport { connect: true, .. }),
        "{error:?}"
    );
    assert!(error.is_not_processed());
}

#[tokio::test]
async fn a_success_without_a_body_is_a_decode_error() {
    let setup = Setup::start().await;
    setup.mock.inject(
        FaultRule::next(1, Fault::status_with_body(200, json!("not an object")))
            .on(Route::CustomersRetrieve),
    );
    let error = setup
        .kelviq
        .customers()
        .retrieve("cust_pro")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
}

/// An outage fails every call after its retries: the client warns once per period, not once
/// per call (the others at `debug`, counted in the next warning's `held_back`).
#[tokio::test]
async fn calls_failing_after_retries_warn_once_not_once_per_call() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::CustomersRetrieve));
    let kelviq = client_for(&setup.mock)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(1)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let (warnings, _guard) = Warnings::capture();
    for _ in 0..5 {
        let error = kelviq.customers().retrieve("cust_pro").await.unwrap_err();
        assert_eq!(error.as_api().unwrap().status, 503);
    }
    assert_eq!(
        setup.mock.calls(Route::CustomersRetrieve),
        10,
        "each call retried once"
    );
    let failed = warnings.count("kelviq request failed after retries");
    assert_eq!(failed, 1, "{:#?}", warnings.lines());
}
