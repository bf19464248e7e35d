//! Loopback load test: requests per second and latency percentiles of an axum route with
//! and without the Kelviq layer (warm cache, metering on), measured in the same run, over
//! one customer or a whole customer base.
//!
//! `scripts/load-test.sh [seconds] [connections] [customers] [uniform|zipf]`, or
//! `cargo run --release -p kelviq-examples --bin load-test -- 10 32 10000 zipf`
//! (defaults: 10 s per route, 32 connections, 1 customer, uniform).
//! Everything runs in this process on 127.0.0.1: the fake Kelviq (seeded with the
//! customers, every one of them loaded into the cache before the run), both servers and
//! the load generator. Each request names its customer in the `x-customer-id` header,
//! drawn from the distribution (uniform, or Zipf with exponent 1: a few hot customers and
//! a long tail); every route, the bare one included, turns it into the `CustomerId`
//! extension in the same middleware. The numbers compare the routes; absolute figures
//! depend on the machine (the generator shares its cores).

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use kelviq_axum::prelude::*;
use kelviq_client::meter::MeterConfig;
use kelviq_examples::bench::{self, Distribution, METERED, Sampler};
use reqwest::header::HeaderValue;

/// The header that names the request's customer.
const CUSTOMER_HEADER: &str = "x-customer-id";

/// The fake authentication: the customer the load generator named.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let customer = request
        .headers()
        .get(CUSTOMER_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(CustomerId::new);
    if let Some(customer) = customer {
        request.extensions_mut().insert(customer);
    }
    next.run(request).await
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

/// Who the requests are for: one `x-customer-id` value per customer, and how they are drawn.
struct Customers {
    headers: Vec<HeaderValue>,
    sampler: Sampler,
}

/// `concurrency` workers post to `url` for `duration`, each request for a customer drawn
/// from `customers`.
async fn load(
    url: &str,
    customers: &Arc<Customers>,
    concurrency: usize,
    duration: Duration,
) -> Run {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let http = http.clone();
            let url = url.to_owned();
            let customers = Arc::clone(customers);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(worker as u64);
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let customer = &customers.headers[customers.sampler.sample(&mut rng)];
                    let sent = Instant::now();
                    let request = http.post(&url).header(CUSTOMER_HEADER, customer.clone());
                    match request.send().await {
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
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(32);
    let customers: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(1).max(1);
    let distribution = match args.next().map(|name| name.parse::<Distribution>()) {
        None => Distribution::Uniform,
        Some(Ok(distribution)) => distribution,
        Some(Err(error)) => {
            eprintln!("load-test: {error}");
            return ExitCode::FAILURE;
        }
    };
    let run = run(
        Duration::from_secs(seconds),
        concurrency,
        customers,
        distribution,
    );
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("load-test: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    duration: Duration,
    concurrency: usize,
    customer_count: usize,
    distribution: Distribution,
) -> Result<(), Box<dyn std::error::Error>> {
    let ids = bench::customer_ids(customer_count);
    let mock = bench::start_mock(&ids).await?;
    let kelviq = bench::client(&mock, ids.len(), MeterConfig::default())?;
    bench::warm(&kelviq, &ids).await?;
    let customers = Arc::new(Customers {
        headers: ids
            .iter()
            .map(|id| HeaderValue::from_str(id))
            .collect::<Result<_, _>>()?,
        sampler: Sampler::new(distribution, ids.len()),
    });
    let meter = kelviq.usage_meter()?.clone();
    let gates = kelviq.gate();
    let bare = Router::new()
        .route("/api/calls", post(|| async { "ok" }))
        .layer(from_fn(authenticate));
    let gated_only = Router::new()
        .route(
            "/api/calls",
            post(|| async { "ok" }).route_layer(gates.clone().require(METERED).into_layer()),
        )
        .layer(from_fn(authenticate));
    let gated = Router::new()
        .route(
            "/api/calls",
            post(|| async { "ok" }).route_layer(
                gates
                    .clone()
                    .require(METERED)
                    .meter(METERED, 1)
                    .into_layer(),
            ),
        )
        .layer(from_fn(authenticate));
    let bare_url = format!("http://{}/api/calls", bench::serve(bare).await?);
    let gated_only_url = format!("http://{}/api/calls", bench::serve(gated_only).await?);
    let gated_url = format!("http://{}/api/calls", bench::serve(gated).await?);
    // Warm up every route (the cache is warm already).
    for url in [&bare_url, &gated_only_url, &gated_url] {
        load(url, &customers, concurrency, Duration::from_millis(500)).await;
    }

    println!(
        "{concurrency} connections, {}s per route, {customer_count} customer{} ({distribution}), \
         loopback, one process",
        duration.as_secs(),
        if customer_count == 1 { "" } else { "s" }
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
            let run = load(routes[index].1, &customers, concurrency, duration / ROUNDS).await;
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
