//! The extractors: Customer, RequestSnapshot, Entitled<F>, KelviqContext, web::Data<Kelviq>.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;
use kelviq_mock::Route;

use crate::support::{
    ApiCalls, Reports, Setup, call, denial_body, get, limit_body, middleware, not_entitled, post,
};

#[actix_web::test]
async fn customer_is_the_client_scoped_to_the_current_customer_with_the_meter() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.plain())
            .route(
                "/me",
                web::get().to(|customer: Customer| async move {
                    let subscriptions = customer.subscriptions().await.unwrap();
                    format!("{} {}", customer.id(), subscriptions.count)
                }),
            )
            .route(
                "/record",
                web::post().to(|customer: Customer| async move {
                    customer.record_usage("api-calls", 2).unwrap();
                    HttpResponse::NoContent().finish()
                }),
            ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/me", Some("cust_pro"))).await,
        (StatusCode::OK, "cust_pro 1".to_owned())
    );
    assert_eq!(
        call!(&app, post("/record", Some("cust_free"))).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(setup.usage("cust_free", "api-calls").await, 2);
    assert_eq!(setup.mock.calls(Route::SubscriptionsList), 1);
}

#[actix_web::test]
async fn request_snapshot_is_the_snapshot_the_middleware_loaded() {
    let setup = Setup::start().await;
    let app = test::init_service(App::new().wrap(setup.plain()).route(
        "/entitlements",
        web::get().to(
            |snapshot: RequestSnapshot, context: KelviqContext| async move {
                let calls = snapshot.get("api-calls").unwrap();
                assert!(!snapshot.is_stale());
                // The middleware's snapshot, shared.
                assert!(std::sync::Arc::ptr_eq(
                    snapshot.snapshot(),
                    context.snapshot().unwrap()
                ));
                format!(
                    "reports={} api-calls={}/{:?}",
                    snapshot.has_access("reports"),
                    calls.usage().unwrap_or_default(),
                    calls.limit()
                )
            },
        ),
    ))
    .await;

    assert_eq!(
        call!(&app, get("/entitlements", Some("cust_pro"))).await,
        (
            StatusCode::OK,
            "reports=true api-calls=12/Some(10000)".to_owned()
        )
    );
    assert_eq!(
        call!(&app, get("/entitlements", Some("cust_free"))).await.1,
        "reports=false api-calls=0/Some(100)"
    );
    // Loaded once per customer, by the middleware.
    assert_eq!(setup.mock.calls(Route::Entitlements), 2);
}

#[actix_web::test]
async fn entitled_lets_entitled_customers_in_and_answers_the_denial_otherwise() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/reports",
                web::get().to(|entitled: Entitled<Reports>| async move {
                    assert!(entitled.snapshot().has_access("reports"));
                    "report"
                }),
            )
            .route(
                "/api/calls",
                web::post().to(|entitled: Entitled<ApiCalls>| async move {
                    format!(
                        "{:?} left",
                        entitled.entitlement().unwrap().remaining().unwrap()
                    )
                }),
            ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await,
        (StatusCode::OK, "report".to_owned())
    );
    let response = test::call_service(&app, get("/reports", Some("cust_free")).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(
        test::read_body(response).await,
        not_entitled("reports").as_bytes()
    );

    // cust_tiny: 2 api-calls, the middleware meters each success.
    let calls = || post("/api/calls", Some("cust_tiny"));
    assert_eq!(call!(&app, calls()).await.1, "2 left");
    assert_eq!(call!(&app, calls()).await.1, "1 left");
    assert_eq!(
        call!(&app, calls()).await,
        (StatusCode::FORBIDDEN, limit_body(403, 2))
    );
    // A rejected extractor means an error response: not metered.
    assert_eq!(setup.usage("cust_tiny", "api-calls").await, 2);
}

#[actix_web::test]
async fn entitled_refuses_a_reached_limit_with_the_gates_limit_status() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup
                    .gate()
                    .limit_reached_status(http::StatusCode::PAYMENT_REQUIRED),
            ))
            .route(
                "/api/calls",
                web::post().to(|_: Entitled<ApiCalls>| async { "called" }),
            ),
    )
    .await;

    // cust_spent has used both of its api-calls.
    assert_eq!(
        call!(&app, post("/api/calls", Some("cust_spent"))).await,
        (StatusCode::PAYMENT_REQUIRED, limit_body(402, 2))
    );
    assert_eq!(
        call!(&app, post("/api/calls", Some("cust_tiny"))).await,
        (StatusCode::OK, "called".to_owned())
    );
}

#[actix_web::test]
async fn entitled_answers_through_the_gates_denial_handler() {
    let setup = Setup::start().await;
    let gate = setup.gate().on_denied(|denial| {
        http::Response::builder()
            .status(402)
            .header("x-upgrade", denial.feature().unwrap_or("plan"))
            .body(web::Bytes::from_static(b"upgrade"))
            .unwrap()
    });
    let app = test::init_service(App::new().wrap(middleware(gate)).route(
        "/reports",
        web::get().to(|_: Entitled<Reports>| async { "report" }),
    ))
    .await;

    let response = test::call_service(&app, get("/reports", Some("cust_free")).to_request()).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(response.headers().get("x-upgrade").unwrap(), "reports");
    assert_eq!(test::read_body(response).await, "upgrade");
    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await,
        (StatusCode::OK, "report".to_owned())
    );
}

#[actix_web::test]
async fn the_context_and_the_client_through_web_data() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.plain())
            .app_data(web::Data::new(setup.kelviq.clone()))
            .route(
                "/context",
                web::get().to(
                    |context: KelviqContext, kelviq: web::Data<Kelviq>| async move {
                        let has_reports = kelviq
                            .entitlements()
                            .has_access(context.customer_id(), "reports")
                            .await
                            .unwrap();
                        format!(
                            "{} {} {has_reports}",
                            context.customer_id(),
                            context.snapshot().unwrap().has_access("reports"),
                        )
                    },
                ),
            )
            .route(
                "/req-data",
                web::get().to(|context: web::ReqData<RequestContext>| async move {
                    context.customer_id().to_owned()
                }),
            ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/context", Some("cust_pro"))).await,
        (StatusCode::OK, "cust_pro true true".to_owned())
    );
    assert_eq!(
        call!(&app, get("/req-data", Some("cust_free"))).await.1,
        "cust_free"
    );
    // The handler's check read the same cache.
    assert_eq!(setup.mock.calls(Route::Entitlements), 2);
}

#[actix_web::test]
async fn without_the_middleware_extractors_answer_500_kelviq_layer_missing_and_never_call_kelviq() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            // The client is there: an extractor could have called Kelviq with it.
            .app_data(web::Data::new(setup.kelviq.clone()))
            .route(
                "/customer",
                web::get().to(|_: Customer| async { "unreachable" }),
            )
            .route(
                "/entitlements",
                web::get().to(|_: RequestSnapshot| async { "unreachable" }),
            )
            .route(
                "/entitled",
                web::get().to(|_: Entitled<Reports>| async { "unreachable" }),
            )
            .route(
                "/context",
                web::get().to(|_: KelviqContext| async { "unreachable" }),
            )
            .route(
                "/usage",
                web::get().to(|_: UsageRecorder| async { "unreachable" }),
            )
            .route(
                "/optional",
                web::get().to(
                    |customer: Option<Customer>,
                     snapshot: Option<RequestSnapshot>,
                     entitled: Option<Entitled<Reports>>,
                     context: Option<KelviqContext>,
                     usage: Option<UsageRecorder>| async move {
                        format!(
                            "{} {} {} {} {}",
                            customer.is_some(),
                            snapshot.is_some(),
                            entitled.is_some(),
                            context.is_some(),
                            usage.is_some()
                        )
                    },
                ),
            ),
    )
    .await;

    let missing = denial_body(
        "kelviq_layer_missing",
        "no Kelviq context in the request: wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware",
        None,
    );
    for uri in [
        "/customer",
        "/entitlements",
        "/entitled",
        "/context",
        "/usage",
    ] {
        let response = test::call_service(&app, get(uri, Some("cust_pro")).to_request()).await;
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/problem+json",
            "{uri}"
        );
        assert_eq!(
            crate::support::read(response).await,
            (StatusCode::INTERNAL_SERVER_ERROR, missing.clone()),
            "{uri}"
        );
    }
    assert_eq!(
        call!(&app, get("/optional", Some("cust_pro"))).await,
        (StatusCode::OK, "false false false false false".to_owned())
    );
    // Not one request reached Kelviq.
    assert_eq!(setup.mock.journal().len(), 0, "{:?}", setup.mock.journal());
}

#[actix_web::test]
async fn rejections_say_what_they_answer() {
    use actix_web::ResponseError;
    use kelviq_actix::{EntitledRejection, MissingKelviqLayer};

    let rejection = EntitledRejection::from(MissingKelviqLayer::default());
    // status() is the gate's (http 1, as in kelviq-axum), status_code() actix-web's.
    assert_eq!(rejection.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rejection.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rejection.code(), "kelviq_layer_missing");
    assert_eq!(MissingKelviqLayer::default().code(), "kelviq_layer_missing");
    assert_eq!(
        rejection.to_string(),
        "no Kelviq context in the request: wrap this route, its scope or the app with kelviq_actix::KelviqMiddleware"
    );
}
