//! [`FleetConfig`]: where the fleet's Redis is, and how long each use of it may take;
//! and [`KelviqBuilder::fleet`], which joins a client to it.

use std::time::Duration;

use crate::builder::KelviqBuilder;
use crate::error::{Error, Result};

/// How a client joins a fleet on Redis: the server, the key prefix the fleet shares, and
/// the bounds on every use of Redis. Give it to
/// [`KelviqBuilder::fleet`](crate::KelviqBuilder::fleet); it is checked by
/// [`build`](crate::KelviqBuilder::build).
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::fleet::FleetConfig;
///
/// let fleet = FleetConfig::redis("redis://:s3cret@10.0.0.5:6379/0")
///     .prefix("billing")
///     .command_timeout(Duration::from_millis(30));
/// // The password never shows.
/// assert!(!format!("{fleet:?}").contains("s3cret"));
/// ```
///
/// Every instance of one service must use the same server (or cluster) and the same
/// prefix; two services that share a Redis but not their Kelviq account must use two
/// prefixes.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct FleetConfig {
    /// The server, or (with `cluster`) the cluster's seed nodes.
    pub(crate) urls: Vec<String>,
    pub(crate) cluster: bool,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) lease_timeout: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) counter_ttl: Duration,
    pub(crate) delivery_lease: Duration,
    pub(crate) sync_interval: Duration,
    pub(crate) hold_time: Duration,
}

/// The longest any fleet duration may be: longer ones are cut to it.
const MAX_FLEET_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest prefix accepted: keys stay short.
const MAX_PREFIX_LEN: usize = 64;

impl FleetConfig {
    /// A fleet on the Redis (or Valkey) server at `url`: `redis://[[user]:password@]host[:port][/db]`
    /// or `unix:///path/to/redis.sock`. TLS (`rediss://`) is not built in. The password
    /// never appears in `Debug`, logs or errors.
    ///
    /// Defaults: prefix `kelviq`, 50 ms per command, 1 s to connect, loader leases of
    /// 300 ms (renewed while the load runs), waiters poll every 20 ms when no notification
    /// came, shared usage counters kept 1 hour after their last use, a delivery lease of
    /// 3 s, fast limits synced every 100 ms, strict reservations held 30 s without renewal.
    pub fn redis(url: impl Into<String>) -> Self {
        FleetConfig {
            urls: vec![url.into()],
            cluster: false,
            prefix: "kelviq".to_owned(),
            command_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            lease_timeout: Duration::from_millis(300),
            poll_interval: Duration::from_millis(20),
            counter_ttl: Duration::from_secs(60 * 60),
            delivery_lease: Duration::from_secs(3),
            sync_interval: Duration::from_millis(100),
            hold_time: Duration::from_secs(30),
        }
    }

    /// A fleet on a Redis (or Valkey) Cluster: `nodes` are some of its primaries, as
    /// `redis://[[user]:password@]host[:port]` URLs with the same user and password (one
    /// is enough; more let the fleet start, and its subscriber move on, while one is
    /// down). The client learns the whole cluster from them and follows
    /// its slots as they move (`MOVED`, `ASK`, failovers).
    ///
    /// ```
    /// use kelviq_client::fleet::FleetConfig;
    ///
    /// let fleet = FleetConfig::redis_cluster([
    ///     "redis://:s3cret@10.0.0.5:7000",
    ///     "redis://:s3cret@10.0.0.6:7000",
    /// ])
    /// .prefix("billing");
    /// assert!(!format!("{fleet:?}").contains("s3cret"));
    /// ```
    ///
    /// Every key of one customer carries the customer as its hash tag, so each customer's
    /// scripts run on one slot, and customers spread over the cluster; the fleet-wide keys
    /// (the index of pending usage, the delivery lease) are single keys touched by
    /// one-key commands only. Pipelines are split per slot and sent to each slot's node
    /// concurrently. Invalidations use plain `PUBLISH`, which a cluster forwards to every
    /// node: the subscriber listens on one node (the seeds in turn, moving on when one
    /// fails). The same defaults as [`redis`](Self::redis); a database number other than 0
    /// and `unix://` sockets are refused by [`build`](crate::KelviqBuilder::build) (a
    /// cluster has neither).
    pub fn redis_cluster<I>(nodes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut config = FleetConfig::redis(String::new());
        config.urls = nodes.into_iter().map(Into::into).collect();
        config.cluster = true;
        config
    }

    /// The prefix of every key and channel of the fleet (default `kelviq`): 1 to 64
    /// characters, without `{`, `}`, whitespace or control characters (braces would break
    /// the per-customer hash tags that keep Redis Cluster working).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one Redis command may take before the fleet gives up on it and the
    /// client falls back to single-instance behaviour for that step (default 50 ms; at most
    /// a week).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.min(MAX_FLEET_DURATION);
        self
    }

    /// The longest one connection attempt may take, for commands and for the
    /// subscriber (default 1 s; at most a week).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.min(MAX_FLEET_DURATION);
        self
    }

    /// How long the instance that loads a customer holds the fleet's lease on that load
    /// without renewing it (default 300 ms; renewed every third of it while the load
    /// runs). A loader that dies blocks the others at most this long: then one of them
    /// takes the lease over. At most a week.
    pub fn lease_timeout(mut self, timeout: Duration) -> Self {
        self.lease_timeout = timeout.min(MAX_FLEET_DURATION);
        self
    }

    /// How often an instance waiting for another's load looks at Redis again when no
    /// notification arrived (default 20 ms; at most a week). Notifications normally wake
    /// it first; this bounds the wait when one is lost.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.min(MAX_FLEET_DURATION);
        self
    }

    /// How long a shared usage counter (strict limits) lives after its last use (default
    /// 1 hour; at most a week): past it, it is seeded again from Kelviq's usage in the
    /// next snapshot.
    pub fn counter_ttl(mut self, ttl: Duration) -> Self {
        self.counter_ttl = ttl.min(MAX_FLEET_DURATION);
        self
    }

    /// How long the instance that delivers the fleet's durable usage to Kelviq holds the
    /// delivery lease without renewing it (default 3 s, and never less than three of the
    /// meter's flush intervals; at most a week). The holder renews it at each flush; one
    /// that dies is replaced by another instance at most this long after its last renewal.
    pub fn delivery_lease(mut self, lease: Duration) -> Self {
        self.delivery_lease = lease.min(MAX_FLEET_DURATION);
        self
    }

    /// How often an instance syncs [fast limits](super::FleetLimits::Fast): adds the units
    /// it admitted to the shared counters and takes in what the rest of the fleet used
    /// (default 100 ms; at most a week). Shorter: less overshoot, more Redis traffic (one
    /// pipelined round per interval, one script per customer and feature in use).
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval.min(MAX_FLEET_DURATION);
        self
    }

    /// How long a [strict](super::FleetLimits::Strict) reservation holds its units in
    /// Redis without being renewed (default 30 s; at most a week). While its request runs,
    /// the instance renews every hold it has each third of this (one pipelined round for
    /// all of them), so a request may run as long as it likes; a hold whose instance
    /// vanished (crashed, killed, cut off from Redis) lapses, and its units return to the
    /// limit, at most this long after its last renewal. Shorter: a dead instance blocks its
    /// units for less time, at the cost of more renewals (one script per hold in flight per
    /// third of it), and a hold lapses after a shorter outage of Redis (its request then
    /// runs on, and a success's units are not counted in Redis; see [`fleet`](super)).
    pub fn hold_time(mut self, hold: Duration) -> Self {
        self.hold_time = hold.min(MAX_FLEET_DURATION);
        self
    }

    /// The server (a cluster's seed nodes, separated by `, `), with the password replaced
    /// by `***`.
    pub fn redacted_url(&self) -> String {
        self.urls
            .iter()
            .map(|url| redact(url))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks every setting, and parses the URLs.
    pub(crate) fn validate(&self) -> Result<Server> {
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.chars().count() <= MAX_PREFIX_LEN
            && !self
                .prefix
                .chars()
                .any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control());
        if !prefix_ok {
            return Err(Error::Config(format!(
                "the fleet's key prefix must be 1 to {MAX_PREFIX_LEN} characters without \
                 braces, whitespace or control characters, got {:?}",
                self.prefix
            )));
        }
        for (name, value) in [
            ("command_timeout", self.command_timeout),
            ("connect_timeout", self.connect_timeout),
            ("lease_timeout", self.lease_timeout),
            ("poll_interval", self.poll_interval),
            ("counter_ttl", self.counter_ttl),
            ("delivery_lease", self.delivery_lease),
            ("sync_interval", self.sync_interval),
            ("hold_time", self.hold_time),
        ] {
            if value < Duration::from_millis(1) {
                return Err(Error::Config(format!(
                    "the fleet's {name} must be at least 1 ms"
                )));
            }
        }
        if self.urls.is_empty() {
            return Err(Error::Config(
                "the fleet's Redis Cluster needs at least one node URL".to_owned(),
            ));
        }
        let mut nodes = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            if url.starts_with("rediss://") || url.starts_with("valkeys://") {
                return Err(Error::Config(format!(
                    "the fleet's Redis URL {} asks for TLS, which this build of kelviq-client \
                     does not include",
                    redact(url)
                )));
            }
            // The parser's message may quote the URL: only its kind is kept.
            let client = redis::Client::open(url.as_str()).map_err(|error| {
                Error::Config(format!(
                    "the fleet's Redis URL {} is not a valid redis:// or unix:// URL ({:?})",
                    redact(url),
                    error.kind()
                ))
            })?;
            nodes.push(client);
        }
        if !self.cluster {
            return nodes
                .pop()
                .map(Server::Single)
                .ok_or_else(|| Error::Config("the fleet needs a Redis URL".to_owned()));
        }
        for (url, node) in self.urls.iter().zip(&nodes) {
            let info = node.get_connection_info();
            let tcp = matches!(info.addr(), redis::ConnectionAddr::Tcp(..));
            if !tcp || info.redis_settings().db() != 0 {
                return Err(Error::Config(format!(
                    "the fleet's Redis Cluster node {} must be a redis://host:port URL \
                     without a database number",
                    redact(url)
                )));
            }
        }
        let infos: Vec<redis::ConnectionInfo> = nodes
            .iter()
            .map(|node| node.get_connection_info().clone())
            .collect();
        let client = redis::cluster::ClusterClient::builder(infos)
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.command_timeout)
            .build()
            .map_err(|error| {
                Error::Config(format!(
                    "the fleet's Redis Cluster {} cannot be used: its nodes must share one \
                     user name and password ({:?})",
                    self.redacted_url(),
                    error.kind()
                ))
            })?;
        Ok(Server::Cluster {
            client: Box::new(client),
            nodes,
        })
    }
}

/// Shows every setting; the URL without its password.
impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConfig")
            .field("url", &self.redacted_url())
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("lease_timeout", &self.lease_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("counter_ttl", &self.counter_ttl)
            .field("delivery_lease", &self.delivery_lease)
            .field("sync_interval", &self.sync_interval)
            .field("hold_time", &self.hold_time)
            .finish()
    }
}

/// Where the fleet's Redis is, parsed.
#[derive(Clone)]
pub(crate) enum Server {
    Single(redis::Client),
    Cluster {
        /// Commands: follows the cluster's slots (boxed: it is large, and made once).
        client: Box<redis::cluster::ClusterClient>,
        /// Each seed node, for the subscriber (a cluster forwards `PUBLISH` to every node).
        nodes: Vec<redis::Client>,
    },
}

/// Which mode only: the clients' own `Debug` would show the password.
impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Server::Single(_) => f.write_str("Single"),
            Server::Cluster { nodes, .. } => write!(f, "Cluster({} seed nodes)", nodes.len()),
        }
    }
}

/// `url` with the password of its user information (`user:password@` or `:password@`)
/// replaced by `***`; a lone user name (`secret@`) is replaced too, since Redis before
/// ACLs took the password there.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return "***".to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user = match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    format!("{}{user}{}", &url[..scheme_end], &rest[at..])
}

impl KelviqBuilder {
    /// Joins a fleet on Redis: snapshots shared with one loader per customer across the
    /// fleet, invalidations fanned out to every instance, and strict shared limits for the
    /// gates that ask for them ([`GateBuilder::fleet_limits`](crate::gate::GateBuilder::fleet_limits)).
    /// See [`fleet`](crate::fleet). Default: no fleet. Checked by
    /// [`build`](Self::build), which connects to nothing: the client connects on first use
    /// and, while Redis cannot be reached, behaves as a single instance.
    ///
    /// ```
    /// use kelviq_client::Kelviq;
    /// use kelviq_client::fleet::FleetConfig;
    ///
    /// let kelviq = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .fleet(FleetConfig::redis("redis://127.0.0.1:6379").prefix("billing"))
    ///     .build()?;
    /// assert!(kelviq.fleet_stats().is_some());
    ///
    /// let refused = Kelviq::builder()
    ///     .access_token("sk_test_123")
    ///     .fleet(FleetConfig::redis("redis://127.0.0.1:6379").prefix("{billing}"))
    ///     .build();
    /// assert!(refused.unwrap_err().to_string().contains("prefix"));
    /// # Ok::<(), kelviq_client::Error>(())
    /// ```
    pub fn fleet(mut self, config: FleetConfig) -> Self {
        self.fleet = Some(config);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("redis://:pw@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redact("redis://user:p@ss:w@rd@host"),
            "redis://user:***@host"
        );
        assert_eq!(redact("redis://token@host"), "redis://***@host");
        assert_eq!(redact("redis://host:6379"), "redis://host:6379");
        assert_eq!(redact("garbage-with-secret"), "***");
        let config = FleetConfig::redis("redis://:topsecret@127.0.0.1:1");
        assert!(!format!("{config:?}").contains("topsecret"));
        let error = FleetConfig::redis("redis://:topsecret@[::1")
            .validate()
            .unwrap_err();
        assert!(!error.to_string().contains("topsecret"), "{error}");
        let error = FleetConfig::redis("rediss://:topsecret@host")
            .validate()
            .unwrap_err();
        assert!(!error.to_string().contains("topsecret"), "{error}");
        assert!(error.to_string().contains("TLS"), "{error}");
    }

    #[test]
    fn a_cluster_needs_tcp_nodes_without_a_database() {
        let config =
            FleetConfig::redis_cluster(["redis://:pw@10.0.0.5:7000", "redis://:pw@10.0.0.6:7000"]);
        assert_eq!(
            config.redacted_url(),
            "redis://:***@10.0.0.5:7000, redis://:***@10.0.0.6:7000"
        );
        let server = config.validate();
        assert!(
            matches!(&server, Ok(Server::Cluster { nodes, .. }) if nodes.len() == 2),
            "{server:?}"
        );
        assert!(matches!(
            FleetConfig::redis("redis://127.0.0.1:6379").validate(),
            Ok(Server::Single(_))
        ));
        for (nodes, named) in [
            (vec![], "at least one node"),
            (vec!["redis://10.0.0.5:7000/2"], "database"),
            (vec!["unix:///tmp/redis.sock"], "database"),
            (vec!["rediss://:pw@10.0.0.5:7000"], "TLS"),
            (
                vec!["redis://:pw@10.0.0.5:7000", "redis://:other@10.0.0.6:7000"],
                "password",
            ),
        ] {
            let error = FleetConfig::redis_cluster(nodes).validate().unwrap_err();
            assert!(error.to_string().contains(named), "{error}");
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        for prefix in ["", "a{b", "a}b", "a b", &"x".repeat(65)] {
            let error = FleetConfig::redis("redis://127.0.0.1")
                .prefix(prefix)
                .validate()
                .unwrap_err();
            assert!(error.to_string().contains("prefix"), "{error}");
        }
        let error = FleetConfig::redis("redis://127.0.0.1")
            .command_timeout(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("command_timeout"), "{error}");
        let error = FleetConfig::redis("redis://127.0.0.1")
            .hold_time(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("hold_time"), "{error}");
        assert!(
            FleetConfig::redis("redis://127.0.0.1:6379/2")
                .prefix("svc:billing")
                .validate()
                .is_ok()
        );
    }
}
