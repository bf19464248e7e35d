//! Binding the two listeners and serving connections until the [`MockServer`] is dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::faults::{FaultPlan, FaultRule, RandomFaults};
use crate::in_flight::InFlight;
use crate::journal::{
    DEFAULT_JOURNAL_BODY_LIMIT, DEFAULT_JOURNAL_CAPACITY, Journal, RecordedRequest,
};
use crate::route::{Base, Route};
use crate::routes::{self, DropConnection};
use crate::seed::{Plan, Seed, SeedCustomer, SeedError};
use crate::state::{DashboardError, State, StoredEvent, UsageReport};
use crate::webhooks::{
    self, DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_BACKOFF, DEFAULT_WEBHOOK_RECORD_CAPACITY,
    DEFAULT_WEBHOOK_TIMEOUT, Endpoint, WebhookDelivery, WebhookSecret, Webhooks,
};

/// The bearer token the mock accepts unless [`MockServerBuilder::token`] sets another.
pub const DEFAULT_TOKEN: &str = "kelviq_test_token";

/// What the request handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) journal: Mutex<Journal>,
    pub(crate) faults: Mutex<FaultPlan>,
    /// Requests being worked on, per route.
    pub(crate) in_flight: Arc<InFlight>,
    pub(crate) token: String,
    pub(crate) webhooks: Arc<Webhooks>,
    /// Whether the API listener serves the console ([`MockServerBuilder::console`]).
    pub(crate) console: bool,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the mock's state
/// stays usable for the assertions that follow.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a mock server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The seed is invalid.
    #[error("invalid seed")]
    Seed(#[from] SeedError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The webhook endpoint cannot work: not a plain `http://` URL, or an empty secret.
    #[error("invalid webhook endpoint {url}: {reason}")]
    InvalidWebhook {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No live customer has this id.
    #[error("unknown customer {0}")]
    UnknownCustomer(String),
    /// No plan has this identifier.
    #[error("unknown plan {0}")]
    UnknownPlan(String),
    /// No active subscription of the customer includes this feature with a usage (a
    /// metered or customizable feature): its usage cannot be set.
    #[error("the customer has no feature {0} with a usage")]
    UnknownFeature(String),
    /// A usage below 0.
    #[error("a usage is 0 or more, not {0}")]
    NegativeUsage(i64),
}

/// A running fake of the Kelviq cloud: an API listener and an edge listener on loopback.
///
/// Both listeners stop when the `MockServer` is dropped. Everything it holds — state,
/// journal, faults — is readable and settable from the test that owns it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = kelviq_mock::MockServer::start().await;
/// let response = reqwest::Client::new()
///     .get(format!("{}/api/v1/entitlements?customer_id=cust_pro", mock.edge_url()))
///     .bearer_auth(mock.token())
///     .send()
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(mock.calls(kelviq_mock::Route::Entitlements), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    shared: Arc<Shared>,
    api_addr: SocketAddr,
    edge_addr: SocketAddr,
    api_url: String,
    edge_url: String,
    // Dropping the sender tells every accept loop and connection to stop.
    _shutdown: watch::Sender<()>,
}

/// Configures a [`MockServer`]: seed, accepted token, ports, journal bounds.
#[derive(Debug, Clone)]
#[must_use]
pub struct MockServerBuilder {
    seed: Seed,
    token: String,
    api_port: u16,
    edge_port: u16,
    rng_seed: u64,
    journal_capacity: usize,
    journal_body_limit: usize,
    webhook: Option<(String, WebhookSecret)>,
    webhook_attempts: u32,
    webhook_backoff: Duration,
    webhook_timeout: Duration,
    console: bool,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            seed: Seed::default(),
            token: DEFAULT_TOKEN.to_owned(),
            api_port: 0,
            edge_port: 0,
            rng_seed: 0x6b65_6c76_6971,
            journal_capacity: DEFAULT_JOURNAL_CAPACITY,
            journal_body_limit: DEFAULT_JOURNAL_BODY_LIMIT,
            webhook: None,
            webhook_attempts: DEFAULT_WEBHOOK_ATTEMPTS,
            webhook_backoff: DEFAULT_WEBHOOK_BACKOFF,
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            console: false,
        }
    }
}

impl MockServerBuilder {
    /// Replaces the seed (default: [`Seed::default`], the shipped free and pro customers).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    /// Adds a plan to the seed.
    pub fn plan(mut self, plan: Plan) -> Self {
        self.seed = self.seed.plan(plan);
        self
    }

    /// Adds a customer to the seed.
    pub fn customer(mut self, customer: SeedCustomer) -> Self {
        self.seed = self.seed.customer(customer);
        self
    }

    /// The bearer token requests must carry (default [`DEFAULT_TOKEN`]).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The API listener's port on 127.0.0.1 (default 0: an ephemeral port).
    pub fn api_port(mut self, port: u16) -> Self {
        self.api_port = port;
        self
    }

    /// The edge listener's port on 127.0.0.1 (default 0: an ephemeral port).
    pub fn edge_port(mut self, port: u16) -> Self {
        self.edge_port = port;
        self
    }

    /// Seeds the generator of ids and keys, so that two runs hand out the same ones.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// How many requests the journal keeps (default [`DEFAULT_JOURNAL_CAPACITY`], 10,000):
    /// a ring, so recording one more drops the oldest, and a long-running mock (an example
    /// app, a load test) stays within a fixed memory budget. `0` keeps none.
    ///
    /// Everything read from the journal — [`MockServer::journal`], [`MockServer::calls`],
    /// [`MockServer::entitlement_calls`], ... — covers the kept requests only;
    /// [`MockServer::journal_dropped`] counts the others. State such as
    /// [`MockServer::usage_total`] is not the journal's and is never dropped.
    pub fn journal_capacity(mut self, entries: usize) -> Self {
        self.journal_capacity = entries;
        self
    }

    /// How many bytes of each request body the journal keeps (default
    /// [`DEFAULT_JOURNAL_BODY_LIMIT`], 64 KiB). A longer body is kept truncated
    /// ([`RecordedRequest::body_truncated`], [`RecordedRequest::body_len`]); the route
    /// still receives all of it (up to the mock's 1 MiB request limit).
    pub fn journal_body_limit(mut self, bytes: usize) -> Self {
        self.journal_body_limit = bytes;
        self
    }

    /// Sends every state change as a signed webhook to `url` (a plain `http://` URL),
    /// signed with `secret` (its bytes verbatim). Default: no webhooks. See
    /// [`webhooks`](crate::webhooks) for the format, event types and retries;
    /// [`MockServer::set_webhook`] sets or changes it later.
    ///
    /// A URL that is not `http://` or an empty secret makes [`start`](Self::start) fail
    /// with [`MockError::InvalidWebhook`].
    pub fn webhook(mut self, url: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.webhook = Some((url.into(), WebhookSecret::new(secret)));
        self
    }

    /// How many attempts each webhook delivery gets, the first included (default
    /// [`DEFAULT_WEBHOOK_ATTEMPTS`](crate::DEFAULT_WEBHOOK_ATTEMPTS), 5; at least 1).
    pub fn webhook_attempts(mut self, attempts: u32) -> Self {
        self.webhook_attempts = attempts.max(1);
        self
    }

    /// The wait after a delivery's first failed attempt, doubled after each further one up
    /// to [`MAX_WEBHOOK_BACKOFF`](crate::MAX_WEBHOOK_BACKOFF) (default
    /// [`DEFAULT_WEBHOOK_BACKOFF`](crate::DEFAULT_WEBHOOK_BACKOFF), 100 ms), on tokio's clock.
    pub fn webhook_backoff(mut self, backoff: Duration) -> Self {
        self.webhook_backoff = backoff.min(webhooks::MAX_WEBHOOK_BACKOFF);
        self
    }

    /// How long one delivery attempt may take before it counts as failed (default
    /// [`DEFAULT_WEBHOOK_TIMEOUT`](crate::DEFAULT_WEBHOOK_TIMEOUT), 5 s).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// Serves the [console](crate::console), a page to watch and steer the mock from a
    /// browser, at [`MockServer::console_url`] on the API listener (default: off, and
    /// `/_console` is a 404; the `kelviq-mock` binary and the example apps turn it on). The
    /// control endpoints it calls (`/_mock/...`) are served either way.
    pub fn console(mut self, enabled: bool) -> Self {
        self.console = enabled;
        self
    }

    /// Binds both listeners and starts serving on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`MockError::Seed`] for an invalid seed, [`MockError::InvalidWebhook`] for a
    /// webhook endpoint that cannot work, [`MockError::Bind`] when a port is taken.
    pub async fn start(self) -> Result<MockServer, MockError> {
        self.seed.validate()?;
        let endpoint = match self.webhook {
            Some((url, secret)) => Some(
                Endpoint::new(&url, secret)
                    .map_err(|reason| MockError::InvalidWebhook { url, reason })?,
            ),
            None => None,
        };
        let (webhooks, jobs) = Webhooks::new(
            endpoint,
            webhooks::RetryPolicy {
                attempts: self.webhook_attempts,
                backoff: self.webhook_backoff,
                timeout: self.webhook_timeout,
            },
            DEFAULT_WEBHOOK_RECORD_CAPACITY,
        );
        let webhooks = Arc::new(webhooks);
        let api = bind(self.api_port).await?;
        let edge = bind(self.edge_port).await?;
        let api_addr = local_addr(&api, self.api_port)?;
        let edge_addr = local_addr(&edge, self.edge_port)?;
        let api_url = format!("http://{api_addr}");
        let edge_url = format!("http://{edge_addr}");
        let mut state = State::from_seed(&self.seed, self.rng_seed, api_url.clone());
        state.webhooks = Some(Arc::clone(&webhooks));
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            journal: Mutex::new(Journal::new(self.journal_capacity, self.journal_body_limit)),
            faults: Mutex::new(FaultPlan::default()),
            in_flight: Arc::default(),
            token: self.token,
            webhooks: Arc::clone(&webhooks),
            console: self.console,
        });
        let (shutdown, stop) = watch::channel(());
        tokio::spawn(webhooks::run(webhooks, jobs, stop.clone()));
        tokio::spawn(serve(
            api,
            routes::router(Arc::clone(&shared), Base::Api),
            stop.clone(),
        ));
        tokio::spawn(serve(
            edge,
            routes::router(Arc::clone(&shared), Base::Edge),
            stop,
        ));
        tracing::debug!(%api_url, %edge_url, "kelviq-mock started");
        Ok(MockServer {
            shared,
            api_addr,
            edge_addr,
            api_url,
            edge_url,
            _shutdown: shutdown,
        })
    }
}

async fn bind(port: u16) -> Result<TcpListener, MockError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr)
        .await
        .map_err(|source| MockError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, port: u16) -> Result<SocketAddr, MockError> {
    listener.local_addr().map_err(|source| MockError::Bind {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        source,
    })
}

/// The error a connection ends with when a fault drops it: hyper then closes the
/// connection without writing a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct ConnectionDropped;

/// Accepts connections until `stop` fires, serving each with HTTP/1.1 on its own task.
async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "kelviq-mock accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let router = router.clone();
                async move {
                    let response = router
                        .oneshot(request.map(axum::body::Body::new))
                        .await
                        .unwrap_or_else(|never: Infallible| match never {});
                    if response.extensions().get::<DropConnection>().is_some() {
                        Err(ConnectionDropped)
                    } else {
                        Ok(response)
                    }
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

impl MockServer {
    /// Starts a mock with the default seed and token on ephemeral ports.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, as test servers such as wiremock's do; use
    /// [`MockServer::builder`] and [`MockServerBuilder::start`] to handle that error.
    #[allow(clippy::expect_used)]
    pub async fn start() -> MockServer {
        MockServer::builder()
            .start()
            .await
            .expect("kelviq-mock: cannot bind a loopback port")
    }

    /// A builder to choose the seed, token and ports.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The API base URL (`http://127.0.0.1:<port>`, no trailing slash): what a client
    /// uses in place of `https://api.kelviq.com`.
    pub fn url(&self) -> &str {
        &self.api_url
    }

    /// The edge base URL, for entitlements: what a client uses in place of
    /// `https://edge.api.kelviq.com`.
    pub fn edge_url(&self) -> &str {
        &self.edge_url
    }

    /// The console's URL (`http://127.0.0.1:<port>/_console`), when
    /// [`MockServerBuilder::console`] turned it on.
    pub fn console_url(&self) -> Option<String> {
        self.shared
            .console
            .then(|| format!("{}{}", self.api_url, crate::console::CONSOLE_PATH))
    }

    /// The API listener's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The edge listener's address.
    pub fn edge_addr(&self) -> SocketAddr {
        self.edge_addr
    }

    /// The bearer token the mock accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The environment a client needs to talk to this mock: `KELVIQ_API_KEY`,
    /// `KELVIQ_BASE_URL` and `KELVIQ_EDGE_URL`.
    pub fn env_vars(&self) -> [(&'static str, String); 3] {
        [
            ("KELVIQ_API_KEY", self.shared.token.clone()),
            ("KELVIQ_BASE_URL", self.api_url.clone()),
            ("KELVIQ_EDGE_URL", self.edge_url.clone()),
        ]
    }

    /// The requests received so far, in arrival order: the last
    /// [`journal_capacity`](MockServerBuilder::journal_capacity) of them (10,000 by
    /// default), bodies truncated to
    /// [`journal_body_limit`](MockServerBuilder::journal_body_limit) (64 KiB by default).
    pub fn journal(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.journal).entries().cloned().collect()
    }

    /// The requests that matched `route`, in arrival order.
    pub fn requests(&self, route: Route) -> Vec<RecordedRequest> {
        lock(&self.shared.journal)
            .entries()
            .filter(|request| request.route == Some(route))
            .cloned()
            .collect()
    }

    /// How many requests matched `route` (faulted, refused and answered alike).
    pub fn calls(&self, route: Route) -> usize {
        lock(&self.shared.journal)
            .entries()
            .filter(|request| request.route == Some(route))
            .count()
    }

    /// How many entitlement requests (`GET /api/v1/entitlements` on the edge listener,
    /// [`Route::Entitlements`]) asked about `customer_id`: those whose `customer_id` query
    /// parameter, decoded, is exactly that id — whole-snapshot fetches and single-feature
    /// checks (`&feature_id=..`) alike, faulted, refused and answered alike.
    ///
    /// The usual assertion of a caching client: "one call for this customer".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = kelviq_mock::MockServer::start().await;
    /// # let url = format!("{}/api/v1/entitlements?customer_id=cust_pro", mock.edge_url());
    /// # let client = reqwest::Client::new();
    /// # client.get(&url).bearer_auth(mock.token()).send().await.unwrap();
    /// // ... the code under test checks cust_pro's entitlements once ...
    /// assert_eq!(mock.entitlement_calls("cust_pro"), 1);
    /// assert_eq!(mock.entitlement_calls("cust_free"), 0);
    /// # }
    /// ```
    pub fn entitlement_calls(&self, customer_id: &str) -> usize {
        lock(&self.shared.journal)
            .entries()
            .filter(|request| request.route == Some(Route::Entitlements))
            .filter(|request| {
                request
                    .query_pairs()
                    .iter()
                    .any(|(name, value)| name == "customer_id" && value == customer_id)
            })
            .count()
    }

    /// Requests per matched route.
    pub fn call_counts(&self) -> BTreeMap<Route, usize> {
        let mut counts = BTreeMap::new();
        for route in lock(&self.shared.journal)
            .entries()
            .filter_map(|request| request.route)
        {
            *counts.entry(route).or_insert(0) += 1;
        }
        counts
    }

    /// How many requests the journal dropped, oldest first, to stay within its
    /// [`journal_capacity`](MockServerBuilder::journal_capacity).
    pub fn journal_dropped(&self) -> u64 {
        lock(&self.shared.journal).dropped()
    }

    /// Forgets every recorded request.
    pub fn clear_journal(&self) {
        lock(&self.shared.journal).clear();
    }

    /// How many requests of `route` the mock is working on now. A request whose client
    /// gave up before the answer counts until its injected latency is over, as at a
    /// backend that finishes the work a client walked away from.
    pub fn in_flight(&self, route: Route) -> usize {
        self.shared.in_flight.now(route)
    }

    /// The most requests of `route` the mock worked on at once since it started, counted
    /// as [`MockServer::in_flight`] counts them: the upstream concurrency a client caused.
    pub fn peak_in_flight(&self, route: Route) -> usize {
        self.shared.in_flight.peak(route)
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Adds `latency` to every request (zero to stop).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.faults).set_latency(None, latency);
    }

    /// Adds `latency` to every request of `route`, instead of the global latency.
    pub fn set_route_latency(&self, route: Route, latency: Duration) {
        lock(&self.shared.faults).set_latency(Some(route), latency);
    }

    /// Draws random faults for requests that no rule targets.
    pub fn set_random_faults(&self, random: RandomFaults) {
        lock(&self.shared.faults).set_random(Some(random));
    }

    /// Removes every rule, latency and random fault.
    pub fn clear_faults(&self) {
        *lock(&self.shared.faults) = FaultPlan::default();
    }

    /// The customer's current usage of a feature: the sum of its `DELTA` reports since the
    /// last `SET` (plus seeded usage). 0 when nothing was reported.
    pub fn usage_total(&self, customer_id: &str, feature_id: &str) -> i64 {
        lock(&self.shared.state).usage_of(customer_id, feature_id)
    }

    /// The usage reports accepted, in order: the last
    /// [`USAGE_REPORT_CAPACITY`](crate::USAGE_REPORT_CAPACITY) of them (10,000; older ones
    /// are dropped, their units still in [`usage_total`](Self::usage_total)).
    pub fn usage_reports(&self) -> Vec<UsageReport> {
        lock(&self.shared.state)
            .usage_reports
            .iter()
            .cloned()
            .collect()
    }

    /// Every distinct event accepted (one per idempotency key), in order.
    pub fn events(&self) -> Vec<StoredEvent> {
        lock(&self.shared.state).events.clone()
    }

    /// Completes a checkout session as if the customer paid: creates the customer if the
    /// session named none that exists, and subscribes it to the session's plan. Returns
    /// the new subscription's id, or `None` for an unknown or already completed session.
    pub fn complete_checkout(&self, checkout_session_id: &str) -> Option<String> {
        lock(&self.shared.state).complete_checkout(checkout_session_id)
    }

    /// Sends every later state change as a signed webhook to `url`, signed with `secret`
    /// (replacing any endpoint set before): what [`MockServerBuilder::webhook`] does, for
    /// when the receiver's address is known only after the mock started. Changes made
    /// before are not sent.
    ///
    /// # Errors
    ///
    /// [`MockError::InvalidWebhook`] if `url` is not a plain `http://` URL or `secret` is
    /// empty; the previous endpoint is kept.
    pub fn set_webhook(&self, url: &str, secret: impl AsRef<[u8]>) -> Result<(), MockError> {
        let endpoint = Endpoint::new(url, WebhookSecret::new(secret)).map_err(|reason| {
            MockError::InvalidWebhook {
                url: url.to_owned(),
                reason,
            }
        })?;
        self.shared.webhooks.set_endpoint(Some(endpoint));
        Ok(())
    }

    /// Stops sending webhooks for later changes (deliveries already queued still go out).
    pub fn clear_webhook(&self) {
        self.shared.webhooks.set_endpoint(None);
    }

    /// The webhook deliveries so far, oldest first, with their attempts and answers: the
    /// last [`DEFAULT_WEBHOOK_RECORD_CAPACITY`](crate::DEFAULT_WEBHOOK_RECORD_CAPACITY).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.webhooks.deliveries()
    }

    /// Waits until at least `count` webhook deliveries have settled (delivered, failed
    /// after their last attempt, or dropped) since the mock started, or until `timeout`
    /// has passed on tokio's clock; then returns [`webhook_deliveries`](Self::webhook_deliveries).
    /// Check the returned list: after a timeout it has fewer settled deliveries.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let mock = kelviq_mock::MockServer::builder()
    ///     // Nothing listens on port 9: every attempt fails.
    ///     .webhook("http://127.0.0.1:9/hooks", "whsec_test")
    ///     .webhook_attempts(1)
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// mock.set_plan("cust_free", "pro").unwrap();
    /// let deliveries = mock.wait_for_webhooks(1, Duration::from_secs(5)).await;
    /// assert_eq!(deliveries[0].event_type, "subscription.updated");
    /// assert_eq!(deliveries[0].outcome, kelviq_mock::DeliveryOutcome::Failed);
    /// # }
    /// ```
    pub async fn wait_for_webhooks(&self, count: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        self.shared.webhooks.wait_settled(count, timeout).await;
        self.webhook_deliveries()
    }

    /// Changes the customer's plan as someone would in Kelviq's dashboard: its oldest
    /// active subscription moves to `plan_id` (same charge period; entitlements follow at
    /// once), announced as `subscription.updated`; a customer without an active
    /// subscription gets a monthly one, announced as `subscription.created`. Returns the
    /// subscription id. A customer already on `plan_id` is left as it is, and nothing is
    /// announced: the change changes nothing.
    ///
    /// # Errors
    ///
    /// [`MockError::UnknownCustomer`] or [`MockError::UnknownPlan`].
    pub fn set_plan(&self, customer_id: &str, plan_id: &str) -> Result<String, MockError> {
        lock(&self.shared.state)
            .set_plan(customer_id, plan_id)
            .map(|change| change.subscription_id)
            .map_err(|error| dashboard_error(error, customer_id, plan_id, 0))
    }

    /// Sets the customer's usage of a feature as someone would in Kelviq's dashboard (no
    /// usage report is recorded), announced as `customer.updated`; a usage that already
    /// was `value` is left as it is, and nothing is announced.
    ///
    /// # Errors
    ///
    /// [`MockError::UnknownCustomer`]; [`MockError::UnknownFeature`] when no active
    /// subscription of the customer includes the feature, or it is a boolean feature;
    /// [`MockError::NegativeUsage`] for a `value` below 0.
    pub fn set_usage(
        &self,
        customer_id: &str,
        feature_id: &str,
        value: i64,
    ) -> Result<(), MockError> {
        lock(&self.shared.state)
            .set_usage(customer_id, feature_id, value)
            .map(drop)
            .map_err(|error| dashboard_error(error, customer_id, feature_id, value))
    }
}

impl MockServer {
    /// Starts a new usage period, as the real service does at each reset: every
    /// customer's metered usage goes back to 0, and from now on meters answer `resetAt:
    /// period_end` (`None`: the start of next month, the default). Announces nothing.
    ///
    /// For tests of what happens at a reset: seed a customer at its limit, set the
    /// period's end a few seconds ahead with [`MockServer::set_period_end`], let the
    /// client fetch, then start the next period here.
    pub fn start_period(&self, period_end: Option<jiff::Timestamp>) {
        let mut state = lock(&self.shared.state);
        state.reset_metered_usage();
        state.period_end = period_end;
    }

    /// Sets the end of the current usage period: meters answer `resetAt: period_end`
    /// (`None`: the start of next month, the default). Usage is unchanged.
    pub fn set_period_end(&self, period_end: Option<jiff::Timestamp>) {
        lock(&self.shared.state).period_end = period_end;
    }
}

/// The error of a dashboard change; `named` is the plan or the feature it named.
fn dashboard_error(error: DashboardError, customer_id: &str, named: &str, value: i64) -> MockError {
    match error {
        DashboardError::UnknownCustomer => MockError::UnknownCustomer(customer_id.to_owned()),
        DashboardError::UnknownPlan => MockError::UnknownPlan(named.to_owned()),
        DashboardError::UnknownFeature | DashboardError::BooleanFeature => {
            MockError::UnknownFeature(named.to_owned())
        }
        DashboardError::NegativeUsage => MockError::NegativeUsage(value),
    }
}
