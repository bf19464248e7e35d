//! Allow, deny, 401: the middleware's answers and what handlers see.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_client::gate::DenialReason;
use kelviq_mock::Route;

use crate::support::{Setup, call, denial_body, get, not_entitled, whoami};

#[actix_web::test]
async fn an_entitled_customer_reaches_the_handler_with_its_context() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports"))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let (status, body) = call!(&app, get("/reports", Some("cust_pro"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "cust_pro snapshot=true stale=false");
}

#[actix_web::test]
async fn a_customer_without_the_feature_gets_403_with_the_gate_json() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports"))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let response = test::call_service(&app, get("/reports", Some("cust_free")).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(
        test::read_body(response).await,
        not_entitled("reports").as_bytes()
    );
}

#[actix_web::test]
async fn no_customer_is_401_missing_customer_and_kelviq_is_not_called() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports"))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let (status, body) = call!(&app, get("/reports", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        denial_body(
            "missing_customer",
            "this request does not identify a customer",
            None
        )
    );
    let (status, _) = call!(&app, get("/reports", Some(""))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(setup.mock.calls(Route::Entitlements), 0);
}

#[actix_web::test]
async fn a_customer_kelviq_does_not_know_is_403_unknown_customer() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware())
            .route("/", web::get().to(whoami)),
    )
    .await;

    let (status, body) = call!(&app, get("/", Some("cust_nobody"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains(r#""error":"unknown_customer""#), "{body}");
}

#[actix_web::test]
async fn without_requirements_every_known_customer_passes_and_the_snapshot_is_loaded() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware())
            .route("/", web::get().to(whoami)),
    )
    .await;

    for customer in ["cust_free", "cust_pro"] {
        let (status, body) = call!(&app, get("/", Some(customer))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("{customer} snapshot=true stale=false"));
    }
}

#[actix_web::test]
async fn a_warm_cache_answers_without_calling_kelviq_again() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports"))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    for _ in 0..5 {
        let (status, _) = call!(&app, get("/reports", Some("cust_pro"))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call!(&app, get("/reports", Some("cust_free"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(setup.mock.calls(Route::Entitlements), 2);
}

#[actix_web::test]
async fn concurrent_requests_of_a_cold_customer_share_one_upstream_call() {
    let setup = Setup::start().await;
    setup
        .mock
        .set_route_latency(Route::Entitlements, std::time::Duration::from_millis(100));
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports"))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let responses =
        futures::future::join_all((0..20).map(|_| call!(&app, get("/reports", Some("cust_pro")))))
            .await;
    assert!(
        responses
            .iter()
            .all(|(status, _)| *status == StatusCode::OK)
    );
    assert_eq!(setup.mock.calls(Route::Entitlements), 1);
}

#[actix_web::test]
async fn require_all_names_the_first_missing_feature_and_require_any_needs_one() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/all")
                    .wrap(setup.middleware().require_all(["api-calls", "reports"]))
                    .to(whoami),
            )
            .service(
                web::resource("/any")
                    .wrap(setup.middleware().require_any(["reports", "seats"]))
                    .to(whoami),
            )
            .service(
                web::resource("/none-of")
                    .wrap(setup.middleware().require_any(["exports", "reports"]))
                    .to(whoami),
            ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/all", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/all", Some("cust_free"))).await,
        (StatusCode::FORBIDDEN, not_entitled("reports"))
    );
    assert_eq!(
        call!(&app, get("/any", Some("cust_free"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/none-of", Some("cust_free"))).await,
        (StatusCode::FORBIDDEN, not_entitled("exports"))
    );
}

#[actix_web::test]
async fn a_reached_hard_limit_is_denied_with_the_configured_status() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(
                setup
                    .middleware()
                    .require("api-calls")
                    .meter("api-calls", 1)
                    .limit_reached_status(429),
            )
            .route("/api/calls", web::post().to(HttpResponse::Ok)),
    )
    .await;

    // cust_tiny has 2 api-calls: the usage is applied to the cached snapshot at once.
    for _ in 0..2 {
        let (status, _) = call!(&app, crate::support::post("/api/calls", Some("cust_tiny"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = call!(&app, crate::support::post("/api/calls", Some("cust_tiny"))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        denial_body(
            "usage_limit_reached",
            "you have reached the usage limit of api-calls",
            Some("api-calls")
        )
    );
    assert_eq!(setup.usage("cust_tiny", "api-calls").await, 2);
}

#[actix_web::test]
async fn on_denied_replaces_every_denial_response() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.middleware().require("reports").on_denied(|denial| {
                match denial.reason() {
                    DenialReason::MissingCustomer => HttpResponse::Unauthorized().body("log in"),
                    _ => HttpResponse::Found()
                        .insert_header(("location", "/upgrade"))
                        .body(format!("upgrade for {}", denial.feature().unwrap_or("?"))),
                }
            }))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let response = test::call_service(&app, get("/reports", Some("cust_free")).to_request()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers().get("location").unwrap(), "/upgrade");
    assert_eq!(test::read_body(response).await, "upgrade for reports");
    assert_eq!(
        call!(&app, get("/reports", None)).await,
        (StatusCode::UNAUTHORIZED, "log in".to_owned())
    );
}

#[actix_web::test]
async fn denial_response_is_the_default_answer_for_handlers_that_keep_some() {
    let denial = kelviq_client::gate::Denial::limit_reached("api-calls");
    let response = kelviq_actix::denial_response(&denial);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    assert_eq!(body, denial.body_bytes());
}

#[actix_web::test]
async fn an_invalid_configuration_answers_500_kelviq_misconfigured() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/empty-feature")
                    .wrap(setup.middleware().require(""))
                    .to(whoami),
            )
            .service(
                web::resource("/negative")
                    .wrap(setup.middleware().meter("api-calls", -1))
                    .to(whoami),
            )
            .service(
                web::resource("/bad-header")
                    .wrap(setup.middleware().customer_from_header("not a header"))
                    .to(whoami),
            )
            .service(
                web::resource("/bad-status")
                    .wrap(setup.middleware().limit_reached_status(200))
                    .to(whoami),
            ),
    )
    .await;

    for uri in ["/empty-feature", "/negative", "/bad-header", "/bad-status"] {
        let (status, body) = call!(&app, get(uri, Some("cust_pro"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "kelviq_misconfigured", "{uri}");
        assert!(
            body["message"].as_str().unwrap().contains("misconfigured"),
            "{uri}: {body}"
        );
    }
    assert_eq!(setup.mock.calls(Route::Entitlements), 0);
}
