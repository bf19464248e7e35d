//! An app on the embedded fake in development: `start_dev`, `client`, `send_webhooks_to`,
//! over real loopback HTTP.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use kelviq_client::webhook::Webhook;
use kelviq_mock::{DeliveryOutcome, MockError, MockServer};

const SECRET: &str = "whsec_dev_test";
const WAIT: Duration = Duration::from_secs(10);

/// A log writer keeping everything written, for assertions on the logged text.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<u8>>>);

impl Write for Logged {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logged {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Everything this test binary logs, through one global subscriber. A scoped one
/// (`set_default`) lost the event now and then: tracing caches each callsite's interest
/// globally, and another test hitting the same callsite at once on a thread without a
/// subscriber could cache it as "never" while the scoped one was being registered.
fn logged() -> &'static Logged {
    static LOGGED: OnceLock<Logged> = OnceLock::new();
    LOGGED.get_or_init(|| {
        let logged = Logged::default();
        let writer = logged.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
        logged
    })
}

/// An app on `addr` whose webhook route verifies with [`SECRET`] and keeps what it
/// verified; the verified bodies.
async fn app_on(addr: &str) -> (SocketAddr, Arc<Mutex<Vec<serde_json::Value>>>) {
    let verified: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let webhook = Webhook::new(SECRET).unwrap();
    let kept = Arc::clone(&verified);
    let app = axum::Router::new().route(
        "/webhooks/kelviq",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (webhook, kept) = (webhook.clone(), Arc::clone(&kept));
            async move {
                match webhook.verify(&headers, &body) {
                    Ok(event) => {
                        kept.lock().unwrap().push(event.raw().clone());
                        StatusCode::OK
                    }
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (local, verified)
}

#[tokio::test]
async fn start_dev_serves_the_console_and_logs_its_url_and_the_control_token() {
    let logged = logged();
    let mock = MockServer::builder()
        .token("sk_dev_token")
        .start_dev()
        .await
        .unwrap();
    let console = mock.console_url().unwrap();
    let page = reqwest::get(&console).await.unwrap();
    assert_eq!(page.status(), 200);

    // Other tests' fakes log too: this fake's line is the one naming its console.
    let log = logged.text();
    let line = log
        .lines()
        .find(|line| line.contains(&format!("console={console}")))
        .unwrap_or_else(|| panic!("no line names {console}:\n{log}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("control_token=sk_dev_token"), "{line}");
    assert!(line.contains(&format!("api={}", mock.url())), "{line}");
    assert!(
        line.contains(&format!("edge={}", mock.edge_url())),
        "{line}"
    );

    // The control token drives the control endpoints.
    let changed = reqwest::Client::new()
        .post(format!("{}/_mock/customers/cust_free/plan", mock.url()))
        .bearer_auth("sk_dev_token")
        .json(&serde_json::json!({"plan": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn the_fake_sends_its_webhooks_to_an_app_bound_on_every_interface() {
    let mock = MockServer::builder().start_dev().await.unwrap();
    let (addr, verified) = app_on("0.0.0.0:0").await;
    assert!(addr.ip().is_unspecified());

    let url = mock
        .send_webhooks_to(addr, "/webhooks/kelviq", SECRET)
        .unwrap();
    assert_eq!(
        url,
        format!("http://127.0.0.1:{}/webhooks/kelviq", addr.port())
    );
    mock.set_plan("cust_free", "pro").unwrap();
    let deliveries = mock.wait_for_webhooks(1, WAIT).await;
    assert_eq!(deliveries[0].url, url);
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Delivered(200));
    let verified = verified.lock().unwrap().clone();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0]["type"], "subscription.updated");
    assert_eq!(verified[0]["data"]["customerId"], "cust_free");

    // A bad path or secret keeps the endpoint that works.
    for (path, secret) in [("webhooks/kelviq", SECRET), ("/webhooks/kelviq", "")] {
        assert!(matches!(
            mock.send_webhooks_to(addr, path, secret),
            Err(MockError::InvalidWebhook { .. })
        ));
    }
    mock.set_plan("cust_free", "free").unwrap();
    let deliveries = mock.wait_for_webhooks(2, WAIT).await;
    assert_eq!(deliveries[1].url, url);
    assert_eq!(deliveries[1].outcome, DeliveryOutcome::Delivered(200));
}

#[cfg(feature = "client")]
#[tokio::test]
async fn the_client_of_a_dev_mock_talks_to_it() {
    let mock = MockServer::builder().start_dev().await.unwrap();
    let kelviq = mock.client().instance_name("dev-app").build().unwrap();
    assert_eq!(kelviq.api_url(), mock.url());
    assert_eq!(kelviq.edge_url(), mock.edge_url());
    assert!(
        !kelviq
            .entitlements()
            .has_access("cust_free", "reports")
            .await
            .unwrap()
    );
    let customer = kelviq.customers().retrieve("cust_pro").await.unwrap();
    assert_eq!(customer.customer_id, "cust_pro");
    // Both listeners, with the mock's token, and the client's name in the journal.
    let journal = mock.journal();
    assert_eq!(journal.len(), 2);
    assert!(journal.iter().all(|request| request.status() == Some(200)));
    assert!(
        journal
            .iter()
            .all(|request| request.client_instance() == Some("dev-app"))
    );
}
