//! [`KelviqBuilder`]: every option of the client, checked once in `build()`.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::cache::{CacheConfig, EntitlementCache};
use crate::client::{Inner, Kelviq};
use crate::config::{
    self, AccessToken, ApiVersion, ENV_API_KEY, ENV_BASE_URL, ENV_EDGE_URL, ENV_ENVIRONMENT,
    Environment,
};
use crate::error::{Error, Result};
use crate::http::{RetryPolicy, Transport};
use crate::instance;
use crate::meter::MeterConfig;
use crate::tier::Alone;
use crate::usage::UsageLedger;

/// The default timeout of one attempt, as the official SDK's (10 s). Unlike the official
/// SDK's per-phase timeout, it bounds the whole attempt: connect, send and read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default longest customer id the client sends, in bytes (UTF-8): see
/// [`KelviqBuilder::max_customer_id_len`]. Kelviq's customer ids are short (the ids of your
/// own users, UUIDs, e-mail addresses); 256 bytes is generous.
pub const DEFAULT_MAX_CUSTOMER_ID_LEN: usize = 256;

/// The largest [`KelviqBuilder::max_customer_id_len`] `build()` accepts: the id travels in a
/// request's URL, percent-encoded (up to three bytes per byte), and 2,048 bytes encoded stay
/// under the 8 KiB request line common HTTP servers and proxies allow.
pub const MAX_CUSTOMER_ID_LEN_LIMIT: usize = 2048;

/// How long establishing a connection may take (at most the timeout). A connection that
/// cannot be established is certainly not a request Kelviq processed, so it is retried,
/// and the usage meter keeps its units pending rather than counting them unknown.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Configures a [`Kelviq`] client. Setters never fail; `build()` reports the first problem.
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::{Environment, Kelviq, RetryPolicy};
///
/// let kelviq = Kelviq::builder()
///     .access_token("sk_test_123")
///     .environment(Environment::Sandbox)
///     .timeout(Duration::from_secs(5))
///     .retry_policy(RetryPolicy::default().max_retries(3))
///     .user_agent_suffix("billing-service/1.4")
///     .build()?;
/// # Ok::<(), kelviq_client::Error>(())
/// ```
#[must_use]
pub struct KelviqBuilder {
    access_token: Option<String>,
    environment: Environment,
    api_url: Option<String>,
    edge_url: Option<String>,
    api_version: ApiVersion,
    allow_insecure_http: bool,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    user_agent_suffix: Option<String>,
    http: Option<reqwest::Client>,
    cache: Option<CacheConfig>,
    meter: MeterConfig,
    max_customer_id_len: usize,
    instance_name: Option<String>,
    /// The fleet to join ([`KelviqBuilder::fleet`], in `fleet/`): the one place the shared
    /// tier is chosen.
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<crate::fleet::FleetConfig>,
    /// The first bad value of the environment, returned by `build`.
    error: Option<Error>,
}

impl Default for KelviqBuilder {
    fn default() -> Self {
        KelviqBuilder {
            access_token: None,
            environment: Environment::default(),
            api_url: None,
            edge_url: None,
            api_version: ApiVersion::default(),
            allow_insecure_http: false,
            timeout: None,
            retry: RetryPolicy::default(),
            user_agent_suffix: None,
            http: None,
            cache: Some(CacheConfig::default()),
            meter: MeterConfig::default(),
            max_customer_id_len: DEFAULT_MAX_CUSTOMER_ID_LEN,
            instance_name: None,
            #[cfg(feature = "redis")]
            fleet: None,
            error: None,
        }
    }
}

/// Shows every option but the token, which prints as `***`.
impl std::fmt::Debug for KelviqBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("KelviqBuilder");
        debug
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("environment", &self.environment)
            .field("api_url", &self.api_url)
            .field("edge_url", &self.edge_url)
            .field("api_version", &self.api_version)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("http", &self.http)
            .field("cache", &self.cache)
            .field("meter", &self.meter)
            .field("max_customer_id_len", &self.max_customer_id_len)
            .field("instance_name", &self.instance_name);
        #[cfg(feature = "redis")]
        debug.field("fleet", &self.fleet);
        debug.finish()
    }
}

impl KelviqBuilder {
    /// A builder configured from the environment, to which more options can be added:
    /// `KELVIQ_API_KEY` (required), `KELVIQ_ENV` (`production`, `staging` or `sandbox`;
    /// unset or empty means sandbox), `KELVIQ_BASE_URL` and `KELVIQ_EDGE_URL` (optional
    /// overrides). A missing or invalid variable is reported by
    /// [`build`](KelviqBuilder::build). The API version is not read from the environment
    /// (the official SDK names no variable for it): set it with
    /// [`api_version`](Self::api_version).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use kelviq_client::{CacheConfig, KelviqBuilder};
    ///
    /// let kelviq = KelviqBuilder::from_env()
    ///     .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(30)))
    ///     .build()?;
    /// # Ok::<(), kelviq_client::Error>(())
    /// ```
    pub fn from_env() -> Self {
        KelviqBuilder::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`KelviqBuilder::from_env`] reading variables through `lookup` (for tests and for
    /// configuration systems other than the process environment).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut builder = KelviqBuilder::default();
        match lookup(ENV_API_KEY).filter(|token| !token.is_empty()) {
            Some(token) => builder = builder.access_token(token),
            None => builder.fail(Error::Config(format!("{ENV_API_KEY} is not set"))),
        }
        match lookup(ENV_ENVIRONMENT) {
            Some(name) if !name.trim().is_empty() => match name.parse::<Environment>() {
                Ok(environment) => builder = builder.environment(environment),
                Err(error) => builder.fail(Error::Config(format!("{ENV_ENVIRONMENT}: {error}"))),
            },
            _ => {}
        }
        if let Some(url) = lookup(ENV_BASE_URL).filter(|url| !url.is_empty()) {
            builder = builder.api_url(url);
        }
        if let Some(url) = lookup(ENV_EDGE_URL).filter(|url| !url.is_empty()) {
            builder = builder.edge_url(url);
        }
        builder
    }

    /// Keeps `error` unless an earlier one is kept.
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// The access token (required), sent as `Authorization: Bearer <token>`.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// The environment whose hosts to use (default [`Environment::Sandbox`]).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Overrides the API base URL (default: the environment's), e.g. a `kelviq-mock`:
    /// `https`, or `http` on a loopback host (see
    /// [`allow_insecure_http`](Self::allow_insecure_http)).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Overrides the edge base URL used for entitlements (default: the environment's), with
    /// the same rules as [`api_url`](Self::api_url).
    pub fn edge_url(mut self, url: impl Into<String>) -> Self {
        self.edge_url = Some(url.into());
        self
    }

    /// The API version in every request path, on both hosts (default [`ApiVersion::V1`], as
    /// in the official SDK): `/api/v2/customers/{id}/` on the API host and
    /// `/api/v2/entitlements` on the edge host with [`ApiVersion::V2`]. No environment
    /// variable sets it (the official SDK reads none).
    ///
    /// ```
    /// use kelviq_client::{ApiVersion, Kelviq};
    ///
    /// let kelviq = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .api_version(ApiVersion::V2)
    ///     .build()?;
    /// assert_eq!(kelviq.api_version().to_string(), "v2");
    ///
    /// // A version read from configuration: parsing fails early on a bad one.
    /// let version: ApiVersion = "v2".parse()?;
    /// # let _ = version;
    /// # Ok::<(), kelviq_client::Error>(())
    /// ```
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Accepts `http://` base URLs on any host (default `false`: `http` only for a loopback
    /// host — `localhost`, `127.0.0.0/8`, `::1` — such as a local `kelviq-mock`, and
    /// `https` everywhere else).
    ///
    /// Over plain `http` the access token travels in clear text on every request: turn this
    /// on only for a network you trust end to end, e.g. a `kelviq-mock` in another
    /// container of the same test setup.
    ///
    /// ```
    /// use kelviq_client::{Error, Kelviq};
    ///
    /// let refused = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .api_url("http://kelviq-mock:4010")
    ///     .edge_url("http://kelviq-mock:4011")
    ///     .build();
    /// assert!(matches!(&refused, Err(Error::Config(message)) if message.contains("kelviq-mock")));
    ///
    /// let allowed = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .api_url("http://kelviq-mock:4010")
    ///     .edge_url("http://kelviq-mock:4011")
    ///     .allow_insecure_http(true)
    ///     .build()?;
    /// assert_eq!(allowed.api_url(), "http://kelviq-mock:4010");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The deadline of one attempt, connect to last byte (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// When to retry (default [`RetryPolicy::default`]; [`RetryPolicy::none`] disables).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Appended to the `User-Agent` (`kelviq-rs/<version> <suffix>`).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Sends requests through this `reqwest::Client` (proxies, TLS roots, connection pool
    /// settings are then the caller's). The client's own timeout still applies per attempt.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How the per-customer entitlement cache behaves, which serves `has_access`,
    /// `get_entitlement`, `get_all_entitlements` and gates. Default: on, with
    /// [`CacheConfig::default`] (fresh for 60 s, as in the official SDK). See
    /// [`cache`](crate::cache).
    pub fn entitlement_cache(mut self, config: CacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// Turns the entitlement cache off: every check is a call to Kelviq, as with the
    /// official SDK's `cache=False`. Gates refuse such a client (each gated request would
    /// wait for Kelviq).
    pub fn no_entitlement_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// How the client's usage meter ([`Kelviq::usage_meter`]) delivers usage. Default:
    /// [`MeterConfig::default`].
    pub fn usage_meter(mut self, config: MeterConfig) -> Self {
        self.meter = config;
        self
    }

    /// The longest customer id the client sends, in bytes of UTF-8 (default
    /// [`DEFAULT_MAX_CUSTOMER_ID_LEN`], 256; at most [`MAX_CUSTOMER_ID_LEN_LIMIT`]).
    ///
    /// A longer id is refused before any I/O: every call taking a customer id answers
    /// [`Error::Validation`] with `field: "customer_id"`, and a [gate](crate::gate) answers
    /// `400` `invalid_customer` ([`DenialReason::InvalidCustomer`](crate::gate::DenialReason::InvalidCustomer)),
    /// never `503`: an id no request can carry is the caller's mistake, not an outage.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// use kelviq_client::{Error, Kelviq};
    ///
    /// let kelviq = Kelviq::builder()
    ///     .access_token(mock.token())
    ///     .api_url(mock.url())
    ///     .edge_url(mock.edge_url())
    ///     .max_customer_id_len(64)
    ///     .build()?;
    /// let error = kelviq.entitlements().has_access(&"x".repeat(65), "reports").await.unwrap_err();
    /// assert!(matches!(error, Error::Validation { field: "customer_id", .. }));
    /// # assert_eq!(mock.journal().len(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_customer_id_len(mut self, bytes: usize) -> Self {
        self.max_customer_id_len = bytes;
        self
    }

    /// Names this running copy of the app (default: `<process id>@<host name>`, the host
    /// name from `/proc/sys/kernel/hostname` or `HOSTNAME`, else `kelviq`), sent as the
    /// [`INSTANCE_HEADER`](crate::INSTANCE_HEADER) (`x-kelviq-client-instance`) of every
    /// request to Kelviq, so that the requests of several instances can be told apart
    /// (`kelviq-mock`'s journal and console show it). 1 to
    /// [`MAX_INSTANCE_NAME_LEN`](crate::MAX_INSTANCE_NAME_LEN) bytes of visible ASCII: no
    /// space, no control character; anything else fails [`build`](Self::build).
    ///
    /// ```
    /// use kelviq_client::{Error, Kelviq};
    ///
    /// let kelviq = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .instance_name("billing-api/eu-west-1/pod-7")
    ///     .build()?;
    /// assert_eq!(kelviq.instance_name(), "billing-api/eu-west-1/pod-7");
    ///
    /// let refused = Kelviq::builder().access_token("sk_test_123").instance_name("pod 7").build();
    /// assert!(matches!(refused, Err(Error::Config(message)) if message.contains("instance_name")));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.instance_name = Some(name.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the token is missing or not header-safe, the API version is
    /// `v0`, a base URL is not an
    /// `http(s)` URL (or is `http` for a host that is not loopback, naming the host, unless
    /// [`allow_insecure_http`](Self::allow_insecure_http)) or only one of the two is overridden, the timeout is zero, the user agent suffix is not header-safe, or the
    /// HTTP client cannot be created, the entitlement cache has room for no customer, or the
    /// meter's flush interval or concurrency is zero, the
    /// [longest customer id](Self::max_customer_id_len) is 0 or above
    /// [`MAX_CUSTOMER_ID_LEN_LIMIT`], the [instance name](Self::instance_name) is empty,
    /// too long or not visible ASCII; a missing or invalid environment
    /// variable with [`KelviqBuilder::from_env`]. With a fleet (cargo feature `redis`): a
    /// bad [`FleetConfig`](crate::fleet::FleetConfig) setting or URL (never quoting its
    /// password), or no entitlement cache to share.
    pub fn build(self) -> Result<Kelviq> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.meter.validate()?;
        let Some(token) = self.access_token else {
            return Err(Error::Config(
                "an access token is required (KelviqBuilder::access_token)".to_owned(),
            ));
        };
        let token = AccessToken::new(token)?;
        if self.api_url.is_some() != self.edge_url.is_some() {
            return Err(Error::Config(
                "override both base URLs or neither: with only one, entitlement checks and \
                 API calls would go to different services (api_url and edge_url, or \
                 KELVIQ_BASE_URL and KELVIQ_EDGE_URL)"
                    .to_owned(),
            ));
        }
        let api_url = match &self.api_url {
            Some(url) => config::base_url("the API base URL", url, self.allow_insecure_http)?,
            None => self.environment.api_url().to_owned(),
        };
        let edge_url = match &self.edge_url {
            Some(url) => config::base_url("the edge base URL", url, self.allow_insecure_http)?,
            None => self.environment.edge_url().to_owned(),
        };
        let api_version = self.api_version.check()?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::Config(
                "the timeout must be greater than zero".to_owned(),
            ));
        }
        let mut user_agent = format!("kelviq-rs/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = &self.user_agent_suffix {
            user_agent.push(' ');
            user_agent.push_str(suffix);
        }
        let user_agent = HeaderValue::from_str(&user_agent).map_err(|_| {
            Error::Config("the user agent suffix is not a valid header value".to_owned())
        })?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(timeout.min(CONNECT_TIMEOUT))
                .build()
                .map_err(|error| {
                    Error::Config(format!("cannot create the HTTP client: {error}"))
                })?,
        };
        if self
            .cache
            .as_ref()
            .is_some_and(|cache| cache.max_customers == 0)
        {
            return Err(Error::Config(
                "the entitlement cache needs room for at least one customer".to_owned(),
            ));
        }
        if !(1..=MAX_CUSTOMER_ID_LEN_LIMIT).contains(&self.max_customer_id_len) {
            return Err(Error::Config(format!(
                "max_customer_id_len must be between 1 and {MAX_CUSTOMER_ID_LEN_LIMIT} bytes, \
                 not {}",
                self.max_customer_id_len
            )));
        }
        let instance_name = match self.instance_name {
            Some(name) => name,
            None => instance::default_name(),
        };
        let instance = instance::header_value(&instance_name)?;
        let transport = Arc::new(Transport {
            http,
            api_url,
            edge_url,
            api_version,
            token,
            timeout,
            retry: self.retry,
            user_agent,
            max_customer_id_len: self.max_customer_id_len,
            instance,
            failure_warn: crate::log_limit::RateLimitedWarn::every_period(),
        });
        // The shared tier: a fleet (cargo feature `redis`) or none, handed the cache's own
        // handle as the cache is built.
        #[cfg(feature = "redis")]
        let join = {
            let (fleet, cache) = (self.fleet, self.cache.clone());
            move |local| match fleet {
                Some(fleet) => crate::fleet::Fleet::join(fleet, cache.as_ref(), local),
                None => Ok(Alone::tier()),
            }
        };
        #[cfg(not(feature = "redis"))]
        let join = |_| Ok(Alone::tier());
        let ledger = Arc::new(UsageLedger::default());
        let cache = Arc::new(EntitlementCache::new(
            self.cache,
            Arc::clone(&transport),
            Arc::clone(&ledger),
            join,
        )?);
        Ok(Kelviq {
            inner: Arc::new(Inner {
                tier: Arc::clone(cache.tier()),
                cache,
                ledger,
                meter_config: self.meter,
                meter: std::sync::OnceLock::new(),
                meter_start: std::sync::Mutex::new(()),
                transport,
            }),
        })
    }
}
