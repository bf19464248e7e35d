//! A configuration mistake is found while the app is assembled, with a message naming it,
//! never as a 500 at request time.

use std::panic::{AssertUnwindSafe, catch_unwind};

use kelviq_actix::prelude::*;
use kelviq_mock::MockServer;

use crate::support::Setup;

/// The message `f` panics with.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let Err(payload) = catch_unwind(AssertUnwindSafe(f)) else {
        panic!("no panic");
    };
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => (*payload.downcast::<&str>().unwrap()).to_owned(),
    }
}

#[actix_web::test]
async fn an_invalid_gate_panics_in_into_middleware_naming_the_mistake() {
    let setup = Setup::start().await;

    let cases = [
        (
            "require",
            panic_message(|| setup.gate().require("").into_middleware()),
        ),
        (
            "require_any",
            panic_message(|| {
                setup
                    .gate()
                    .require_any(Vec::<String>::new())
                    .into_middleware()
            }),
        ),
        (
            "meter",
            panic_message(|| setup.gate().meter("api-calls", -1).into_middleware()),
        ),
        (
            "limit_reached_status",
            panic_message(|| {
                setup
                    .gate()
                    .limit_reached_status(StatusCode::OK)
                    .into_middleware()
            }),
        ),
    ];
    for (mistake, message) in cases {
        assert!(
            message.starts_with("invalid Kelviq gate: "),
            "{mistake}: {message}"
        );
        assert!(message.contains(mistake), "{mistake}: {message}");
    }
    // Nothing was asked of Kelviq.
    assert!(setup.mock.journal().is_empty());
}

#[actix_web::test]
async fn an_invalid_limit_status_is_a_build_error_naming_it() {
    let setup = Setup::start().await;

    let error = setup
        .gate()
        .limit_reached_status(StatusCode::OK)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("limit_reached_status"),
        "{error}"
    );
    // The gate template keeps the first mistake for every gate stamped out of it.
    let template = setup.gate().limit_reached_status(StatusCode::OK);
    assert!(template.clone().require("reports").build().is_err());
}

#[actix_web::test]
async fn a_client_without_an_entitlement_cache_is_refused() {
    let mock = MockServer::start().await;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .no_entitlement_cache()
        .build()
        .unwrap();

    let error = kelviq.gate().require("reports").build().unwrap_err();
    assert!(error.to_string().contains("entitlement cache"), "{error}");
    let message = panic_message(|| kelviq.gate().into_middleware());
    assert!(message.starts_with("invalid Kelviq gate: "), "{message}");
    assert!(message.contains("no_entitlement_cache"), "{message}");
    assert!(mock.journal().is_empty());
}

#[test]
fn a_path_parameter_that_cannot_be_one_panics_naming_it() {
    for name in ["", "{customer_id}", "customers/id"] {
        let message = panic_message(|| FromPath::new(name));
        assert!(message.contains("FromPath::new"), "{name:?}: {message}");
    }
    assert_eq!(FromPath::new("customer_id").name(), "customer_id");
}
