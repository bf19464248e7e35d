//! [`Kelviq`]: the client, cheap to clone, with one accessor per API resource.

use std::sync::Arc;

use crate::builder::KelviqBuilder;
use crate::cache::{CachedEntitlements, EntitlementCache};
use crate::config::{ENV_API_KEY, ENV_BASE_URL, ENV_EDGE_URL, ENV_ENVIRONMENT, Environment};
use crate::error::{Error, Result};
use crate::http::Transport;
use crate::resources::{
    Charges, Checkout, Customers, Entitlements, License, PaymentMethods, Portal, Refunds,
    Reporting, Subscriptions, Transactions,
};

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
    pub(crate) transport: Transport,
    pub(crate) cache: Option<EntitlementCache>,
    /// The usage meters started with this client, whose unsent usage a freshly fetched
    /// snapshot must still count.
    pub(crate) meters: std::sync::Mutex<Vec<std::sync::Weak<crate::meter::Shared>>>,
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
    /// [`Error::Config`] if the token is empty or not header-safe.
    pub fn new(access_token: impl Into<String>) -> Result<Self> {
        Kelviq::builder().access_token(access_token).build()
    }

    /// A client configured from the environment: `KELVIQ_API_KEY` (required), `KELVIQ_ENV`
    /// (`production`, `staging` or `sandbox`; unset or empty means sandbox),
    /// `KELVIQ_BASE_URL` and `KELVIQ_EDGE_URL` (optional overrides).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable that is missing or invalid (never its value
    /// for the token).
    pub fn from_env() -> Result<Self> {
        Kelviq::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`Kelviq::from_env`] reading variables through `lookup` (for tests and for
    /// configuration systems other than the process environment).
    ///
    /// # Errors
    ///
    /// As [`Kelviq::from_env`].
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let token = lookup(ENV_API_KEY)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Error::Config(format!("{ENV_API_KEY} is not set")))?;
        let environment = match lookup(ENV_ENVIRONMENT) {
            Some(name) if !name.trim().is_empty() => name
                .parse::<Environment>()
                .map_err(|error| Error::Config(format!("{ENV_ENVIRONMENT}: {error}")))?,
            _ => Environment::Sandbox,
        };
        let mut builder = Kelviq::builder()
            .access_token(token)
            .environment(environment);
        if let Some(url) = lookup(ENV_BASE_URL).filter(|url| !url.is_empty()) {
            builder = builder.api_url(url);
        }
        if let Some(url) = lookup(ENV_EDGE_URL).filter(|url| !url.is_empty()) {
            builder = builder.edge_url(url);
        }
        builder.build()
    }

    /// The API base URL in use.
    pub fn api_url(&self) -> &str {
        &self.inner.transport.api_url
    }

    /// The edge base URL in use.
    pub fn edge_url(&self) -> &str {
        &self.inner.transport.edge_url
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn cache(&self) -> Option<&EntitlementCache> {
        self.inner.cache.as_ref()
    }

    /// The customer's entitlements snapshot: from the cache when it is enabled (fresh, or
    /// stale while Kelviq is unreachable — the answer says which), else fetched now.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id; the error of the upstream call when there is
    /// no usable snapshot ([`Error::Shared`] when several callers waited on that call).
    pub async fn entitlements_snapshot(&self, customer_id: &str) -> Result<CachedEntitlements> {
        if let Some(snapshot) = self.cache().and_then(|cache| cache.get_fresh(customer_id)) {
            return Ok(CachedEntitlements::fresh(snapshot));
        }
        let client = self.clone();
        let customer = customer_id.to_owned();
        let load = async move {
            let entitlements = client.entitlements().fetch_all(&customer).await?;
            let snapshot = crate::cache::Snapshot::new(entitlements);
            // Usage recorded here but not yet sent is not in Kelviq's answer: count it.
            for (feature_id, units) in client.unsent_usage(&customer) {
                snapshot.apply_usage(&feature_id, units, false);
            }
            Ok(snapshot)
        };
        match self.cache() {
            Some(cache) => {
                crate::resources::require("customer_id", customer_id)?;
                cache.get(customer_id, load).await
            }
            None => Ok(CachedEntitlements::fresh(Arc::new(load.await?))),
        }
    }

    /// Registers a meter whose unsent usage fresh snapshots must count.
    pub(crate) fn register_meter(&self, meter: std::sync::Weak<crate::meter::Shared>) {
        let mut meters = self
            .inner
            .meters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        meters.retain(|meter| meter.strong_count() > 0);
        meters.push(meter);
    }

    /// The customer's usage recorded by this client's meters and not yet sent, per feature.
    fn unsent_usage(&self, customer_id: &str) -> Vec<(String, i64)> {
        let meters: Vec<_> = self
            .inner
            .meters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        meters
            .iter()
            .flat_map(|meter| meter.waiting_for(customer_id))
            .collect()
    }

    /// The customer's cached snapshot if it is fresh, without I/O and without allocating:
    /// the fast path of a gate. `None` without a cache, or when the snapshot is missing or
    /// stale (then use [`Kelviq::entitlements_snapshot`]).
    pub fn cached_entitlements(&self, customer_id: &str) -> Option<Arc<crate::cache::Snapshot>> {
        self.cache().and_then(|cache| cache.get_fresh(customer_id))
    }

    /// Forgets the customer's cached entitlements, so the next check fetches them (after a
    /// plan change, say). Does nothing without a cache.
    pub fn invalidate_entitlements(&self, customer_id: &str) {
        if let Some(cache) = self.cache() {
            cache.invalidate(customer_id);
        }
    }

    /// Forgets every cached snapshot. Does nothing without a cache.
    pub fn invalidate_all_entitlements(&self) {
        if let Some(cache) = self.cache() {
            cache.invalidate_all();
        }
    }

    /// How many customers the cache holds a snapshot for (0 without a cache). Counts are
    /// maintained lazily; [`Kelviq::sync_cache`] brings them up to date.
    pub fn cached_customers(&self) -> u64 {
        self.cache().map_or(0, EntitlementCache::len)
    }

    /// Runs the cache's pending housekeeping (evictions, counts).
    pub fn sync_cache(&self) {
        if let Some(cache) = self.cache() {
            cache.run_pending_tasks();
        }
    }

    /// Applies usage reported by this process to the cached snapshot (`set`: replace,
    /// else add); the usage meter and `report_usage` call it.
    pub(crate) fn apply_usage_to_cache(
        &self,
        customer_id: &str,
        feature_id: &str,
        value: i64,
        set: bool,
    ) {
        if let Some(cache) = self.cache() {
            cache.apply_usage(customer_id, feature_id, value, set);
        }
    }

    /// Customers: create, list, retrieve, update, archive.
    pub fn customers(&self) -> Customers<'_> {
        Customers::new(self)
    }

    /// Checkout sessions.
    pub fn checkout(&self) -> Checkout<'_> {
        Checkout::new(self)
    }

    /// Entitlement checks (on the edge host).
    pub fn entitlements(&self) -> Entitlements<'_> {
        Entitlements::new(self)
    }

    /// Usage and event reporting.
    pub fn reporting(&self) -> Reporting<'_> {
        Reporting::new(self)
    }

    /// Subscriptions: list, retrieve, create, update, preview an update, cancel.
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        Subscriptions::new(self)
    }

    /// Customer portal sessions.
    pub fn portal(&self) -> Portal<'_> {
        Portal::new(self)
    }

    /// License keys: activate, deactivate, validate.
    pub fn license(&self) -> License<'_> {
        License::new(self)
    }

    /// One-time charges.
    pub fn charges(&self) -> Charges<'_> {
        Charges::new(self)
    }

    /// Refunds: list, create, retrieve.
    pub fn refunds(&self) -> Refunds<'_> {
        Refunds::new(self)
    }

    /// Transactions.
    pub fn transactions(&self) -> Transactions<'_> {
        Transactions::new(self)
    }

    /// Saved payment methods.
    pub fn payment_methods(&self) -> PaymentMethods<'_> {
        PaymentMethods::new(self)
    }
}
