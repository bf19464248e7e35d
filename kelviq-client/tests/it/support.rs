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

/// The `warn` events logged on this thread while [`Warnings::capture`]'s guard lives, as
/// their `Debug` text.
#[derive(Clone, Default)]
pub struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }
}

impl Warnings {
    /// Starts capturing; the capture ends with the guard. Callsite interest is recomputed
    /// with the subscriber present, in case another test registered a callsite while it was
    /// being set.
    pub fn capture() -> (Warnings, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        let warnings = Warnings::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
        tracing::callsite::rebuild_interest_cache();
        (warnings, guard)
    }

    /// The warnings so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// How many warnings so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }
}
