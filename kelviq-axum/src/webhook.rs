//! [`webhook`]: a route that receives Kelviq webhooks.

use std::future::Future;

use axum::body::Bytes;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, post};
use http::{HeaderMap, StatusCode};
use kelviq_client::Kelviq;
use kelviq_client::gate::error_response;
use kelviq_client::webhook::{Webhook, WebhookEvent};

use crate::response::into_axum;

/// A `POST` route that verifies each delivery (signature, timestamp tolerance) and hands
/// the event to `on_event`.
///
/// When the event names a customer, the client's cached entitlement snapshot of that
/// customer is **discarded** before `on_event` runs: the customer's next gated request
/// fetches it again from Kelviq (one call, shared by concurrent requests), so a plan
/// change applies on that request instead of after the cache TTL. Nothing is fetched
/// ahead of time, and other customers' snapshots are kept.
///
/// A delivery that fails verification is answered `400`
/// `{"error": "invalid_webhook", "message": ..., "feature": null}` and never reaches
/// `on_event`; the cache is left alone.
///
/// ```
/// use axum::Router;
/// use kelviq_axum::prelude::*;
///
/// # fn app(kelviq: Kelviq) -> Result<Router, kelviq_axum::kelviq_client::webhook::WebhookError> {
/// let verifier = Webhook::new("whsec_from_the_dashboard")?;
/// let app = Router::new().route(
///     "/webhooks/kelviq",
///     webhook(kelviq, verifier, |event: WebhookEvent| async move {
///         tracing::info!(event_type = event.event_type(), "kelviq event");
///     }),
/// );
/// # Ok(app)
/// # }
/// ```
pub fn webhook<S, F, Fut, R>(kelviq: Kelviq, verifier: Webhook, on_event: F) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(WebhookEvent) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + 'static,
{
    post(move |headers: HeaderMap, body: Bytes| async move {
        match verifier.verify(&headers, &body) {
            Ok(event) => {
                if let Some(customer_id) = event.customer_id() {
                    kelviq.invalidate_entitlements(customer_id);
                    tracing::debug!(customer_id, "kelviq webhook: cached entitlements discarded");
                }
                on_event(event).await.into_response()
            }
            Err(error) => {
                tracing::debug!(%error, "kelviq webhook refused");
                into_axum(error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_webhook",
                    &error.to_string(),
                ))
            }
        }
    })
}
