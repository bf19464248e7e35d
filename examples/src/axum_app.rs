//! The axum example app's routes (the `axum-app` binary serves them), public so that
//! tests can serve the same router.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use kelviq_axum::prelude::*;
use kelviq_client::fleet::FleetLimits;
use serde_json::json;

use crate::{ApiCalls, Backend, Reports, WEBHOOK_PATH, customer_for_api_key};

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

async fn api_call(snapshot: RequestSnapshot) -> Json<serde_json::Value> {
    let remaining = snapshot
        .get(ApiCalls::ID)
        .and_then(|calls| calls.remaining())
        .map(|remaining| remaining - 1);
    Json(json!({"ok": true, "remaining_after_this_call": remaining}))
}

async fn batch(usage: UsageRecorder, Query(query): Query<HashMap<String, i64>>) -> Response {
    let asked = query.get("items").copied().unwrap_or(1).max(0);
    // api-calls has a hard limit: hold the items first (the limit may leave fewer), then
    // process at most what is held.
    let items = match usage.reserve(asked).await {
        Ok(held) => asked.min(held),
        Err(refused) => return refused.into_response(),
    };
    let mut response = Json(json!({"processed": items, "asked": asked})).into_response();
    // Meter what the batch really cost, instead of the route's default of 1.
    response.extensions_mut().insert(UsageAmount(items));
    response
}

async fn me(customer: Customer, snapshot: RequestSnapshot) -> Json<serde_json::Value> {
    Json(crate::me_json(&customer, &snapshot).await)
}

/// The example's router: the same routes as the actix example, with the client as state.
///
/// # Errors
///
/// When the webhook secret is empty.
pub fn router(backend: &Backend) -> Result<Router, Box<dyn std::error::Error>> {
    // App-wide settings, once: a reached limit answers 429; Kelviq down → 503; metered
    // routes tell callers their quota (RateLimit-Policy / RateLimit).
    let gates = backend
        .kelviq
        .gate()
        .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
        .quota_headers(true)
        .failure_policy(FailurePolicy::Deny);
    // In a fleet (`--redis`), the metered routes' hard limits hold across every instance.
    let metered = if backend.kelviq.fleet_stats().is_some() {
        gates.clone().fleet_limits(FleetLimits::Strict)
    } else {
        gates.clone()
    };
    // A delivery sent again within the verifier's tolerance is not handled twice.
    let webhook_route = WebhookRoute::new(Webhook::new(&backend.webhook_secret)?)
        .replay_guard(ReplayGuard::default());
    Ok(Router::new()
        .route("/", get(home))
        .route(
            "/reports",
            get(reports).route_layer(gates.clone().require(Reports).into_layer()),
        )
        .route(
            "/api/calls",
            post(api_call).route_layer(
                metered
                    .clone()
                    .require(ApiCalls)
                    .meter(ApiCalls, 1)
                    .into_layer(),
            ),
        )
        .route(
            "/api/batch",
            post(batch).route_layer(metered.require(ApiCalls).meter(ApiCalls, 1).into_layer()),
        )
        .route("/me", get(me).route_layer(gates.clone().into_layer()))
        .route(
            WEBHOOK_PATH,
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
