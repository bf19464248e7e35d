//! Where the customer id comes from: request data, header, path, closure.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpMessage, web};
use kelviq_actix::{CustomerId, KelviqMiddleware};

use crate::support::{Setup, call, whoami};

/// What the tests' own authentication stores.
#[derive(Clone)]
struct AuthUser {
    customer: String,
}

impl AsRef<str> for AuthUser {
    fn as_ref(&self) -> &str {
        &self.customer
    }
}

/// Fake authentication: the `x-api-key` header is the customer id, stored as an `AuthUser`
/// and as a `CustomerId`.
async fn auth(
    request: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let key = request
        .headers()
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(customer) = key {
        request
            .extensions_mut()
            .insert(CustomerId::new(customer.as_str()));
        request.extensions_mut().insert(AuthUser { customer });
    }
    next.call(request).await
}

fn with_key(uri: &str, key: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .insert_header(("x-api-key", key))
}

#[actix_web::test]
async fn request_data_set_by_the_auth_middleware() {
    let setup = Setup::start().await;
    let new = || KelviqMiddleware::new(setup.kelviq.clone(), setup.meter.clone());
    let app = test::init_service(
        App::new()
            .service(web::resource("/default").wrap(new()).to(whoami))
            .service(
                web::resource("/typed")
                    .wrap(new().customer_from_req_data::<AuthUser>())
                    .to(whoami),
            )
            .wrap(from_fn(auth)),
    )
    .await;

    for uri in ["/default", "/typed"] {
        assert_eq!(
            call!(&app, with_key(uri, "cust_pro")).await,
            (
                StatusCode::OK,
                "cust_pro snapshot=true stale=false".to_owned()
            )
        );
        let (status, _) = call!(&app, TestRequest::get().uri(uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[actix_web::test]
async fn a_header() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(
                KelviqMiddleware::new(setup.kelviq.clone(), setup.meter.clone())
                    .customer_from_header("x-tenant"),
            )
            .route("/", web::get().to(whoami)),
    )
    .await;

    let request = TestRequest::get()
        .uri("/")
        .insert_header(("x-tenant", "cust_free"));
    assert_eq!(call!(&app, request).await.0, StatusCode::OK);
    let wrong = TestRequest::get()
        .uri("/")
        .insert_header(("x-other", "cust_free"));
    assert_eq!(call!(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_path_segment_of_the_scope_the_middleware_wraps() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("/customers/{customer_id}")
                .wrap(
                    KelviqMiddleware::new(setup.kelviq.clone(), setup.meter.clone())
                        .customer_from_path("customer_id")
                        .require("reports"),
                )
                .route("/reports", web::get().to(whoami)),
        ),
    )
    .await;

    let request = |uri: &str| TestRequest::get().uri(uri);
    assert_eq!(
        call!(&app, request("/customers/cust_pro/reports")).await,
        (
            StatusCode::OK,
            "cust_pro snapshot=true stale=false".to_owned()
        )
    );
    assert_eq!(
        call!(&app, request("/customers/cust_free/reports")).await.0,
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn a_path_segment_is_not_known_to_an_app_wide_middleware() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(
                KelviqMiddleware::new(setup.kelviq.clone(), setup.meter.clone())
                    .customer_from_path("customer_id"),
            )
            .route("/customers/{customer_id}", web::get().to(whoami)),
    )
    .await;

    let request = TestRequest::get().uri("/customers/cust_pro");
    assert_eq!(call!(&app, request).await.0, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_closure() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(
                KelviqMiddleware::new(setup.kelviq.clone(), setup.meter.clone()).customer_with(
                    |request: &ServiceRequest| {
                        request
                            .query_string()
                            .strip_prefix("customer=")
                            .map(str::to_owned)
                    },
                ),
            )
            .route("/", web::get().to(whoami)),
    )
    .await;

    let request = |uri: &str| TestRequest::get().uri(uri);
    assert_eq!(
        call!(&app, request("/?customer=cust_free")).await.1,
        "cust_free snapshot=true stale=false"
    );
    assert_eq!(
        call!(&app, request("/?customer=")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call!(&app, request("/")).await.0, StatusCode::UNAUTHORIZED);
}
