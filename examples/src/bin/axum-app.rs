//! The axum example app: `cargo run -p kelviq-examples` (see the crate docs for routes).
//!
//! Listens on 127.0.0.1:3000 (`PORT` to change). Without `KELVIQ_API_KEY` it runs on an
//! embedded kelviq-mock and prints curl commands to try.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use kelviq_examples::axum_app::router;
use kelviq_examples::{backend, init_logging, try_it, try_webhooks};

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
    let app = match router(&backend) {
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
    println!("\n{}", try_it(&base, &backend.webhook_secret));
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
