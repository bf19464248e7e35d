//! Kelviq down: each failure policy, and stale snapshots. Time passes on tokio's paused
//! clock (the cache's clock), never on the wall clock.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;
use kelviq_mock::{Fault, FaultRule, Route};

use crate::support::{Reports, Setup, call, denial_body, get, middleware, post, whoami};

fn kelviq_down(setup: &Setup) {
    setup
        .mock
        .inject(FaultRule::always(Fault::status(503)).on(Route::Entitlements));
}

#[actix_web::test]
async fn kelviq_down_with_the_default_policy_is_503_kelviq_unavailable() {
    let setup = Setup::start().await;
    kelviq_down(&setup);
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup.gate().require("reports").meter("api-calls", 1),
            ))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let (status, body) = call!(&app, get("/reports", Some("cust_pro"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        denial_body(
            "kelviq_unavailable",
            "entitlements cannot be checked right now; try again later",
            None
        )
    );
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 12);
}

#[actix_web::test]
async fn kelviq_down_with_the_deny_policy_set_explicitly_is_503() {
    let setup = Setup::start().await;
    setup
        .mock
        .inject(FaultRule::always(Fault::DropConnection).on(Route::Entitlements));
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup
                    .gate()
                    .require("reports")
                    .failure_policy(FailurePolicy::Deny),
            ))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    let (status, _) = call!(&app, get("/reports", Some("cust_pro"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[actix_web::test]
async fn kelviq_down_with_the_allow_policy_lets_requests_through_unchecked_and_meters_them() {
    let setup = Setup::start().await;
    kelviq_down(&setup);
    let app = test::init_service(
        App::new()
            .wrap(middleware(
                setup
                    .gate()
                    .require("reports")
                    .meter("api-calls", 1)
                    .failure_policy(FailurePolicy::Allow),
            ))
            .route("/reports", web::get().to(whoami))
            .route(
                "/entitlements",
                web::get().to(|snapshot: RequestSnapshot| async move {
                    format!("{}", snapshot.has_access("reports"))
                }),
            )
            .route(
                "/entitled",
                web::get().to(|_: Entitled<Reports>| async { "entitled" }),
            )
            .service(
                web::resource("/guarded")
                    .route(
                        web::get()
                            .guard(guard::feature("reports"))
                            .to(|| async { "guarded" }),
                    )
                    .route(web::get().to(HttpResponse::NotFound)),
            ),
    )
    .await;

    // The free customer has no reports, but nothing can tell while Kelviq is down.
    assert_eq!(
        call!(&app, get("/reports", Some("cust_free"))).await,
        (
            StatusCode::OK,
            "cust_free snapshot=false stale=false".to_owned()
        )
    );
    // The policy covers the middleware's requirements; extractors and guards judge a
    // snapshot, and there is none.
    let unavailable = denial_body(
        "kelviq_unavailable",
        "entitlements cannot be checked right now; try again later",
        None,
    );
    assert_eq!(
        call!(&app, get("/entitled", Some("cust_free"))).await,
        (StatusCode::SERVICE_UNAVAILABLE, unavailable.clone())
    );
    assert_eq!(
        call!(&app, get("/entitlements", Some("cust_free"))).await,
        (StatusCode::SERVICE_UNAVAILABLE, unavailable)
    );
    assert_eq!(
        call!(&app, get("/guarded", Some("cust_free"))).await.0,
        StatusCode::NOT_FOUND
    );

    // One success, metered; the 503s and the 404 are not.
    assert_eq!(setup.usage("cust_free", "api-calls").await, 1);
}

#[actix_web::test]
async fn a_stale_snapshot_is_used_while_kelviq_is_down() {
    let setup = Setup::with_cache(
        CacheConfig::default()
            .ttl(Duration::from_millis(50))
            .stale_window(Duration::from_secs(60)),
    )
    .await;
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().require("reports")))
            .route("/reports", web::get().to(whoami)),
    )
    .await;

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await.1,
        "cust_pro snapshot=true stale=false"
    );
    assert_eq!(
        call!(&app, get("/reports", Some("cust_free"))).await.0,
        StatusCode::FORBIDDEN
    );
    // Past the TTL, within the stale window.
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(100)).await;
    kelviq_down(&setup);

    assert_eq!(
        call!(&app, get("/reports", Some("cust_pro"))).await,
        (
            StatusCode::OK,
            "cust_pro snapshot=true stale=true".to_owned()
        )
    );
    // Still judged on what is known: free has no reports.
    assert_eq!(
        call!(&app, get("/reports", Some("cust_free"))).await.0,
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn kelviq_recovering_is_picked_up_on_the_next_request_after_the_backoff() {
    let setup =
        Setup::with_cache(CacheConfig::default().error_backoff(Duration::from_millis(10))).await;
    setup
        .mock
        .inject(FaultRule::next(100, Fault::status(503)).on(Route::Entitlements));
    let app = test::init_service(
        App::new()
            .wrap(middleware(setup.gate().meter("api-calls", 1)))
            .route("/api/calls", web::post().to(HttpResponse::Ok)),
    )
    .await;

    tokio::time::pause();
    assert_eq!(
        call!(&app, post("/api/calls", Some("cust_pro"))).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let calls = setup.mock.calls(Route::Entitlements);
    setup.mock.clear_faults();
    // Within the error backoff, the failure is answered again without a call...
    assert_eq!(
        call!(&app, post("/api/calls", Some("cust_pro"))).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(setup.mock.calls(Route::Entitlements), calls);
    // ...past it, Kelviq is asked again.
    tokio::time::advance(Duration::from_millis(20)).await;
    assert_eq!(
        call!(&app, post("/api/calls", Some("cust_pro"))).await.0,
        StatusCode::OK
    );
    assert_eq!(setup.usage("cust_pro", "api-calls").await, 13);
}
