//! Hard limits through axum: requests in flight hold their units, so concurrency never
//! passes a limit, and a gate that only meters a hard-limited feature enforces it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use axum_test::TestServer;
use kelviq_axum::prelude::*;
use kelviq_mock::{Feature, MockServer, Plan, SeedCustomer};
use tokio::sync::Notify;

/// 50 requests at once against a limit of 3, the admitted handlers still running while
/// the others arrive: exactly 3 succeed and Kelviq records 3 (with and without `require`).
#[tokio::test]
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
        let release = Arc::new(Notify::new());
        let waiting = Arc::clone(&release);
        let router = Router::new()
            .route(
                "/export",
                post(move || {
                    let release = Arc::clone(&waiting);
                    async move {
                        release.notified().await;
                        "exported"
                    }
                })
                .route_layer(gate.into_layer()),
            )
            .layer(axum::middleware::from_fn(
                |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                    request.extensions_mut().insert(CustomerId::new("acme"));
                    next.run(request).await
                },
            ));
        let server = TestServer::new(router);
        let requests = (0..50).map(|_| async { server.post("/export").await.status_code() });
        let releaser = async {
            loop {
                tokio::task::yield_now().await;
                release.notify_waiters();
            }
        };
        let statuses = tokio::select! {
            statuses = futures::future::join_all(requests) => statuses,
            () = releaser => unreachable!(),
        };
        let ok = statuses.iter().filter(|status| status.is_success()).count();
        let refused = statuses
            .iter()
            .filter(|status| status.as_u16() == 403)
            .count();
        assert_eq!((ok, refused), (3, 47), "require: {require}");
        kelviq
            .usage_meter()
            .unwrap()
            .shutdown(Duration::from_secs(5))
            .await;
        assert_eq!(mock.usage_total("acme", "exports"), 3, "require: {require}");
    }
}
