//! Memory per cached customer: the resident memory the entitlement cache takes for each
//! customer (one plan with 3 features), measured at 100,000 customers, and what a
//! million would take.
//!
//! Run: `cargo run --release -p kelviq-examples --bin cache-memory [-- customers]`
//! (default 100,000; Linux: it reads `VmRSS` in `/proc/self/status`). About half a
//! minute on 2 cores.
//!
//! Everything runs in this process, on one thread. The client loads its snapshots over
//! loopback HTTP from a stand-in for the fake Kelviq's entitlements endpoint that answers
//! every customer with the fake's own answer for a seeded customer of that plan, only the
//! id changed: the fake finds a customer by scanning them all, so loading 100,000 from a
//! fake seeded with them takes minutes (and the fake's ~1 KB per customer would have to
//! be subtracted). First 1,000 extra customers are loaded, so that connections, buffers
//! and the allocator reach their steady state; then the resident size is read before and
//! after loading every customer (64 loads in flight). The difference, divided by the
//! count, is what each cached customer costs: its snapshot, its key and the cache's
//! bookkeeping. RSS counts pages, so the figure includes the allocator's slack, as in a
//! real process.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use axum::extract::Query;
use axum::{Json, Router};
use kelviq_client::Kelviq;
use kelviq_examples::bench;
use kelviq_mock::{MockServer, Route};

/// Customers loaded before the measurement starts.
const WARM_UP_CUSTOMERS: usize = 1_000;

/// The customer count projected to.
const PROJECTED: u64 = 1_000_000;

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let customers = match std::env::args().nth(1).map(|arg| arg.parse::<usize>()) {
        None => Ok(100_000),
        Some(Ok(count)) if count > 0 => Ok(count),
        Some(_) => Err("usage: cache-memory [customers, default 100000]".into()),
    };
    match customers.and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cache-memory: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The resident set size of this process, in bytes.
fn rss_bytes() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|number| number.trim().parse::<u64>().ok())
        .ok_or("no VmRSS line in /proc/self/status")?;
    Ok(kib * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Serves the fake's answer to `GET /entitlements` for its seeded customer `template` to
/// every request, with the `customerId` the query names.
async fn serve_entitlements(mock: &MockServer, template: &str) -> Result<SocketAddr, BoxError> {
    let url = format!(
        "{}{}?customer_id={template}",
        mock.edge_url(),
        Route::Entitlements.path_template()
    );
    let answer: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(mock.token())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let handler = move |Query(query): Query<HashMap<String, String>>| {
        let mut answer = answer.clone();
        if let (Some(fields), Some(id)) = (answer.as_object_mut(), query.get("customer_id")) {
            fields.insert("customerId".to_owned(), id.as_str().into());
        }
        async move { Json(answer) }
    };
    Ok(bench::serve(Router::new().fallback(handler)).await?)
}

fn run(customers: usize) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids = bench::customer_ids(customers + WARM_UP_CUSTOMERS);
    let (measured, warm_up) = ids.split_at(customers);

    let mock = runtime.block_on(bench::start_mock(&warm_up[..1]))?;
    let edge = runtime.block_on(serve_entitlements(&mock, &warm_up[0]))?;
    let kelviq = Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(format!("http://{edge}"))
        .entitlement_cache(bench::cache_config(ids.len()))
        .build()?;
    runtime.block_on(bench::warm(&kelviq, warm_up))?;

    let before = rss_bytes()?;
    let started = Instant::now();
    runtime.block_on(bench::warm(&kelviq, measured))?;
    let load_time = started.elapsed();
    kelviq.sync_cache();
    let after = rss_bytes()?;

    let per_customer = after.saturating_sub(before) / customers as u64;
    println!(
        "{customers} customers (3 features each) loaded in {:.1} s ({:.0}/s), {} in the cache\n",
        load_time.as_secs_f64(),
        customers as f64 / load_time.as_secs_f64(),
        kelviq.cached_customers(),
    );
    println!(
        "| customers cached | RSS before | RSS after | bytes per customer | 1,000,000 customers |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {customers} | {} | {} | **{per_customer}** | {} |",
        mib(before),
        mib(after),
        mib(per_customer * PROJECTED),
    );
    Ok(())
}
