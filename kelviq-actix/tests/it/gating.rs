//! Allow, deny, 401: the middleware's answers and what handlers see.

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;
use kelviq_mock::Route;

use crate::support::{Setup, call, denial_body, get, limit_body, middleware, not_entitled, whoami};

#[actix_web::test]
async fn an_entitled_customer_reaches_the_handler_with_its_context() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().require("reports")))
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
            .wrap(middleware(setup.gate().require("reports")))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

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
}

#[actix_web::test]
async fn no_customer_is_401_missing_customer_and_kelviq_is_not_called() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().require("reports")))
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
            .wrap(setup.plain())
            .route("/", web::get().to(whoami)),
    )
    .await;

    let (status, body) = call!(&app, get("/", Some("cust_nobody"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains(r#""code":"unknown_customer""#), "{body}");
}

#[actix_web::test]
async fn without_requirements_every_known_customer_passes_and_the_snapshot_is_loaded() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.plain())
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
            .wrap(middleware(setup.gate().require("reports")))
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
            .wrap(middleware(setup.gate().require("reports")))
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
                    .wrap(middleware(
                        setup.gate().require_all(["api-calls", "reports"]),
                    ))
                    .to(whoami),
            )
            .service(
                web::resource("/any")
                    .wrap(middleware(setup.gate().require_any(["reports", "seats"])))
                    .to(whoami),
            )
            .service(
                web::resource("/none-of")
                    .wrap(middleware(setup.gate().require_any(["exports", "reports"])))
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
            .wrap(middleware(
                setup
                    .gate()
                    .require("api-calls")
                    .meter("api-calls", 1)
                    .limit_reached_status(http::StatusCode::TOO_MANY_REQUESTS),
            ))
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
    assert_eq!(body, limit_body(429, 2));
    assert_eq!(setup.usage("cust_tiny", "api-calls").await, 2);
}

#[actix_web::test]
async fn the_gates_on_denied_replaces_every_denial_response_headers_included() {
    let setup = Setup::start().await;
    let gate = setup
        .gate()
        .require("reports")
        .on_denied(|denial| match denial.reason() {
            DenialReason::MissingCustomer => http::Response::builder()
                .status(401)
                .body(Bytes::from_static(b"log in"))
                .unwrap(),
            _ => http::Response::builder()
                .status(302)
                .header("location", "/upgrade")
                .header("set-cookie", "reason=plan")
                .header("set-cookie", "seen=1")
                .body(Bytes::from(format!(
                    "upgrade for {}",
                    denial.feature().unwrap_or("?")
                )))
                .unwrap(),
        });
    let app = test::init_service(
        App::new()
            .wrap(middleware(gate))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let response = test::call_service(&app, get("/reports", Some("cust_free")).to_request()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers().get("location").unwrap(), "/upgrade");
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies, ["reason=plan", "seen=1"]);
    assert_eq!(test::read_body(response).await, "upgrade for reports");
    assert_eq!(
        call!(&app, get("/reports", None)).await,
        (StatusCode::UNAUTHORIZED, "log in".to_owned())
    );
}

#[actix_web::test]
async fn an_on_denied_handler_can_keep_the_default_answer_for_some_denials() {
    let setup = Setup::start().await;
    let gate = setup
        .gate()
        .require("reports")
        .on_denied(|denial| match denial.reason() {
            DenialReason::MissingCustomer => http::Response::builder()
                .status(303)
                .header("location", "/login")
                .body(Bytes::new())
                .unwrap(),
            _ => denial.to_response(),
        });
    let app = test::init_service(
        App::new()
            .wrap(middleware(gate))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    assert_eq!(
        call!(&app, get("/reports", None)).await.0,
        StatusCode::SEE_OTHER
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
}
