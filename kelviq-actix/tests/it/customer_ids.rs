//! Customer ids no request can carry (longer than the client's maximum) are the caller's
//! mistake: `400` `invalid_customer`, answered before any call to Kelviq — never `503`.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, web};
use kelviq_actix::prelude::*;

use crate::support::{CUSTOMER, Setup, by_header, call, whoami};

/// 100 KB of ASCII.
fn long_ascii() -> String {
    "c".repeat(100 * 1024)
}

/// 22 KB of two-byte characters.
fn long_non_ascii() -> String {
    "é".repeat(11 * 1024)
}

const INVALID: &str = r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-customer","title":"Invalid customer id","status":400,"detail":"the customer id of this request is too long","code":"invalid_customer"}"#;

#[actix_web::test]
async fn an_id_longer_than_the_maximum_is_a_400_and_kelviq_is_never_called() {
    let setup = Setup::start().await;
    // The customer from the header (`/header`) or, for ids no header can carry, from the
    // app's own lookup of a short `x-who` key (`/fn`).
    let by_key = FromFn::new(|request: &ServiceRequest| {
        match request.headers().get("x-who")?.to_str().ok()? {
            "ascii" => Some(long_ascii()),
            "non-ascii" => Some(long_non_ascii()),
            other => Some(other.to_owned()),
        }
    });
    let gates = setup.gate().require("reports");
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/header")
                    .wrap(gates.clone().into_middleware().customer(by_header()))
                    .to(whoami),
            )
            .service(
                web::resource("/fn")
                    .wrap(gates.into_middleware().customer(by_key))
                    .to(whoami),
            ),
    )
    .await;

    let requests = [
        TestRequest::get()
            .uri("/header")
            .insert_header((CUSTOMER, long_ascii())),
        TestRequest::get()
            .uri("/fn")
            .insert_header(("x-who", "ascii")),
        TestRequest::get()
            .uri("/fn")
            .insert_header(("x-who", "non-ascii")),
    ];
    for request in requests {
        assert_eq!(
            call!(&app, request).await,
            (StatusCode::BAD_REQUEST, INVALID.to_owned())
        );
    }
    assert!(
        setup.mock.journal().is_empty(),
        "{:?}",
        setup.mock.journal()
    );

    // At the maximum, the id is sent: the customer is unknown to Kelviq.
    let at_max = "c".repeat(setup.kelviq.max_customer_id_len());
    let request = TestRequest::get()
        .uri("/header")
        .insert_header((CUSTOMER, at_max.clone()));
    assert_eq!(call!(&app, request).await.0, StatusCode::FORBIDDEN);
    assert_eq!(setup.mock.entitlement_calls(&at_max), 1);
}
