//! A router shaped like the example app, over a mock: fake auth by `x-api-key`, a free
//! route, gated routes, metered routes, extractor routes with and without the layer.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_test::TestServer;
use kelviq_axum::kelviq_client::RetryPolicy;
use kelviq_axum::prelude::*;
use kelviq_mock::{MockServer, Plan, Seed, SeedCustomer};
use serde_json::json;

feature! {
    pub Reports = "reports";
    pub ApiCalls = "api-calls";
}

pub struct App {
    pub server: TestServer,
    pub mock: MockServer,
    pub kelviq: Kelviq,
}

impl App {
    /// The client's usage meter.
    pub fn meter(&self) -> &UsageMeter {
        self.kelviq.usage_meter().unwrap()
    }
}

/// Free: 5 api-calls; pro: reports and 10,000 api-calls.
pub fn seed() -> Seed {
    Seed::empty()
        .plan(Plan::new("free").feature(kelviq_mock::Feature::metered("api-calls").limit(5)))
        .plan(
            Plan::new("pro")
                .feature(kelviq_mock::Feature::boolean("reports"))
                .feature(kelviq_mock::Feature::metered("api-calls").limit(10_000)),
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

/// A client on `mock` with `cache`, no retries, and a meter flushing every 10 ms.
pub fn client(mock: &MockServer, cache: CacheConfig) -> Kelviq {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .retry_policy(RetryPolicy::none())
        .entitlement_cache(cache)
        .usage_meter(MeterConfig::default().flush_interval(Duration::from_millis(10)))
        .build()
        .unwrap()
}

pub async fn start(cache: CacheConfig, policy: FailurePolicy) -> App {
    let mock = MockServer::builder().seed(seed()).start().await.unwrap();
    let kelviq = client(&mock, cache);
    let gates = kelviq.gate().failure_policy(policy);
    let router = Router::new()
        .route("/", get(|| async { "free for all" }))
        .route(
            "/reports",
            get(|| async { "the report" }).route_layer(gates.clone().require(Reports).into_layer()),
        )
        .route(
            "/api/calls",
            post(|| async { "ok" })
                .route_layer(gates.clone().require(ApiCalls).meter(ApiCalls, 1).into_layer()),
        )
        .route(
            "/api/fail",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR })
                .route_layer(gates.clone().meter(ApiCalls, 1).into_layer()),
        )
        .route(
            "/api/batch",
            post(|usage: UsageRecorder, Query(query): Query<HashMap<String, i64>>| async move {
                let items = query.get("items").copied().unwrap_or(0);
                // api-calls has a hard limit: hold what the batch may use first.
                let held = match usage.reserve(items).await {
                    Ok(held) => held,
                    Err(refused) => return refused.into_response(),
                };
                let items = items.min(held);
                let mut response = format!("{items} items").into_response();
                response.extensions_mut().insert(UsageAmount(items));
                response
            })
            .route_layer(gates.clone().require(ApiCalls).meter(ApiCalls, 1).into_layer()),
        )
        .route(
            "/api/set-amount",
            post(|usage: UsageRecorder, Query(query): Query<HashMap<String, i64>>| async move {
                let items = query.get("items").copied().unwrap_or(0);
                usage.reserve(items).await.unwrap();
                usage.set_amount(items);
                let status = if query.contains_key("fail") {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                };
                (status, format!("{:?} items", usage.amount()))
            })
            .route_layer(gates.clone().meter(ApiCalls, 1).into_layer()),
        )
        .route(
            "/me",
            get(|customer: Customer, snapshot: RequestSnapshot| async move {
                let features: Vec<String> = snapshot
                    .to_entitlements()
                    .iter()
                    .map(|entitlement| entitlement.feature_id().to_owned())
                    .collect();
                let subscriptions = customer.subscriptions().await.unwrap().count;
                axum::Json(json!({"customer": customer.id(), "features": features, "subscriptions": subscriptions}))
            })
            .route_layer(gates.clone().into_layer()),
        )
        .route(
            "/context",
            get(|context: KelviqContext| async move {
                format!("{} {}", context.customer_id(), context.limit_reached_status().as_u16())
            })
            .route_layer(gates.clone().into_layer()),
        )
        .route(
            "/maybe",
            get(|snapshot: Option<RequestSnapshot>| async move {
                if snapshot.is_some() { "some" } else { "none" }
            })
            .route_layer(gates.clone().into_layer()),
        )
        .route("/typed-report", get(|_: Entitled<Reports>| async { "typed report" }).route_layer(gates.clone().into_layer()))
        .route(
            "/record",
            post(|usage: UsageRecorder| async move {
                usage.record(ApiCalls, 3).unwrap();
                "recorded"
            })
            .route_layer(gates.clone().into_layer()),
        )
        .route("/no-layer/customer", get(|customer: Customer| async move { customer.id().to_owned() }))
        .route("/no-layer/snapshot", get(|_: RequestSnapshot| async { "never" }))
        .route("/no-layer/entitled", get(|_: Entitled<Reports>| async { "never" }))
        .route("/no-layer/recorder", post(|_: UsageRecorder| async { "never" }))
        .route("/no-layer/context", get(|_: KelviqContext| async { "never" }))
        .route(
            "/no-layer/optional",
            get(
                |customer: Option<Customer>, snapshot: Option<RequestSnapshot>, context: Option<KelviqContext>| async move {
                    format!("{} {} {}", customer.is_some(), snapshot.is_some(), context.is_some())
                },
            ),
        )
        .route("/state-client", get(|State(kelviq): State<Kelviq>| async move { kelviq.api_url().to_owned() }))
        .layer(from_fn(fake_auth))
        .with_state(kelviq.clone());
    App {
        server: TestServer::new(router),
        mock,
        kelviq,
    }
}

pub async fn app() -> App {
    start(CacheConfig::default(), FailurePolicy::Deny).await
}
