//! Guards route by entitlement: a failing guard is "no match", never 403.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;

use crate::support::{Reports, Setup, call, get, middleware};

async fn report() -> HttpResponse {
    HttpResponse::Ok().body("report")
}

async fn upgrade() -> HttpResponse {
    HttpResponse::PaymentRequired().body("upgrade")
}

#[actix_web::test]
async fn a_guard_routes_entitled_customers_and_the_rest_fall_through_to_the_upgrade_route() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new().wrap(setup.plain()).service(
            web::resource("/reports")
                // A `feature!` type, as well as an id.
                .route(web::get().guard(guard::feature(Reports)).to(report))
                .route(web::get().to(upgrade)),
        ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await,
        (StatusCode::OK, "report".to_owned())
    );
    assert_eq!(
        call!(&app, get("/reports", Some("cust_free"))).await,
        (StatusCode::PAYMENT_REQUIRED, "upgrade".to_owned())
    );
}

#[actix_web::test]
async fn without_a_fallback_route_a_failing_guard_is_404() {
    let setup = Setup::start().await;
    let app = test::init_service(App::new().wrap(setup.plain()).route(
        "/reports",
        web::get().guard(guard::entitled::<Reports>()).to(report),
    ))
    .await;

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/reports", Some("cust_free"))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn all_of_and_any_of() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .wrap(setup.plain())
            .service(
                web::resource("/all")
                    .route(
                        web::get()
                            .guard(guard::all_of(["reports", "api-calls"]))
                            .to(report),
                    )
                    .route(web::get().to(upgrade)),
            )
            .service(
                web::resource("/any")
                    .route(
                        web::get()
                            .guard(guard::any_of(["exports", "reports"]))
                            .to(report),
                    )
                    .route(web::get().to(upgrade)),
            ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/all", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/all", Some("cust_free"))).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        call!(&app, get("/any", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/any", Some("cust_free"))).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        guard::all_of(["a", "b"]).features().collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[actix_web::test]
async fn scope_guards_see_the_app_middleware_and_route_guards_see_the_resource_middleware() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/pro")
                    .guard(guard::feature("reports"))
                    .route("/dashboard", web::get().to(report)),
            )
            .service(
                web::resource("/per-resource")
                    .wrap(setup.plain())
                    .route(web::get().guard(guard::feature("reports")).to(report))
                    .route(web::get().to(upgrade)),
            )
            .wrap(setup.plain()),
    )
    .await;

    assert_eq!(
        call!(&app, get("/pro/dashboard", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/pro/dashboard", Some("cust_free")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call!(&app, get("/per-resource", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call!(&app, get("/per-resource", Some("cust_free"))).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
}

#[actix_web::test]
async fn a_metered_feature_at_its_hard_limit_no_longer_matches() {
    let setup = Setup::start().await;
    let app = test::init_service(
        App::new()
            // The guard, not the gate, decides at the limit: the gate meters without
            // enforcing (else it refuses `usage_limit_reached` before routing).
            .wrap(middleware(
                setup.gate().meter("api-calls", 1).unenforced_limit(),
            ))
            .service(
                web::resource("/api/calls")
                    .route(web::post().guard(guard::feature("api-calls")).to(report))
                    .route(web::post().to(upgrade)),
            ),
    )
    .await;

    // cust_tiny has 2 api-calls.
    let post = || crate::support::post("/api/calls", Some("cust_tiny"));
    assert_eq!(call!(&app, post()).await.0, StatusCode::OK);
    assert_eq!(call!(&app, post()).await.0, StatusCode::OK);
    assert_eq!(call!(&app, post()).await.0, StatusCode::PAYMENT_REQUIRED);
}

#[actix_web::test]
async fn without_the_middleware_a_guard_never_matches() {
    let app = test::init_service(
        App::new().service(
            web::resource("/reports")
                .route(web::get().guard(guard::feature("reports")).to(report))
                .route(web::get().to(upgrade)),
        ),
    )
    .await;

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
}
