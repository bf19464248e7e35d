//! Every denial the middleware answers is the gate's response, byte for byte: status, every
//! header, body.

use actix_web::http::StatusCode;
use actix_web::test;
use actix_web::{App, HttpResponse, web};
use kelviq_actix::kelviq_client::Error;
use kelviq_actix::prelude::*;
use kelviq_mock::{Fault, FaultRule, Route};

use crate::support::{Setup, get, middleware};

/// A response as status, headers (sorted) and body.
type Parts = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// The parts of an actix-web response.
async fn actix_parts(
    response: actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
) -> Parts {
    let status = response.status().as_u16();
    let mut headers: Vec<_> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    let body = test::read_body(response).await.to_vec();
    (status, headers, body)
}

/// The parts of the gate's response.
fn gate_parts(response: http::Response<web::Bytes>) -> Parts {
    let mut headers: Vec<_> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    (
        response.status().as_u16(),
        headers,
        response.body().to_vec(),
    )
}

#[actix_web::test]
async fn every_denial_kind_is_the_gates_default_response_byte_for_byte() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/reports")
                    .wrap(middleware(setup.gate().require("reports")))
                    .to(HttpResponse::Ok),
            )
            .service(
                web::resource("/calls")
                    .wrap(middleware(setup.gate().require("api-calls")))
                    .to(HttpResponse::Ok),
            ),
    )
    .await;

    let cases = [
        (get("/reports", None), Denial::missing_customer()),
        (
            get("/reports", Some("cust_free")),
            Denial::unknown_feature("reports"),
        ),
        (
            get("/calls", Some("cust_spent")),
            Denial::limit_reached("api-calls"),
        ),
        (
            get("/reports", Some("cust_nobody")),
            Denial::unknown_customer(),
        ),
    ];
    for (request, denial) in cases {
        let response = test::call_service(&app, request.to_request()).await;
        let (status, mut headers, body) = actix_parts(response).await;
        // A reached limit says when it resets (the fake's reset time): checked, then set
        // aside to compare the rest byte for byte.
        if let Some(position) = headers.iter().position(|(name, _)| name == "retry-after") {
            let (_, seconds) = headers.remove(position);
            let seconds: u64 = String::from_utf8(seconds).unwrap().parse().unwrap();
            assert!(seconds >= 1, "{denial}");
            assert_eq!(denial.code(), "usage_limit_reached");
        }
        let (expected_status, expected_headers, mut expected_body) =
            gate_parts(denial.to_response());
        if denial.code() == "usage_limit_reached" {
            // The gate's denial also has the counts and the reset the snapshot gives.
            expected_body = crate::support::limit_body(403, 2).into_bytes();
        }
        assert_eq!(
            (status, headers, body),
            (expected_status, expected_headers, expected_body),
            "{denial}"
        );
    }

    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
    let response = test::call_service(&app, get("/reports", Some("cust_pro")).to_request()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let unavailable = Denial::unavailable(Error::Config("upstream".to_owned()))
        .with_retry_after(std::time::Duration::from_secs(1));
    assert_eq!(
        actix_parts(response).await,
        gate_parts(unavailable.to_response())
    );
}
