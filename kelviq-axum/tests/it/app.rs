//! A router shaped like the example app, over a mock: fake auth by `x-api-key`, a free
//! route, a gated route, metered routes, extractor routes.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_test::TestServer;
use kelviq_axum::extract::{Customer, Entitled, Entitlements, UsageRecorder};
use kelviq_axum::{CustomerId, Gatekeeper, UsageAmount};
use kelviq_client::gate::FailurePolicy;
use kelviq_client::meter::UsageMeter;
use kelviq_client::{CacheConfig, Kelviq, RetryPolicy};
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};
use serde_json::json;

kelviq_client::feature! {
    pub Reports = "reports";
}

pub struct App {
    pub server: TestServer,
    pub mock: MockServer,
    pub kelviq: Kelviq,
    pub meter: UsageMeter,
}

/// Free: 5 api-calls; pro: reports and 10,000 api-calls.
pub fn seed() -> Seed {
    Seed::empty()
        .plan(Plan::new("free").feature(Feature::metered("api-calls").limit(5)))
        .plan(
            Plan::new("pro")
                .feature(Feature::boolean("reports"))
                .feature(Feature::metered("api-calls").limit(10_000)),
        )
        .customer(SeedCustomer::new("cust_free").subscribe("free"))
        .customer(SeedCustomer::new("cust_pro").subscribe("pro"))
}

async fn fake_auth(mut request: Request, next: Next) -> Response {
    let customer = match request
        .headers()
        .get("x-api-key")
        .and_then(|key| key.to_str().ok())
    {
        Some("free-key") => Some("cust_free"),
        Some("pro-key") => Some("cust_pro"),
        _ => None,
    };
    if let Some(customer) = customer {
        request.extensions_mut().insert(CustomerId::new(customer));
    }
    next.run(request).await
}

pub async fn start(cache: CacheConfig, policy: FailurePolicy) -> App {
    let mock = MockServer::builder().seed(seed()).start().await.unwrap();
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(cache)
        .build()
        .unwrap();
    let meter = UsageMeter::builder(kelviq.clone())
        .flush_interval(Duration::from_millis(10))
        .start()
        .unwrap();
    let gates = Gatekeeper::new(kelviq.clone(), meter.clone());
    let router = Router::new()
        .route("/", get(|| async { "free for all" }))
        .route(
            "/reports",
            get(|| async { "the report" }).route_layer(gates.require("reports").failure_policy(policy)),
        )
        .route(
            "/api/calls",
            post(|| async { "ok" })
                .route_layer(gates.require("api-calls").meter("api-calls", 1).failure_policy(policy)),
        )
        .route(
            "/api/fail",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR })
                .route_layer(gates.meter("api-calls", 1)),
        )
        .route(
            "/api/batch",
            post(|Query(query): Query<std::collections::HashMap<String, i64>>| async move {
                let items = query.get("items").copied().unwrap_or(0);
                let mut response = format!("{items} items").into_response();
                response.extensions_mut().insert(UsageAmount(items));
                response
            })
            .route_layer(gates.require("api-calls").meter("api-calls", 1)),
        )
        .route(
            "/me",
            get(|customer: Customer, entitlements: Entitlements| async move {
                let features: Vec<String> = entitlements
                    .to_entitlements()
                    .iter()
                    .map(|entitlement| entitlement.feature_id().to_owned())
                    .collect();
                let subscriptions = customer.subscriptions().await.unwrap().count;
                axum::Json(json!({"customer": customer.id(), "features": features, "subscriptions": subscriptions}))
            })
            .route_layer(gates.layer()),
        )
        .route("/typed-report", get(|_: Entitled<Reports>| async { "typed report" }).route_layer(gates.layer()))
        .route("/unlayered-report", get(|_: Entitled<Reports>| async { "typed report without layer" }))
        .route(
            "/record",
            post(|usage: UsageRecorder| async move {
                usage.record("api-calls", 3).unwrap();
                "recorded"
            })
            .route_layer(gates.layer()),
        )
        .route("/no-layer-customer", get(|customer: Customer| async move { customer.id().to_owned() }))
        .route("/no-layer-recorder", post(|_: UsageRecorder| async { "never" }))
        .route("/state-client", get(|State(kelviq): State<Kelviq>| async move { kelviq.api_url().to_owned() }))
        .layer(from_fn(fake_auth))
        .with_state(kelviq.clone());
    App {
        server: TestServer::new(router),
        mock,
        kelviq,
        meter,
    }
}

pub async fn app() -> App {
    start(CacheConfig::default(), FailurePolicy::Deny).await
}
