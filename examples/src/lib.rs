//! Runnable example apps for kelviq-rs, and what they share.
//!
//! - `cargo run -p kelviq-examples` (the `axum-app` binary): an axum service gated and
//!   metered with `kelviq-axum`.
//! - `cargo run -p kelviq-examples --bin actix-app`: the same service with actix-web and
//!   `kelviq-actix` (both listen on port 3000 unless `PORT` says otherwise).
//! - `cargo run -p kelviq-examples --bin grpc-app`: a tonic report service (unary and
//!   server-streaming) behind the Kelviq layer: denials are gRPC statuses, usage is
//!   metered when a call ends `OK`. `-- --demo` runs a scripted tour and exits; `-- --call`
//!   is a tiny client. Its protobuf code is [`report`].
//! - `scripts/load-test.sh` (the `load-test` binary): loopback load test of a route with
//!   and without the Kelviq layer, over one customer or many (uniform or Zipf).
//! - `scripts/engine-scaling.sh` (the `engine-scaling` binary): check + record ops/s by
//!   threads and customers, beside a `HashMap` + `Mutex<HashMap>` baseline.
//! - `cargo run --release -p kelviq-examples --bin cache-memory`: bytes per cached
//!   customer at 100,000 customers.
//!
//! The measuring programs share [`bench`](mod@bench).
//!
//! With no `KELVIQ_API_KEY` in the environment, each app starts an embedded `kelviq-mock`
//! seeded with a free and a pro customer ([`example_seed`]); with it, the app talks to the
//! real Kelviq (`KELVIQ_ENV`, `KELVIQ_BASE_URL`, `KELVIQ_EDGE_URL` as `Kelviq::from_env`
//! reads them).
//!
//! The embedded mock is started for development (`MockServerBuilder::start_dev`): it
//! serves its console (`kelviq_mock::console`), whose URL and control token it logs, where
//! the customers' plans and usage, the requests the app sends to Kelviq and the webhooks
//! show live, and where a plan, a usage or a fault changes with a click; the client is
//! `MockServer::client`.
//!
//! On the embedded mock, each app also receives the mock's signed webhooks
//! ([`Backend::send_webhooks_to`], once its listener is bound): a plan changed in the fake
//! (`MockServer::set_plan`, or `POST /api/v1/subscriptions/{id}/update/` on the mock)
//! reaches `POST /webhooks/kelviq`, which drops the customer's cached snapshot, so the
//! app's next answer follows the new plan at once instead of after the cache's TTL
//! (`tests/it/webhooks.rs` checks this over real HTTP; `tests/it/console.rs` drives the
//! console in a headless browser).
//!
//! Every app has the same routes and the same fake authentication: the `x-api-key`
//! header names the customer ([`customer_for_api_key`]).
//!
//! | route | what it shows |
//! |---|---|
//! | `GET /` | a free route: no customer needed |
//! | `GET /reports` | gated on the `reports` feature (pro only) |
//! | `POST /api/calls` | gated on `api-calls`, one unit metered per successful call |
//! | `POST /api/batch?items=N` | holds `N` units of the hard limit first (fewer if the limit leaves fewer), processes and meters what it holds |
//! | `GET /me` | the customer's entitlements and subscriptions, from a handler |
//! | `POST /webhooks/kelviq` | verifies a Kelviq webhook and refreshes that customer |

use std::net::SocketAddr;
use std::time::Duration;

/// The report service of the gRPC example (`grpc-app`): messages, tonic client and server.
///
/// Generated from `examples/proto/report.proto` and checked in once, beside kelviq-tower's
/// gRPC tests (which use the same service), so building needs no `protoc`; after editing
/// the proto, regenerate with `scripts/grpc-codegen.sh` (a pure-Rust compiler, protox, in a
/// throwaway crate outside the workspace).
#[path = "../../kelviq-tower/tests/it/grpc/report.v1.rs"]
#[allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod report;

use kelviq_client::fleet::FleetConfig;
use kelviq_client::{CacheConfig, Kelviq, KelviqBuilder};
use kelviq_mock::{Feature, MockError, MockServer, Plan, Seed, SeedCustomer};

pub mod axum_app;
pub mod bench;

/// The path of the apps' webhook route.
pub const WEBHOOK_PATH: &str = "/webhooks/kelviq";

kelviq_client::feature! {
    /// The reports pages (pro plan).
    pub Reports = "reports";
    /// Metered API calls (5 on free, 10,000 on pro).
    pub ApiCalls = "api-calls";
}

/// The fake authentication of the examples: API key → customer id.
pub const API_KEYS: [(&str, &str); 2] = [("free-key", "cust_free"), ("pro-key", "cust_pro")];

/// The webhook secret the examples use with the embedded mock (override with
/// `KELVIQ_WEBHOOK_SECRET`).
pub const EXAMPLE_WEBHOOK_SECRET: &str = "whsec_example";

/// The customer an `x-api-key` value names, if any.
pub fn customer_for_api_key(key: &str) -> Option<&'static str> {
    API_KEYS
        .iter()
        .find(|(known, _)| *known == key)
        .map(|(_, customer)| *customer)
}

/// The embedded mock's seed: a free plan with 5 API calls, a pro plan with reports and
/// 10,000 calls; `cust_free` and `cust_pro`.
pub fn example_seed() -> Seed {
    Seed::empty()
        .plan(
            Plan::new("free")
                .name("Free")
                .feature(Feature::metered("api-calls").limit(5))
                .feature(Feature::customizable("seats", 1)),
        )
        .plan(
            Plan::new("pro")
                .name("Pro")
                .price_units(4900)
                .feature(Feature::boolean("reports"))
                .feature(Feature::metered("api-calls").limit(10_000))
                .feature(Feature::customizable("seats", 10)),
        )
        .customer(
            SeedCustomer::new("cust_free")
                .email("owner@free.example")
                .name("Free Co")
                .subscribe("free"),
        )
        .customer(
            SeedCustomer::new("cust_pro")
                .email("owner@pro.example")
                .name("Pro Inc")
                .subscribe("pro")
                .payment_method(),
        )
}

/// What an example app talks to: the client (with its entitlement cache and usage meter),
/// the webhook secret, and the embedded mock when there is one (it stops when this is
/// dropped).
#[derive(Debug)]
pub struct Backend {
    /// The client; its cache holds snapshots for 30 s.
    pub kelviq: Kelviq,
    /// The secret webhook deliveries are signed with.
    pub webhook_secret: String,
    /// The embedded mock, when no `KELVIQ_API_KEY` was set.
    pub mock: Option<MockServer>,
}

impl Backend {
    /// Points the embedded mock's webhooks at the app listening on `app_addr`
    /// (`POST` [`WEBHOOK_PATH`]), signed with [`webhook_secret`](Self::webhook_secret):
    /// a plan changed in the mock ([`MockServer::set_plan`], or an update through its API)
    /// then refreshes the app's cached entitlements for that customer at once, whatever
    /// the cache's TTL. Call it once the app's listener is bound. Does nothing against the
    /// real Kelviq, whose webhooks are configured in its dashboard.
    ///
    /// # Errors
    ///
    /// [`MockError::InvalidWebhook`] when the webhook secret is empty.
    pub fn send_webhooks_to(&self, app_addr: SocketAddr) -> Result<(), MockError> {
        match &self.mock {
            Some(mock) => mock
                .send_webhooks_to(app_addr, WEBHOOK_PATH, &self.webhook_secret)
                .map(drop),
            None => Ok(()),
        }
    }
}

/// Connects to Kelviq as the environment says, or starts the embedded mock
/// ([`embedded_backend`]). Snapshots are cached for 30 s.
///
/// # Errors
///
/// When the environment is set but invalid, or the mock cannot bind.
pub async fn backend() -> Result<Backend, Box<dyn std::error::Error>> {
    backend_in_fleet(None).await
}

/// [`backend`], as a member of the fleet sharing the Redis at `redis_url` (key prefix
/// `kelviq-example`), when given: instances share snapshots, invalidations and the
/// metered routes' limits (see `kelviq_client::fleet`). The members of a fleet must talk
/// to the same Kelviq: with the embedded mock each instance has its own, so run a
/// `kelviq-mock` and point every instance at it (`KELVIQ_API_KEY`, `KELVIQ_BASE_URL`,
/// `KELVIQ_EDGE_URL`), as the README shows.
///
/// # Errors
///
/// As [`backend`], and for an invalid Redis URL.
pub async fn backend_in_fleet(
    redis_url: Option<&str>,
) -> Result<Backend, Box<dyn std::error::Error>> {
    let cache = CacheConfig::default().ttl(Duration::from_secs(30));
    if std::env::var_os(kelviq_client::ENV_API_KEY).is_none() {
        return embedded(cache, redis_url).await;
    }
    let kelviq = in_fleet(
        KelviqBuilder::from_env().entitlement_cache(cache),
        redis_url,
    )
    .build()?;
    Ok(Backend {
        kelviq,
        webhook_secret: webhook_secret(),
        mock: None,
    })
}

/// Starts the embedded mock for development — seeded with [`example_seed`], its console on
/// and its URL logged — and a client
/// for it whose entitlement cache is `cache`: what the apps run on without
/// `KELVIQ_API_KEY`, and what the tests serve the apps over.
///
/// # Errors
///
/// When the mock cannot bind.
pub async fn embedded_backend(cache: CacheConfig) -> Result<Backend, Box<dyn std::error::Error>> {
    embedded(cache, None).await
}

/// [`embedded_backend`], in the fleet at `redis_url` when given.
async fn embedded(
    cache: CacheConfig,
    redis_url: Option<&str>,
) -> Result<Backend, Box<dyn std::error::Error>> {
    let mock = MockServer::builder()
        .seed(example_seed())
        .start_dev()
        .await?;
    let kelviq = in_fleet(mock.client().entitlement_cache(cache), redis_url).build()?;
    Ok(Backend {
        kelviq,
        webhook_secret: webhook_secret(),
        mock: Some(mock),
    })
}

/// `builder` as a member of the fleet sharing the Redis at `redis_url` (key prefix
/// `kelviq-example`), when given.
fn in_fleet(builder: KelviqBuilder, redis_url: Option<&str>) -> KelviqBuilder {
    match redis_url {
        Some(url) => builder.fleet(FleetConfig::redis(url).prefix("kelviq-example")),
        None => builder,
    }
}

/// `KELVIQ_WEBHOOK_SECRET`, or [`EXAMPLE_WEBHOOK_SECRET`].
fn webhook_secret() -> String {
    std::env::var("KELVIQ_WEBHOOK_SECRET").unwrap_or_else(|_| EXAMPLE_WEBHOOK_SECRET.to_owned())
}

/// The curl commands that show each behaviour of an app listening on `base`.
pub fn try_it(base: &str, webhook_secret: &str) -> String {
    let body = r#"{"type":"subscription.updated","data":{"customerId":"cust_pro"}}"#;
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let signature =
        kelviq_client::webhook::sign(webhook_secret, "msg_1", timestamp, body.as_bytes());
    format!(
        "\
Try it:
  # a free route
  curl -s {base}/
  # no customer: 401
  curl -s {base}/reports
  # pro has reports: 200; free does not: 403 feature_not_entitled
  curl -s -H 'x-api-key: pro-key' {base}/reports
  curl -s -H 'x-api-key: free-key' {base}/reports
  # metered: each success counts one api-call; free has 5, the 6th is 429 usage_limit_reached
  for i in 1 2 3 4 5 6; do curl -s -X POST -H 'x-api-key: free-key' {base}/api/calls; echo; done
  # the handler says how much to meter: 250 units for the pro customer
  curl -s -X POST -H 'x-api-key: pro-key' '{base}/api/batch?items=250'
  # entitlements and subscriptions of the current customer
  curl -s -H 'x-api-key: pro-key' {base}/me
  # a signed webhook (valid for 5 minutes): refreshes cust_pro's cached entitlements
  curl -s -X POST {base}/webhooks/kelviq -H 'content-type: application/json' \\
    -H 'webhook-id: msg_1' -H 'webhook-timestamp: {timestamp}' -H 'webhook-signature: {signature}' \\
    -d '{body}'
"
    )
}

/// The curl commands that show the webhook loop of an app listening on `base` whose
/// embedded fake Kelviq is `mock`: upgrade `cust_free` in the fake, and the app's next
/// answer follows at once.
pub fn try_webhooks(base: &str, mock: &MockServer) -> String {
    format!(
        "\
{console}
Webhooks from the embedded fake:
  # free has no reports (and the answer is now cached)
  curl -s -H 'x-api-key: free-key' {base}/reports
  # upgrade cust_free as in Kelviq's dashboard: the fake sends the app a signed webhook
  curl -s -X POST -H 'Authorization: Bearer {token}' -H 'content-type: application/json' \\
    {mock_url}/_mock/customers/cust_free/plan -d '{{\"plan\": \"pro\"}}'
  # the app's next answer follows the new plan at once: 200
  curl -s -H 'x-api-key: free-key' {base}/reports
",
        console = try_console(mock),
        token = mock.token(),
        mock_url = mock.url(),
    )
}

/// Where the embedded fake's console is, and what it shows (nothing when it is off).
pub fn try_console(mock: &MockServer) -> String {
    mock.console_url().map_or_else(String::new, |url| {
        format!(
            "\
Watch and steer the embedded fake Kelviq in a browser: customers, plans and usage,
the requests the app sends, webhooks, and faults to inject (a 503, latency, ...):
  {url}
"
        )
    })
}

/// Logs to stderr at `info` (override with `RUST_LOG`-style levels is left out to keep
/// the dependencies small).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The body of `GET /me`, the same in every app: the customer, its entitlements (as the
/// gate loaded them, serialized with the wire's names) and its subscriptions (fetched now).
pub async fn me_json(
    customer: &kelviq_client::CustomerClient,
    snapshot: &kelviq_client::gate::RequestSnapshot,
) -> serde_json::Value {
    let subscriptions = match customer.subscriptions().await {
        Ok(page) => page
            .results
            .iter()
            .map(|subscription| serde_json::json!({"id": subscription.id, "status": subscription.status}))
            .collect(),
        Err(error) => vec![serde_json::json!({"error": error.to_string()})],
    };
    serde_json::json!({
        "customer": customer.id(),
        "entitlements": snapshot.to_entitlements(),
        "stale": snapshot.is_stale(),
        "subscriptions": subscriptions,
    })
}
