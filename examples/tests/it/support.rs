//! The axum example app served over real HTTP, on an embedded fake Kelviq.

use kelviq_client::CacheConfig;
use kelviq_examples::{Backend, axum_app, embedded_backend};

/// The axum example app on an ephemeral loopback port, over an embedded mock (console on)
/// that sends it webhooks, its entitlement cache configured by `cache`; the backend and the
/// app's base URL. The app stops with the test's runtime.
pub(crate) async fn serve_app(cache: CacheConfig) -> (Backend, String) {
    let backend = embedded_backend(cache).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    backend.send_webhooks_to(addr).unwrap();
    let app = axum_app::router(&backend).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (backend, format!("http://{addr}"))
}
