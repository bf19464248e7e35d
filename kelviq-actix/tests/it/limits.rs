//! Hard limits through actix-web: requests in flight hold their units, so concurrency
//! never passes a limit, and a gate that only meters a hard-limited feature enforces it.

use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use kelviq_actix::prelude::*;
use kelviq_mock::{Feature, MockServer, Plan, SeedCustomer};
use tokio::sync::Notify;

use crate::support::{middleware, post};

/// 50 requests at once against a limit of 3, every handler still running while the
/// others arrive: exactly 3 succeed and Kelviq records 3 (with and without `require`).
#[actix_web::test]
async fn hard_limit_holds_under_concurrency_on_one_instance() {
    for require in [true, false] {
        let mock = MockServer::builder()
            .plan(Plan::new("three").feature(Feature::metered("exports").limit(3)))
            .customer(SeedCustomer::new("acme").subscribe("three"))
            .start()
            .await
            .unwrap();
        let kelviq = Kelviq::builder()
            .access_token(mock.token())
            .api_url(mock.url())
            .edge_url(mock.edge_url())
            .build()
            .unwrap();
        let mut gate = kelviq.gate().meter("exports", 1);
        if require {
            gate = gate.require("exports");
        }
        // The admitted handlers wait until every request has been answered or admitted.
        let release = Rc::new(Notify::new());
        let waiting = Rc::clone(&release);
        let app = test::init_service(App::new().wrap(middleware(gate)).route(
            "/export",
            web::post().to(move || {
                let release = Rc::clone(&waiting);
                async move {
                    release.notified().await;
                    HttpResponse::Ok().finish()
                }
            }),
        ))
        .await;
        // The first request loads the customer; the 49 others find it cached.
        let requests = (0..50).map(|_| async {
            let response = test::call_service(&app, post("/export", Some("acme")).to_request());
            response.await.status()
        });
        let releaser = async {
            // Each admitted handler registers before the refusals are all in.
            for _ in 0..200 {
                tokio::task::yield_now().await;
            }
            release.notify_waiters();
            // Late arrivals (none expected) are let go too.
            loop {
                tokio::task::yield_now().await;
                release.notify_waiters();
            }
        };
        let statuses = tokio::select! {
            statuses = futures::future::join_all(requests) => statuses,
            () = releaser => unreachable!(),
        };
        let ok = statuses
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count();
        let refused = statuses
            .iter()
            .filter(|status| **status == StatusCode::FORBIDDEN)
            .count();
        assert_eq!((ok, refused), (3, 47), "require: {require}");
        kelviq
            .usage_meter()
            .unwrap()
            .shutdown(std::time::Duration::from_secs(5))
            .await;
        assert_eq!(mock.usage_total("acme", "exports"), 3, "require: {require}");
    }
}
