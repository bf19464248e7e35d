//! A gate that cannot work is refused while the service is assembled, naming the mistake;
//! nothing answers 500 at request time.

use std::panic::AssertUnwindSafe;

use http::StatusCode;
use kelviq_client::Kelviq;
use kelviq_mock::MockServer;
use kelviq_tower::GateBuilderExt;

use crate::support::Setup;

#[tokio::test]
#[should_panic(expected = "invalid Kelviq gate: invalid require: a feature id must not be empty")]
async fn an_empty_feature_id_panics_while_the_layer_is_made() {
    let setup = Setup::start().await;
    let gates = setup.kelviq.gate();
    let _layer = gates.clone().require("").into_layer();
}

#[tokio::test]
async fn a_mistake_kept_by_the_template_is_named_by_the_panic() {
    let setup = Setup::start().await;
    let gates = setup.kelviq.gate().meter("api-calls", -1);
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        gates.clone().require("reports").into_layer()
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("invalid Kelviq gate: "), "{message}");
    assert!(message.contains("meter"), "{message}");
    assert!(message.contains("-1"), "{message}");
}

#[tokio::test]
async fn the_panic_points_at_the_line_that_made_the_layer() {
    let setup = Setup::start().await;
    let gates = setup.kelviq.gate();
    let location = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&location);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|message| message.starts_with("invalid Kelviq gate")) {
            *seen.lock().unwrap() = info
                .location()
                .map(|location| (location.file().to_owned(), location.line()));
        }
    }));
    let (line, make) = (line!(), AssertUnwindSafe(|| gates.require("").into_layer()));
    let made = std::panic::catch_unwind(make);
    std::panic::set_hook(previous);
    assert!(made.is_err());
    assert_eq!(
        location.lock().unwrap().clone(),
        Some((file!().to_owned(), line))
    );
}

#[tokio::test]
async fn a_limit_status_that_is_not_an_error_is_a_build_error() {
    let setup = Setup::start().await;
    let error = setup
        .kelviq
        .gate()
        .limit_reached_status(StatusCode::OK)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("limit_reached_status"),
        "{error}"
    );
}

#[tokio::test]
async fn a_client_without_an_entitlement_cache_is_refused_saying_why() {
    let mock = MockServer::start().await;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .no_entitlement_cache()
        .build()
        .unwrap();
    let error = kelviq.gate().require("reports").build().unwrap_err();
    let message = error.to_string();
    assert!(message.contains("entitlement cache"), "{message}");
    assert!(message.contains("no_entitlement_cache()"), "{message}");
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        kelviq.gate().require("reports").into_layer()
    }))
    .unwrap_err();
    assert!(
        panic
            .downcast_ref::<String>()
            .unwrap()
            .contains("no_entitlement_cache()")
    );
}

#[test]
fn outside_a_tokio_runtime_the_meter_cannot_start_and_the_panic_says_so() {
    let kelviq = Kelviq::new("token").unwrap();
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        kelviq.gate().require("reports").into_layer()
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("invalid Kelviq gate: "), "{message}");
    assert!(message.contains("runtime"), "{message}");
}
