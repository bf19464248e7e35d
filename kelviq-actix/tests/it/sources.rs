//! Where the customer id comes from: request data, header, path, closure — the sources of
//! `kelviq_client::gate` and this crate's `FromPath`.

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpMessage, web};
use kelviq_actix::http::HeaderName;
use kelviq_actix::prelude::*;

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
    let new = || setup.gate().into_middleware();
    let app = test::init_service(
        App::new()
            .service(web::resource("/default").wrap(new()).to(whoami))
            .service(
                web::resource("/typed")
                    .wrap(new().customer(FromExtension::<AuthUser>::new()))
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
                setup
                    .gate()
                    .into_middleware()
                    .customer(FromHeader::new(HeaderName::from_static("x-tenant"))),
            )
            .route("/", web::get().to(whoami)),
    )
    .await;

    let request = TestRequest::get()
        .uri("/")
        .insert_header(("x-other", "cust_pro"))
        .insert_header(("X-Tenant", "cust_free"))
        .insert_header(("accept", "*/*"));
    assert_eq!(
        call!(&app, request).await,
        (
            StatusCode::OK,
            "cust_free snapshot=true stale=false".to_owned()
        )
    );
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
                    setup
                        .gate()
                        .require("reports")
                        .into_middleware()
                        .customer(FromPath::new("customer_id")),
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
                setup
                    .gate()
                    .into_middleware()
                    .customer(FromPath::new("customer_id")),
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
            .wrap(setup.gate().into_middleware().customer(FromFn::new(
                |request: &ServiceRequest| {
                    request
                        .query_string()
                        .strip_prefix("customer=")
                        .map(str::to_owned)
                },
            )))
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

#[actix_web::test]
async fn a_percent_encoded_path_segment_is_decoded() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("/customers/{customer_id}")
                .wrap(
                    setup
                        .gate()
                        .into_middleware()
                        .customer(FromPath::new("customer_id")),
                )
                .route("/me", web::get().to(whoami)),
        ),
    )
    .await;

    let request = TestRequest::get().uri("/customers/cust%5Fpro/me");
    assert_eq!(
        call!(&app, request).await.1,
        "cust_pro snapshot=true stale=false"
    );
}

#[test]
fn a_middleware_is_send_sync_and_clone_whatever_its_source() {
    fn for_http_server<T: Send + Sync + Clone + 'static>(_: &T) {}

    // Never started: the type checks are the point.
    let kelviq = Kelviq::builder().access_token("token").build().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let middleware = kelviq.gate().into_middleware();
    for_http_server(&middleware);
    for_http_server(&middleware.clone().customer(FromExtension::<String>::new()));
    for_http_server(&middleware.clone().customer(FromPath::new("id")));
    for_http_server(
        &middleware
            .clone()
            .customer(FromHeader::new(HeaderName::from_static("x-customer"))),
    );
    for_http_server(
        &middleware
            .clone()
            .customer(FromFn::new(|request: &ServiceRequest| {
                Some(request.path().to_owned())
            })),
    );
    let factory = move || {
        App::new()
            .wrap(middleware.clone())
            .route("/", web::get().to(whoami))
    };
    let _server = actix_web::HttpServer::new(factory);
}
