//! Loopback load test: requests per second and latency percentiles of an axum route with
//! and without the Kelviq layer (warm cache, metering on), measured in the same run.
//!
//! `scripts/load-test.sh [seconds] [concurrency]`, or
//! `cargo run --release -p kelviq-examples --bin load-test -- 10 32`.
//! Everything runs in this process on 127.0.0.1: the fake Kelviq, both servers and the
//! load generator. The numbers compare the two routes; absolute figures depend on the
//! machine (the generator shares its cores).

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use kelviq_axum::prelude::*;
use kelviq_mock::{Feature, MockServer, Plan, Seed, SeedCustomer};

async fn authenticate(mut request: Request, next: Next) -> Response {
    request
        .extensions_mut()
        .insert(CustomerId::new("load-customer"));
    next.run(request).await
}

/// Serves `router` on an ephemeral loopback port.
async fn serve(router: Router) -> Result<SocketAddr, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("load-test server: {error}");
        }
    });
    Ok(addr)
}

/// What one run measured.
struct Run {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let rank = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[rank.min(self.latencies_us.len() - 1)]
    }
}

/// `concurrency` workers post to `url` for `duration`.
async fn load(url: &str, concurrency: usize, duration: Duration) -> Run {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let http = http.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match http.post(&url).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(
                                u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                            );
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut run = Run {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for worker in workers {
        if let Ok((latencies, errors)) = worker.await {
            run.requests += latencies.len();
            run.errors += errors;
            run.latencies_us.extend(latencies);
        }
    }
    run.elapsed = started.elapsed();
    run.latencies_us.sort_unstable();
    run
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(32);
    match run(Duration::from_secs(seconds), concurrency).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("load-test: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(duration: Duration, concurrency: usize) -> Result<(), Box<dyn std::error::Error>> {
    let seed = Seed::empty()
        .plan(Plan::new("unlimited").feature(Feature::metered("api-calls")))
        .customer(SeedCustomer::new("load-customer").subscribe("unlimited"));
    let mock = MockServer::builder().seed(seed).start().await?;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(3600)))
        .build()?;
    let meter = kelviq.usage_meter()?.clone();
    let gates = kelviq.gate();
    let bare = Router::new()
        .route("/api/calls", post(|| async { "ok" }))
        .layer(from_fn(authenticate));
    let gated_only = Router::new()
        .route(
            "/api/calls",
            post(|| async { "ok" }).route_layer(gates.clone().require("api-calls").into_layer()),
        )
        .layer(from_fn(authenticate));
    let gated = Router::new()
        .route(
            "/api/calls",
            post(|| async { "ok" }).route_layer(
                gates
                    .clone()
                    .require("api-calls")
                    .meter("api-calls", 1)
                    .into_layer(),
            ),
        )
        .layer(from_fn(authenticate));
    let bare_url = format!("http://{}/api/calls", serve(bare).await?);
    let gated_only_url = format!("http://{}/api/calls", serve(gated_only).await?);
    let gated_url = format!("http://{}/api/calls", serve(gated).await?);
    // Warm up every route (and the entitlement cache).
    for url in [&bare_url, &gated_only_url, &gated_url] {
        load(url, concurrency, Duration::from_millis(500)).await;
    }

    println!(
        "{concurrency} connections, {}s per route, loopback, one process",
        duration.as_secs()
    );
    println!("| route | requests/s | p50 µs | p99 µs | errors |");
    println!("|---|---|---|---|---|");
    let routes = [
        ("bare", &bare_url),
        ("kelviq layer, gate only", &gated_only_url),
        ("kelviq layer, gate + meter", &gated_url),
    ];
    // Interleaved rounds, so that drift (other load, frequency scaling) hits every route
    // alike.
    const ROUNDS: u32 = 4;
    let mut results: Vec<Run> = routes
        .iter()
        .map(|_| Run {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
        })
        .collect();
    for round in 0..ROUNDS {
        for index in 0..routes.len() {
            // Alternate the order between rounds.
            let index = if round % 2 == 0 {
                index
            } else {
                routes.len() - 1 - index
            };
            let run = load(routes[index].1, concurrency, duration / ROUNDS).await;
            let total = &mut results[index];
            total.requests += run.requests;
            total.errors += run.errors;
            total.elapsed += run.elapsed;
            total.latencies_us.extend(run.latencies_us);
        }
    }
    for ((name, _), run) in routes.iter().zip(results.iter_mut()) {
        run.latencies_us.sort_unstable();
        println!(
            "| {name} | {:.0} | {} | {} | {} |",
            run.rps(),
            run.percentile(0.50),
            run.percentile(0.99),
            run.errors
        );
    }
    if let [bare, gate_only, gated] = results.as_slice() {
        println!(
            "\nthroughput: gate only {:.1}% of bare, gate + meter {:.1}% of bare",
            100.0 * gate_only.rps() / bare.rps(),
            100.0 * gated.rps() / bare.rps(),
        );
    }
    let report = meter.shutdown(Duration::from_secs(30)).await;
    println!(
        "metered: {} units recorded, {} sent in {} reports, {} unknown, {} failed",
        report.stats.recorded,
        report.stats.sent,
        report.stats.sent_requests,
        report.stats.unknown,
        report.stats.failed
    );
    Ok(())
}
