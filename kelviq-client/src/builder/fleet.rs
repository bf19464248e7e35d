//! [`KelviqBuilder::fleet`] (cargo feature `redis`).

use super::KelviqBuilder;
use crate::fleet::FleetConfig;

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
