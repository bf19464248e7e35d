//! Running an app on the embedded fake in development: [`MockServerBuilder::start_dev`]
//! (the console on, its URL and the control token logged), `MockServer::client` (a
//! client pointed at the fake; cargo feature `client`) and [`MockServer::send_webhooks_to`]
//! (the app's webhook route, once its listener is bound).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::server::{MockError, MockServer, MockServerBuilder};

impl MockServerBuilder {
    /// Starts the mock for an app to run on in development: what [`start`](Self::start)
    /// does, with the [console](crate::console) on, and one `info` event (target
    /// `kelviq_mock::dev`) naming the console's URL, the **control token** (the bearer token the
    /// fake accepts, for its API and for the `/_mock/` control endpoints alike), and both
    /// base URLs. [`MockServer::console_url`] and [`MockServer::token`] return the same.
    ///
    /// Keep the returned [`MockServer`] for as long as the app runs: dropping it closes
    /// the fake's listeners. Then point the client at it (`MockServer::client`, cargo
    /// feature `client`) and, once the app listens, send it the fake's webhooks
    /// ([`MockServer::send_webhooks_to`]):
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use kelviq_mock::{MockServer, Seed};
    ///
    /// let mock = MockServer::builder().seed(Seed::default()).start_dev().await?;
    /// # #[cfg(feature = "client")]
    /// let kelviq = mock.client().build()?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// mock.send_webhooks_to(listener.local_addr()?, "/webhooks/kelviq", "whsec_dev")?;
    /// // ... serve the app on `listener`, its webhook route verifying with "whsec_dev" ...
    /// assert!(mock.console_url().is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_dev(self) -> Result<MockServer, MockError> {
        let mock = self.console(true).start().await?;
        tracing::info!(
            console = %mock.console_url().unwrap_or_default(),
            control_token = %mock.token(),
            api = %mock.url(),
            edge = %mock.edge_url(),
            "a fake Kelviq (kelviq-mock) is serving on loopback: watch and steer it in its \
             console; its /_mock/ control endpoints take the control token as a bearer token"
        );
        Ok(mock)
    }
}

impl MockServer {
    /// A [`KelviqBuilder`](kelviq_client::KelviqBuilder) pointed at this mock: its token
    /// and both base URLs set; add the app's own options (entitlement cache, fleet, ...)
    /// and `build()`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// use kelviq_client::CacheConfig;
    ///
    /// let mock = kelviq_mock::MockServer::start().await;
    /// let kelviq = mock
    ///     .client()
    ///     .entitlement_cache(CacheConfig::default().ttl(Duration::from_secs(30)))
    ///     .build()?;
    /// assert!(kelviq.entitlements().has_access("cust_pro", "reports").await?);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "client")))]
    pub fn client(&self) -> kelviq_client::KelviqBuilder {
        kelviq_client::Kelviq::builder()
            .access_token(self.token())
            .api_url(self.url())
            .edge_url(self.edge_url())
    }

    /// Sends every later change as a signed webhook to the app listening on `app` (what
    /// its listener's `local_addr()` says; an unspecified address such as `0.0.0.0` is
    /// reached on loopback) at `path`, signed with `secret`: [`set_webhook`](Self::set_webhook)
    /// with the URL built for you, and logged at `info`. Returns that URL.
    ///
    /// The app's webhook route, verifying with the same secret, then drops the changed
    /// customer's cached entitlements: a plan changed in the console reaches the app at
    /// once, whatever its cache's TTL.
    ///
    /// # Errors
    ///
    /// [`MockError::InvalidWebhook`] when `path` does not start with `/` or `secret` is
    /// empty; the previous endpoint is kept.
    pub fn send_webhooks_to(
        &self,
        app: SocketAddr,
        path: &str,
        secret: impl AsRef<[u8]>,
    ) -> Result<String, MockError> {
        let app = SocketAddr::new(reachable(app.ip()), app.port());
        let url = format!("http://{app}{path}");
        if !path.starts_with('/') {
            return Err(MockError::InvalidWebhook {
                url,
                reason: "the path must start with /",
            });
        }
        self.set_webhook(&url, secret)?;
        tracing::info!(%url, "the fake Kelviq sends its webhooks to the app");
        Ok(url)
    }
}

/// The address to connect to for a listener bound to `ip`: loopback for an unspecified
/// address (`0.0.0.0`, `::`), which no connection can target everywhere.
fn reachable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listener_is_reached_on_loopback() {
        assert_eq!(
            reachable(Ipv4Addr::UNSPECIFIED.into()),
            IpAddr::from(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            reachable(Ipv6Addr::UNSPECIFIED.into()),
            IpAddr::from(Ipv6Addr::LOCALHOST)
        );
        let lan = IpAddr::from([192, 168, 1, 7]);
        assert_eq!(reachable(lan), lan);
    }
}
