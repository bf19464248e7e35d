//! The actix-web example app: `cargo run -p kelviq-examples --bin actix-app` (see the
//! crate docs for routes).
//!
//! The same routes, behaviour and embedded fake Kelviq as the axum app. Listens on
//! 127.0.0.1:3000 (`PORT` to change). Without `KELVIQ_API_KEY` it runs on an embedded
//! kelviq-mock and prints curl commands to try.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use kelviq_actix::prelude::*;
use kelviq_examples::{
    ApiCalls, Backend, Reports, backend, customer_for_api_key, init_logging, try_it, try_webhooks,
};
use serde_json::json;

/// Who the fake authentication says the caller is; the Kelviq middleware reads it as
/// request data (`web::ReqData<ApiUser>`).
#[derive(Debug, Clone)]
struct ApiUser {
    customer: &'static str,
}

impl AsRef<str> for ApiUser {
    fn as_ref(&self) -> &str {
        self.customer
    }
}

/// The fake authentication: `x-api-key` → the customer, stored for the Kelviq middleware.
async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let customer = request
        .headers()
        .get("x-api-key")
        .and_then(|key| key.to_str().ok())
        .and_then(customer_for_api_key);
    if let Some(customer) = customer {
        request.extensions_mut().insert(ApiUser { customer });
    }
    next.call(request).await
}

async fn home() -> HttpResponse {
    HttpResponse::Ok().json(json!({"hello": "this route is free for everyone"}))
}

async fn reports(customer: Customer) -> HttpResponse {
    HttpResponse::Ok().json(json!({"report": "quarterly numbers", "customer": customer.id()}))
}

async fn api_call(snapshot: RequestSnapshot) -> HttpResponse {
    let remaining = snapshot
        .get(ApiCalls::ID)
        .and_then(|calls| calls.remaining())
        .map(|remaining| remaining - 1);
    HttpResponse::Ok().json(json!({"ok": true, "remaining_after_this_call": remaining}))
}

async fn batch(
    usage: UsageRecorder,
    query: web::Query<HashMap<String, i64>>,
) -> Result<HttpResponse, FeatureNotEntitled> {
    let asked = query.get("items").copied().unwrap_or(1).max(0);
    // api-calls has a hard limit: hold the items first (the limit may leave fewer), then
    // process at most what is held.
    let items = asked.min(usage.reserve(asked).await?);
    let mut response = HttpResponse::Ok().json(json!({"processed": items, "asked": asked}));
    // Meter what the batch really cost, instead of the route's default of 1.
    response.extensions_mut().insert(UsageAmount(items));
    Ok(response)
}

async fn me(customer: Customer, snapshot: RequestSnapshot) -> HttpResponse {
    HttpResponse::Ok().json(kelviq_examples::me_json(&customer, &snapshot).await)
}

/// The example's routes (the same as the axum example's), for one worker.
fn routes(config: &mut web::ServiceConfig, routes: &Routes) {
    // Each gated resource has its own middleware; they share the client's cache and meter.
    let gated =
        |gate: &Gate| KelviqMiddleware::new(gate.clone()).customer(FromExtension::<ApiUser>::new());
    config
        .route("/", web::get().to(home))
        .service(
            web::resource("/reports")
                .wrap(gated(&routes.reports))
                .route(web::get().to(reports)),
        )
        .service(
            web::resource("/api/calls")
                .wrap(gated(&routes.api_calls))
                .route(web::post().to(api_call)),
        )
        .service(
            web::resource("/api/batch")
                .wrap(gated(&routes.api_calls))
                .route(web::post().to(batch)),
        )
        .service(
            web::resource("/me")
                .wrap(gated(&routes.me))
                .route(web::get().to(me)),
        )
        .route(
            "/webhooks/kelviq",
            webhook(
                routes.kelviq.clone(),
                routes.webhook.clone(),
                |event| async move {
                    tracing::info!(
                        event_type = event.event_type().unwrap_or("unknown"),
                        customer = event.customer_id().unwrap_or("none"),
                        "kelviq webhook received"
                    );
                    HttpResponse::Ok().json(json!({"received": event.id()}))
                },
            ),
        );
}

/// What every worker's app is built from (`Send + Clone`, unlike the apps themselves): the
/// gates, built and checked once at startup.
#[derive(Clone)]
struct Routes {
    kelviq: Kelviq,
    reports: Gate,
    api_calls: Gate,
    me: Gate,
    /// Built once: every worker shares its replay guard.
    webhook: WebhookRoute,
}

impl Routes {
    fn new(backend: &Backend) -> Result<Self, Box<dyn std::error::Error>> {
        // App-wide settings, once: a reached limit answers 429; Kelviq down → 503; metered
        // routes tell callers their quota (RateLimit-Policy / RateLimit).
        let gates = backend
            .kelviq
            .gate()
            .limit_reached_status(StatusCode::TOO_MANY_REQUESTS)
            .quota_headers(true)
            .failure_policy(FailurePolicy::Deny);
        Ok(Routes {
            kelviq: backend.kelviq.clone(),
            reports: gates.clone().require(Reports).build()?,
            api_calls: gates.clone().require(ApiCalls).meter(ApiCalls, 1).build()?,
            me: gates.build()?,
            webhook: WebhookRoute::new(Webhook::new(&backend.webhook_secret)?)
                .replay_guard(ReplayGuard::default()),
        })
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let backend = match backend().await {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("actix-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let routes_config = match Routes::new(&backend) {
        Ok(routes) => routes,
        Err(error) => {
            eprintln!("actix-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);
    let server = HttpServer::new(move || {
        let routes_config = routes_config.clone();
        App::new()
            .configure(move |config| routes(config, &routes_config))
            // Registered last, so it runs first: the Kelviq middlewares read what it stores.
            .wrap(from_fn(authenticate))
    })
    .bind(("127.0.0.1", port));
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            eprintln!("actix-app: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = server.addrs().first()
        && let Err(error) = backend.send_webhooks_to(*addr)
    {
        eprintln!("actix-app: {error}");
        return ExitCode::FAILURE;
    }
    let base = format!("http://127.0.0.1:{port}");
    match &backend.mock {
        Some(mock) => println!(
            "actix example on {base}, using an embedded fake Kelviq at {} (set KELVIQ_API_KEY for the real one)",
            mock.url()
        ),
        None => println!(
            "actix example on {base}, using Kelviq at {}",
            backend.kelviq.api_url()
        ),
    }
    println!("\n{}", try_it(&base, &backend.webhook_secret));
    if let Some(mock) = &backend.mock {
        println!("{}", try_webhooks(&base, mock));
    }
    println!("Stop with Ctrl-C.");
    // actix-web stops gracefully on Ctrl-C by itself.
    let served = server.run().await;
    if let Ok(meter) = backend.kelviq.usage_meter() {
        let report = meter.shutdown(Duration::from_secs(5)).await;
        println!("usage meter: {:?}", report.stats);
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("actix-app: {error}");
            ExitCode::FAILURE
        }
    }
}
