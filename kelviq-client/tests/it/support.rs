//! A mock and a client pointed at it.

use std::time::Duration;

use kelviq_client::{Kelviq, KelviqBuilder, RetryPolicy};
use kelviq_mock::{MockServer, MockServerBuilder};

/// A mock on loopback and a client configured for it.
pub struct Setup {
    pub mock: MockServer,
    pub kelviq: Kelviq,
}

/// A builder pointed at `mock`, with fast retries so failure tests stay quick. The
/// entitlement cache is on, as by default.
pub fn client_for(mock: &MockServer) -> KelviqBuilder {
    Kelviq::builder()
        .access_token(mock.token())
        .api_url(mock.url())
        .edge_url(mock.edge_url())
        .retry_policy(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
}

/// A client for `mock` without the entitlement cache (on by default): every check is a
/// call to Kelviq, for tests of the API calls themselves.
pub fn uncached(mock: &MockServer) -> Kelviq {
    client_for(mock)
        .no_entitlement_cache()
        .build()
        .expect("client builds")
}

impl Setup {
    /// The default seed and a default client (with the entitlement cache).
    pub async fn start() -> Setup {
        Setup::with(MockServer::builder()).await
    }

    /// A configured mock and a default client.
    pub async fn with(builder: MockServerBuilder) -> Setup {
        let mock = builder.start().await.expect("mock starts");
        let kelviq = client_for(&mock).build().expect("client builds");
        Setup { mock, kelviq }
    }
}
