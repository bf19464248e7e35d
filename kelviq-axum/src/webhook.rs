//! A route that receives Kelviq webhooks.

use std::future::Future;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http::{HeaderMap, StatusCode};

use crate::rejection::json_response;
use kelviq_client::Kelviq;
use kelviq_client::webhook::{Webhook, WebhookEvent};

/// A `POST` route that verifies each delivery (signature, timestamp tolerance), forgets
/// the cached entitlements of the customer the event names — so a plan change applies on
/// the next request, not after the cache TTL — and hands the event to `on_event`.
///
/// A delivery that fails verification is answered `400`
/// `{"error": "invalid_webhook", ...}` and never reaches `on_event`.
///
/// ```
/// use axum::Router;
/// use kelviq_client::webhook::Webhook;
///
/// # fn app(kelviq: kelviq_client::Kelviq) -> Result<Router, kelviq_client::webhook::WebhookError> {
/// let verifier = Webhook::new("whsec_from_the_dashboard")?;
/// let app = Router::new().route(
///     "/webhooks/kelviq",
///     kelviq_axum::webhook(kelviq, verifier, |event| async move {
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
                    tracing::debug!(customer_id, "kelviq webhook: cached entitlements forgotten");
                }
                on_event(event).await.into_response()
            }
            Err(error) => {
                tracing::debug!(%error, "kelviq webhook refused");
                invalid(&error.to_string())
            }
        }
    })
}

fn invalid(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        kelviq_client::gate::error_body("invalid_webhook", message),
    )
}
