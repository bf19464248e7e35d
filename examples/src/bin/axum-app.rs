//! The axum example app: `cargo run -p kelviq-examples` (see the crate docs for routes).
//!
//! Listens on 127.0.0.1:3000 (`PORT` to change). Without `KELVIQ_API_KEY` it runs on an
//! embedded kelviq-mock and prints curl commands to try. `GET /metrics` answers the
//! client's metrics (kelviq-client's `metrics` feature) in Prometheus' text format.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use kelviq_axum::prelude::*;
use kelviq_client::telemetry;
use kelviq_examples::{
    ApiCalls, Backend, Reports, backend, customer_for_api_key, init_logging, try_it,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// Installs the Prometheus recorder for the `metrics` facade (no HTTP listener of its own:
/// `/metrics` is an axum route) and keeps its histograms trimmed in the background.
fn install_metrics() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".to_owned()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        )?
        .install_recorder()?;
    telemetry::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The fake authentication: `x-api-key` → the customer, for the Kelviq layer to read.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let customer = request
        .headers()
        .get("x-api-key")
        .and_then(|key| key.to_str().ok())
        .and_then(customer_for_api_key);
    if let Some(customer) = customer {
        request.extensions_mut().insert(CustomerId::new(customer));
    }
    next.run(request).await
}

async fn home() -> Json<serde_json::Value> {
    Json(json!({"hello": "this route is free for everyone"}))
}

async fn reports(customer: Customer) -> Json<serde_json::Value> {
    Json(json!({"report": "quarterly numbers", "customer": customer.id()}))
}

async fn api_call(entitlements: Entitlements) -> Json<serde_json::Value> {
    let remaining = entitlements
        .get(ApiCalls::ID)
        .and_then(|calls| calls.remaining())
        .map(|remaining| remaining - 1);
    Json(json!({"ok": true, "remaining_after_this_call": remaining}))
}

async fn batch(Query(query): Query<HashMap<String, i64>>) -> Response {
    let items = query.get("items").copied().unwrap_or(1).max(0);
    let mut response = Json(json!({"processed": items})).into_response();
    // Meter what the batch really cost, instead of the route's default of 1.
    response.extensions_mut().insert(UsageAmount(items));
    response
}

async fn me(customer: Customer, entitlements: Entitlements) -> Json<serde_json::Value> {
    let features: Vec<serde_json::Value> = entitlements
        .to_entitlements()
        .iter()
        .map(|entitlement| {
            json!({
                "feature": entitlement.feature_id(),
                "has_access": entitlement.has_access(),
                "usage": entitlement.usage(),
                "limit": entitlement.limit(),
                "remaining": entitlement.remaining(),
            })
        })
        .collect();
    let subscriptions = match customer.subscriptions().await {
        Ok(page) => page
            .results
            .iter()
            .map(|subscription| json!({"id": subscription.id, "status": subscription.status}))
            .collect(),
        Err(error) => vec![json!({"error": error.to_string()})],
    };
    Json(json!({
        "customer": customer.id(),
        "entitlements": features,
        "stale": entitlements.is_stale(),
        "subscriptions": subscriptions,
    }))
}

/// The example's router: the same routes as the actix example, plus `/metrics`.
fn router(
    backend: &Backend,
    metrics: PrometheusHandle,
) -> Result<Router, Box<dyn std::error::Error>> {
    // App-wide settings, once: a reached limit answers 429; Kelviq down → 503.
    let gates = backend
        .kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .failure_policy(FailurePolicy::Deny);
    // A delivery sent again within the verifier's tolerance is not handled twice.
    let webhook_route = WebhookRoute::new(Webhook::new(&backend.webhook_secret)?)
        .replay_guard(ReplayGuard::default());
    Ok(Router::new()
        .route("/", get(home))
        .route("/metrics", get(move || async move { metrics.render() }))
        .route(
            "/reports",
            get(reports).route_layer(gates.clone().require(Reports).into_layer()),
        )
        .route(
            "/api/calls",
            post(api_call).route_layer(
                gates
                    .clone()
                    .require(ApiCalls)
                    .meter(ApiCalls, 1)
                    .into_layer(),
            ),
        )
        .route(
            "/api/batch",
            post(batch).route_layer(
                gates
                    .clone()
                    .require(ApiCalls)
                    .meter(ApiCalls, 1)
                    .into_layer(),
            ),
        )
        .route("/me", get(me).route_layer(gates.clone().into_layer()))
        .route(
            "/webhooks/kelviq",
            webhook(backend.kelviq.clone(), webhook_route, |event| async move {
                tracing::info!(
                    event_type = event.event_type().unwrap_or("unknown"),
                    customer = event.customer_id().unwrap_or("none"),
                    "kelviq webhook received"
                );
                Json(json!({"received": event.id()}))
            }),
        )
        .layer(from_fn(authenticate))
        .with_state(backend.kelviq.clone()))
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let backend = match backend().await {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("axum-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let metrics = match install_metrics() {
        Ok(metrics) => metrics,
        Err(error) => {
            eprintln!("axum-app: cannot install the metrics recorder: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match router(&backend, metrics) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("axum-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("axum-app: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    match &backend.mock {
        Some(mock) => println!(
            "axum example on {base}, using an embedded fake Kelviq at {} (set KELVIQ_API_KEY for the real one)",
            mock.url()
        ),
        None => println!(
            "axum example on {base}, using Kelviq at {}",
            backend.kelviq.api_url()
        ),
    }
    println!("\n{}", try_it(&base, &backend.webhook_secret));
    println!(
        "  # the client's metrics, in Prometheus' text format\n  curl -s {base}/metrics | grep kelviq_\n"
    );
    println!("Stop with Ctrl-C.");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    if let Ok(meter) = backend.kelviq.usage_meter() {
        let report = meter.shutdown(Duration::from_secs(5)).await;
        println!("usage meter: {:?}", report.stats);
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum-app: {error}");
            ExitCode::FAILURE
        }
    }
}
