//! [`webhook`]: a route that verifies Kelviq webhook deliveries and discards the cached
//! entitlements of the customer each one names.

use std::future::Future;

use actix_web::{Either, HttpRequest, HttpResponse, Responder, Route, web};
use kelviq_client::Kelviq;
use kelviq_client::gate::error_response;
use kelviq_client::webhook::{
    ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, WebhookError, WebhookEvent,
};

use crate::response::to_actix;

/// A `POST` route that verifies each delivery (signature, timestamp tolerance), discards
/// the cached entitlement snapshot of the customer the event names, and hands the event to
/// `on_event`, whose answer is the response.
///
/// The snapshot is discarded, not refreshed: the customer's next gated request fetches it
/// again from Kelviq (one call, shared by the concurrent requests of that customer), so a
/// plan change applies from that request on, not after the cache TTL.
///
/// A delivery that fails verification is answered `400`
/// `{"error": "invalid_webhook", "message": ..., "feature": null}` and never reaches
/// `on_event` (as with kelviq-axum). Do not put the route behind the
/// [`KelviqMiddleware`](crate::KelviqMiddleware): deliveries name no customer.
///
/// ```
/// use actix_web::{App, HttpResponse};
/// use kelviq_actix::prelude::*;
///
/// # fn app(kelviq: Kelviq) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Webhook::new("whsec_from_the_dashboard")?;
/// let app = App::new().route(
///     "/webhooks/kelviq",
///     webhook(kelviq, verifier, |event: WebhookEvent| async move {
///         // The customer's cached entitlements are already discarded.
///         if event.event_type() == Some("subscription.updated") { /* notify the team */ }
///         HttpResponse::NoContent().finish()
///     }),
/// );
/// # Ok(())
/// # }
/// ```
pub fn webhook<F, Fut, R>(kelviq: Kelviq, verifier: Webhook, on_event: F) -> Route
where
    F: Fn(WebhookEvent) -> Fut + Clone + 'static,
    Fut: Future<Output = R> + 'static,
    R: Responder + 'static,
{
    web::post().to(move |request: HttpRequest, body: web::Bytes| {
        let kelviq = kelviq.clone();
        let verifier = verifier.clone();
        let on_event = on_event.clone();
        async move {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
            };
            let verified = verifier.verify_parts(
                header(ID_HEADER),
                header(TIMESTAMP_HEADER),
                header(SIGNATURE_HEADER),
                &body,
            );
            match verified {
                Ok(event) => {
                    if let Some(customer_id) = event.customer_id() {
                        kelviq.invalidate_entitlements(customer_id);
                        tracing::debug!(
                            customer_id,
                            "kelviq webhook: cached entitlements discarded"
                        );
                    }
                    Either::Left(on_event(event).await)
                }
                Err(error) => {
                    tracing::debug!(%error, "kelviq webhook refused");
                    Either::Right(invalid(&error))
                }
            }
        }
    })
}

/// `400` `invalid_webhook`, with the verifier's reason as the message.
fn invalid(error: &WebhookError) -> HttpResponse {
    to_actix(error_response(
        http::StatusCode::BAD_REQUEST,
        "invalid_webhook",
        &error.to_string(),
    ))
}
