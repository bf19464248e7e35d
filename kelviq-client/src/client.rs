//! [`Kelviq`]: the client, cheap to clone, with one accessor per API resource.

use std::sync::{Arc, Mutex, OnceLock};

use crate::builder::KelviqBuilder;
use crate::cache::{CachedSnapshot, EntitlementCache, Snapshot};
use crate::config::ApiVersion;
use crate::customer_client::CustomerClient;
use crate::error::Result;
use crate::gate::GateBuilder;
use crate::http::Transport;
use crate::meter::{MeterConfig, UsageMeter};
use crate::resources::{
    ChargesApi, CheckoutApi, CustomersApi, EntitlementsApi, LicenseApi, PaymentMethodsApi,
    PortalApi, RefundsApi, ReportingApi, SubscriptionsApi, TransactionsApi,
};
use crate::sync::lock;
use crate::tier::SharedTier;
use crate::usage::UsageLedger;

/// The Kelviq client.
///
/// Cloning is cheap (an `Arc` inside) and clones share the connection pool; the client is
/// `Send + Sync`. Each resource of the API has an accessor returning a borrowed handle:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// use kelviq_client::Kelviq;
///
/// let kelviq = Kelviq::builder()
///     .access_token(mock.token())
///     .api_url(mock.url())
///     .edge_url(mock.edge_url())
///     .build()?;
/// let customer = kelviq.customers().retrieve("cust_pro").await?;
/// assert_eq!(customer.customer_id, "cust_pro");
/// assert!(kelviq.entitlements().has_access("cust_pro", "reports").await?);
/// # Ok(())
/// # }
/// ```
///
/// `Debug` shows the configuration without the access token.
#[derive(Clone, Debug)]
pub struct Kelviq {
    pub(crate) inner: Arc<Inner>,
}

/// What clones of a client share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) transport: Arc<Transport>,
    /// The entitlement cache (possibly keeping no snapshot).
    pub(crate) cache: Arc<EntitlementCache>,
    /// The usage ledger: what requests hold, and what the meter has not delivered; the
    /// cache reads it, the meter drains it, the gate holds and settles through it.
    pub(crate) ledger: Arc<UsageLedger>,
    pub(crate) meter_config: MeterConfig,
    /// The client's usage meter, once started.
    pub(crate) meter: OnceLock<UsageMeter>,
    /// Held while the meter starts, so that it starts once.
    pub(crate) meter_start: Mutex<()>,
    /// The other instances the cache, gates and meter share with ([`Alone`](crate::tier::Alone)
    /// unless the client joined a fleet).
    pub(crate) tier: Arc<dyn SharedTier>,
}

impl Kelviq {
    /// A builder for every option.
    pub fn builder() -> KelviqBuilder {
        KelviqBuilder::default()
    }

    /// A client for the sandbox environment with default options.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) if the token is empty or not header-safe.
    pub fn new(access_token: impl Into<String>) -> Result<Self> {
        Kelviq::builder().access_token(access_token).build()
    }

    /// A client configured from the environment with default options:
    /// [`KelviqBuilder::from_env`] then [`build`](KelviqBuilder::build). Use the builder to
    /// add options.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) naming the variable that is missing or invalid (never its value
    /// for the token).
    pub fn from_env() -> Result<Self> {
        KelviqBuilder::from_env().build()
    }

    /// [`Kelviq::from_env`] reading variables through `lookup` (for tests and for
    /// configuration systems other than the process environment).
    ///
    /// # Errors
    ///
    /// As [`Kelviq::from_env`].
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        KelviqBuilder::from_env_with(lookup).build()
    }

    /// The API base URL in use.
    pub fn api_url(&self) -> &str {
        &self.inner.transport.api_url
    }

    /// The edge base URL in use.
    pub fn edge_url(&self) -> &str {
        &self.inner.transport.edge_url
    }

    /// The API version in every path, on both hosts (default [`ApiVersion::V1`]).
    pub fn api_version(&self) -> ApiVersion {
        self.inner.transport.api_version
    }

    /// The longest customer id the client sends, in bytes
    /// ([`KelviqBuilder::max_customer_id_len`], default 256).
    pub fn max_customer_id_len(&self) -> usize {
        self.inner.transport.max_customer_id_len
    }

    /// The name of this client instance, sent as the
    /// [`INSTANCE_HEADER`](crate::INSTANCE_HEADER) of every request
    /// ([`KelviqBuilder::instance_name`]; default `<process id>@<host name>`).
    pub fn instance_name(&self) -> &str {
        // `build` made the value from visible ASCII, which `to_str` always accepts.
        self.inner.transport.instance.to_str().unwrap_or_default()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn cache(&self) -> &EntitlementCache {
        &self.inner.cache
    }

    /// Whether the client keeps an entitlement cache (on unless the builder said
    /// [`no_entitlement_cache`](KelviqBuilder::no_entitlement_cache)). Gates need one.
    pub fn has_entitlement_cache(&self) -> bool {
        self.inner.cache.is_enabled()
    }

    /// The customer's entitlements snapshot: from the cache (fresh, or stale while Kelviq
    /// is unreachable — the answer says which), else fetched now. A fetched snapshot
    /// counts the usage this client's meter recorded and has not delivered yet.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty id or one longer than
    /// [`KelviqBuilder::max_customer_id_len`](KelviqBuilder::max_customer_id_len); the error of the upstream call when there is
    /// no usable snapshot ([`Error::Shared`](crate::Error::Shared) when several callers waited on that call).
    pub async fn entitlements_snapshot(&self, customer_id: &str) -> Result<CachedSnapshot> {
        if let Some(snapshot) = self.cache().get_fresh(customer_id) {
            return Ok(CachedSnapshot::fresh(snapshot));
        }
        crate::resources::customer_id(self.transport(), customer_id)?;
        self.cache().get(customer_id).await
    }

    /// The customer's cached snapshot if it is fresh, without I/O and without allocating:
    /// the fast path of a gate. `None` without a cache, or when the snapshot is missing or
    /// stale (then use [`Kelviq::entitlements_snapshot`]).
    ///
    /// The answer is a reference ([`Arc`]) to the shared snapshot: taking and dropping one
    /// writes its count, so one customer checked this way in a tight loop on several cores
    /// makes those cores take turns on that line. To check on the hottest paths, read in
    /// place with [`Kelviq::with_cached_entitlements`].
    pub fn cached_entitlements(&self, customer_id: &str) -> Option<Arc<Snapshot>> {
        self.cache().get_fresh(customer_id)
    }

    /// Reads the customer's cached snapshot if it is fresh, without I/O, without
    /// allocating and without taking a reference: `read`'s answer, or `None` as for
    /// [`Kelviq::cached_entitlements`]. For checks on the hottest paths: a reference
    /// ([`Arc`]) to one customer's snapshot, taken and dropped by every request on every
    /// core, is a counter those cores fight over; reading it in place writes nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder()
    /// #     .access_token(mock.token()).api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// kelviq.entitlements_snapshot("cust_pro").await?; // loads it
    /// let allowed = kelviq.with_cached_entitlements("cust_pro", |snapshot| {
    ///     snapshot.has_access("reports")
    /// });
    /// assert_eq!(allowed, Some(true));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_cached_entitlements<R>(
        &self,
        customer_id: &str,
        read: impl FnOnce(&Snapshot) -> R,
    ) -> Option<R> {
        self.cache()
            .with_fresh(customer_id, |snapshot| read(snapshot))
    }

    /// Forgets the customer's cached entitlements, so the next check fetches them (after a
    /// plan change, say). Does nothing without a cache. In a [fleet](crate::fleet), every
    /// instance forgets them, and the snapshot shared in Redis is deleted.
    pub fn invalidate_entitlements(&self, customer_id: &str) {
        self.cache().invalidate(customer_id);
        self.inner.tier.invalidate(customer_id);
    }

    /// Forgets every cached snapshot. Does nothing without a cache. In a fleet, only this
    /// instance's.
    pub fn invalidate_all_entitlements(&self) {
        self.cache().invalidate_all();
    }

    /// How many customers the cache holds a snapshot for (0 without a cache). Counts are
    /// maintained lazily; [`Kelviq::sync_cache`] brings them up to date.
    pub fn cached_customers(&self) -> u64 {
        self.cache().len()
    }

    /// Runs the cache's pending housekeeping (evictions, counts).
    pub fn sync_cache(&self) {
        self.cache().run_pending_tasks();
    }

    /// The client's usage meter: records usage without waiting and delivers it in the
    /// background (see [`meter`](crate::meter)). Started on the current tokio runtime the
    /// first time it is asked for, with the client's [`MeterConfig`]
    /// ([`KelviqBuilder::usage_meter`]); every later call, from any clone of the client,
    /// returns the same meter. Usage it records applies to this client's cached
    /// snapshots at once.
    ///
    /// The meter's task lives on the runtime it was started on: start it (or build the
    /// first gate) on the runtime that lives longest — in an actix-web app, in `main`
    /// before `HttpServer::new`, not in a worker's factory, whose runtime stops before
    /// `main` can shut the meter down.
    ///
    /// After [`UsageMeter::shutdown`] the meter stays the client's, closed: records fail
    /// with [`Error::MeterClosed`](crate::Error::MeterClosed).
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when the meter must be started and this is not inside a tokio
    /// runtime.
    pub fn usage_meter(&self) -> Result<&UsageMeter> {
        if let Some(meter) = self.inner.meter.get() {
            return Ok(meter);
        }
        let _starting = lock(&self.inner.meter_start);
        if let Some(meter) = self.inner.meter.get() {
            return Ok(meter);
        }
        let meter = UsageMeter::start(
            Arc::clone(&self.inner.transport),
            Arc::clone(&self.inner.cache),
            Arc::clone(&self.inner.ledger),
            Arc::clone(&self.inner.tier),
            self.inner.meter_config.clone(),
        )?;
        Ok(self.inner.meter.get_or_init(|| meter))
    }

    /// The client's usage ledger.
    pub(crate) fn ledger(&self) -> &UsageLedger {
        &self.inner.ledger
    }

    /// A builder for a [`Gate`](crate::gate::Gate) deciding with this client: no
    /// requirement, no metering, success is `2xx`, fail closed, a reached limit answers
    /// `403`. Clone it to use it as a template of app-wide settings (see
    /// [`GateBuilder`]).
    pub fn gate(&self) -> GateBuilder {
        GateBuilder::new(self)
    }

    /// The client scoped to one customer.
    pub fn customer(&self, customer_id: impl Into<Arc<str>>) -> CustomerClient {
        CustomerClient::new(self.clone(), customer_id.into())
    }

    /// Customers: create, list, retrieve, update, archive.
    pub fn customers(&self) -> CustomersApi<'_> {
        CustomersApi::new(self)
    }

    /// Checkout sessions.
    pub fn checkout(&self) -> CheckoutApi<'_> {
        CheckoutApi::new(self)
    }

    /// Entitlement checks (on the edge host).
    pub fn entitlements(&self) -> EntitlementsApi<'_> {
        EntitlementsApi::new(self)
    }

    /// Usage and event reporting.
    pub fn reporting(&self) -> ReportingApi<'_> {
        ReportingApi::new(self)
    }

    /// Subscriptions: list, retrieve, create, update, preview an update, cancel.
    pub fn subscriptions(&self) -> SubscriptionsApi<'_> {
        SubscriptionsApi::new(self)
    }

    /// Customer portal sessions.
    pub fn portal(&self) -> PortalApi<'_> {
        PortalApi::new(self)
    }

    /// License keys: activate, deactivate, validate.
    pub fn license(&self) -> LicenseApi<'_> {
        LicenseApi::new(self)
    }

    /// One-time charges.
    pub fn charges(&self) -> ChargesApi<'_> {
        ChargesApi::new(self)
    }

    /// Refunds: list, create, retrieve.
    pub fn refunds(&self) -> RefundsApi<'_> {
        RefundsApi::new(self)
    }

    /// Transactions.
    pub fn transactions(&self) -> TransactionsApi<'_> {
        TransactionsApi::new(self)
    }

    /// Saved payment methods.
    pub fn payment_methods(&self) -> PaymentMethodsApi<'_> {
        PaymentMethodsApi::new(self)
    }
}
