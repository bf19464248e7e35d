//! The axum example app: `cargo run -p kelviq-examples` (see the crate docs for routes).
//!
//! Listens on 127.0.0.1:3000 (`--port N` or `PORT` to change). Without `KELVIQ_API_KEY` it
//! runs on an embedded kelviq-mock and prints curl commands to try. `GET /metrics` answers
//! the client's metrics (kelviq-client's `metrics` feature) in Prometheus' text format.
//!
//! `--redis redis://127.0.0.1:6379` makes the instance a member of a fleet on that Redis
//! (kelviq-client's `redis` feature): start several on different ports, all pointed at one
//! `kelviq-mock` (or Kelviq), and they share snapshots, webhooks and the metered routes'
//! limits (see the README).

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use axum::routing::get;
use kelviq_client::telemetry;
use kelviq_examples::axum_app::router;
use kelviq_examples::{backend_in_fleet, init_logging, try_it, try_webhooks};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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

const USAGE: &str = "usage: axum-app [--port N] [--redis redis://HOST:PORT]";

/// `--port` (else `PORT`, else 3000) and `--redis`.
fn options() -> Result<(u16, Option<String>), String> {
    let mut port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok());
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--port: {value:?} is not a port number"))?,
                );
            }
            "--redis" => redis = Some(value),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok((port.unwrap_or(3000), redis))
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let (port, redis) = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("axum-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let backend = match backend_in_fleet(redis.as_deref()).await {
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
    let app = match router(&backend) {
        // The client's metrics, beside the app's routes.
        Ok(app) => app.route("/metrics", get(move || async move { metrics.render() })),
        Err(error) => {
            eprintln!("axum-app: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("axum-app: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr()
        && let Err(error) = backend.send_webhooks_to(addr)
    {
        eprintln!("axum-app: {error}");
        return ExitCode::FAILURE;
    }
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
    if let Some(redis) = &redis {
        println!(
            "a member of the fleet on {}: snapshots, webhooks and limits are shared",
            kelviq_client::fleet::FleetConfig::redis(redis).redacted_url()
        );
    }
    println!("\n{}", try_it(&base, &backend.webhook_secret));
    println!(
        "  # the client's metrics, in Prometheus' text format\n  curl -s {base}/metrics | grep kelviq_\n"
    );
    if let Some(mock) = &backend.mock {
        println!("{}", try_webhooks(&base, mock));
    }
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
