//! Metering: only successes count, amounts from the configuration, the response or the
//! handler's recorder.

use actix_web::HttpMessage;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;

use crate::support::{Setup, call, middleware, post};

#[actix_web::test]
async fn each_success_is_metered_once_and_nothing_else_is() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup.gate().require("api-calls").meter("api-calls", 1),
            ))
            .route("/ok", web::post().to(HttpResponse::Ok))
            .route("/created", web::post().to(HttpResponse::Created))
            .route("/fails", web::post().to(HttpResponse::InternalServerError))
            .route("/bad", web::post().to(HttpResponse::BadRequest))
            .route(
                "/error",
                web::post().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorBadGateway("upstream"))
                }),
            ),
    )
    .await;

    for _ in 0..3 {
        assert_eq!(
            call!(&app, post("/ok", Some("cust_pro"))).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call!(&app, post("/created", Some("cust_pro"))).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        call!(&app, post("/fails", Some("cust_pro"))).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        call!(&app, post("/bad", Some("cust_pro"))).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call!(&app, post("/error", Some("cust_pro"))).await.0,
        StatusCode::BAD_GATEWAY
    );
    // Refused before the handler: not metered either.
    assert_eq!(
        call!(&app, post("/ok", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call!(&app, post("/ok", Some("cust_nobody"))).await.0,
        StatusCode::FORBIDDEN
    );

    // cust_pro started with 12 api-calls.
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 4);
}

#[actix_web::test]
async fn a_denied_request_is_not_metered() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup.gate().require("reports").meter("api-calls", 1),
            ))
            .route("/reports", web::post().to(HttpResponse::Ok)),
    )
    .await;

    assert_eq!(
        call!(&app, post("/reports", Some("cust_free"))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(setup.usage("cust_free", "api-calls").await, 0);
    assert_eq!(setup.meter().stats().sent, 0);
}

#[actix_web::test]
async fn success_statuses_choose_what_counts() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup
                    .gate()
                    .meter("api-calls", 1)
                    .success_statuses(200..=200),
            ))
            .route("/ok", web::post().to(HttpResponse::Ok))
            .route("/accepted", web::post().to(HttpResponse::Accepted)),
    )
    .await;

    call!(&app, post("/ok", Some("cust_free"))).await;
    call!(&app, post("/accepted", Some("cust_free"))).await;
    assert_eq!(setup.usage("cust_free", "api-calls").await, 1);
}

#[actix_web::test]
async fn a_usage_amount_in_the_response_extensions_replaces_the_configured_amount() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/batch",
                web::post().to(
                    |query: web::Query<std::collections::HashMap<String, i64>>,
                     usage: UsageRecorder| async move {
                        let items = query.get("items").copied().unwrap_or(0);
                        // api-calls has a hard limit: hold the amount before using it.
                        assert_eq!(usage.reserve(items).await.unwrap(), items.max(1));
                        let mut response =
                            HttpResponse::Ok().json(serde_json::json!({ "items": items }));
                        response.extensions_mut().insert(UsageAmount(items));
                        response
                    },
                ),
            ),
    )
    .await;

    call!(&app, post("/batch?items=250", Some("cust_pro"))).await;
    call!(&app, post("/batch?items=0", Some("cust_pro"))).await;
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 250);
}

#[actix_web::test]
async fn the_usage_recorder_sets_the_amount_the_middleware_meters() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 0)))
            .route(
                "/export",
                web::post().to(|usage: UsageRecorder| async move {
                    assert_eq!(usage.amount(), None);
                    assert_eq!(usage.reserve(30).await.unwrap(), 30);
                    usage.set_amount(7);
                    usage.set_amount(30);
                    assert_eq!(usage.amount(), Some(30));
                    web::Json(vec![1, 2, 3])
                }),
            )
            .route(
                "/both",
                web::post().to(|usage: UsageRecorder| async move {
                    usage.reserve(1000).await.unwrap();
                    usage.set_amount(1000);
                    let mut response = HttpResponse::Ok().finish();
                    response.extensions_mut().insert(UsageAmount(5));
                    response
                }),
            )
            .route(
                "/failed-export",
                web::post().to(|usage: UsageRecorder| async move {
                    usage.reserve(99).await.unwrap();
                    usage.set_amount(99);
                    HttpResponse::InternalServerError().finish()
                }),
            )
            .route("/nothing", web::post().to(HttpResponse::Ok)),
    )
    .await;

    for uri in ["/export", "/both", "/failed-export", "/nothing"] {
        call!(&app, post(uri, Some("cust_pro"))).await;
    }
    // 7 then 30 set (30 held), 5 from the response (which wins), a failure and a zero
    // amount: nothing.
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 30 + 5);
}

#[actix_web::test]
async fn responses_never_wait_for_the_meter() {
    let setup = Setup::start().await;
    // Usage reports hang for an hour: a response that waited for one would never come.
    setup.mock.set_route_latency(
        kelviq_mock::Route::ReportUsage,
        std::time::Duration::from_secs(3600),
    );
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route("/ok", web::post().to(HttpResponse::Ok)),
    )
    .await;

    let requests = async {
        for _ in 0..10 {
            assert_eq!(
                call!(&app, post("/ok", Some("cust_pro"))).await.0,
                StatusCode::OK
            );
        }
    };
    actix_web::rt::time::timeout(std::time::Duration::from_secs(30), requests)
        .await
        .expect("a response waited for the usage meter");
}

#[actix_web::test]
async fn the_usage_recorder_records_any_feature_now_whatever_the_response() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.plain())
            .route(
                "/seats",
                web::post().to(|usage: UsageRecorder| async move {
                    assert_eq!(usage.customer_id(), "cust_pro");
                    usage.record("seats", 2).unwrap();
                    HttpResponse::InternalServerError().finish()
                }),
            )
            .route(
                "/invalid",
                web::post().to(|usage: UsageRecorder| async move {
                    assert!(usage.record("", 1).is_err());
                    HttpResponse::Ok().finish()
                }),
            ),
    )
    .await;

    call!(&app, post("/seats", Some("cust_pro"))).await;
    call!(&app, post("/invalid", Some("cust_pro"))).await;
    assert_eq!(setup.usage("cust_pro", "seats").await, 2);
}

#[actix_web::test]
async fn set_amount_is_metered_on_success_on_the_cold_and_the_warm_path() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/export",
                web::post().to(|usage: UsageRecorder| async move {
                    usage.reserve(7).await.unwrap();
                    usage.set_amount(7);
                    HttpResponse::Ok().finish()
                }),
            )
            .route(
                "/failed",
                web::post().to(|usage: UsageRecorder| async move {
                    usage.reserve(1000).await.unwrap();
                    usage.set_amount(1000);
                    HttpResponse::BadRequest().finish()
                }),
            ),
    )
    .await;

    // The first request of the customer loads its snapshot (the cold path)...
    call!(&app, post("/export", Some("cust_pro"))).await;
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 7);
    // ...the next one is decided on the cached snapshot (the warm path).
    call!(&app, post("/export", Some("cust_pro"))).await;
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 14);
    // Not a success: nothing, whatever the amount set.
    call!(&app, post("/failed", Some("cust_pro"))).await;
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12 + 14);
}

#[actix_web::test]
async fn a_usage_amount_response_extension_wins_over_set_amount() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/both",
                web::post().to(|usage: UsageRecorder| async move {
                    // cust_free has 100 api-calls: the hold is all of it, then what is left.
                    assert!(usage.reserve(1000).await.unwrap() >= 95);
                    usage.set_amount(1000);
                    let mut response = HttpResponse::Ok().finish();
                    response.extensions_mut().insert(UsageAmount(5));
                    response
                }),
            ),
    )
    .await;

    for _ in 0..2 {
        call!(&app, post("/both", Some("cust_free"))).await;
    }
    assert_eq!(setup.usage("cust_free", "api-calls").await, 10);
}

#[actix_web::test]
async fn a_usage_amount_in_the_request_extensions_is_not_read() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/request-extension",
                web::post().to(|request: actix_web::HttpRequest| async move {
                    // As tower: the amount is the response's, or the context's.
                    request.extensions_mut().insert(UsageAmount(500));
                    HttpResponse::Ok().finish()
                }),
            ),
    )
    .await;

    call!(&app, post("/request-extension", Some("cust_free"))).await;
    assert_eq!(setup.usage("cust_free", "api-calls").await, 1);
}

#[actix_web::test]
async fn an_amount_beyond_the_hold_is_capped_at_it() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route(
                "/export",
                web::post().to(|usage: UsageRecorder| async move {
                    assert_eq!(usage.reserve(10).await.unwrap(), 10);
                    usage.set_amount(80);
                    HttpResponse::Ok().finish()
                }),
            )
            .route(
                "/unheld",
                web::post().to(|usage: UsageRecorder| async move {
                    usage.set_amount(80);
                    HttpResponse::Ok().finish()
                }),
            ),
    )
    .await;

    call!(&app, post("/export", Some("cust_free"))).await;
    call!(&app, post("/unheld", Some("cust_free"))).await;
    // 10 held and recorded, then the admission's 1: never the 160 asked for.
    assert_eq!(setup.usage("cust_free", "api-calls").await, 11);
    assert_eq!(setup.meter().stats().over_hold, 70 + 79);
}
