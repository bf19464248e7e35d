//! [`webhook`]: a route that verifies Kelviq webhook deliveries and refreshes the
//! customer's entitlements.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{Either, HttpRequest, HttpResponse, Responder, Route, web};
use kelviq_client::Kelviq;
use kelviq_client::webhook::{
    ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, WebhookError, WebhookEvent,
};

/// A `POST` route that verifies each delivery (signature, timestamp tolerance), forgets
/// the cached entitlements of the customer the event names — so a plan change applies on
/// the next request, not after the cache TTL — and hands the event to `on_event`, whose
/// answer is the response.
///
/// A delivery that fails verification is answered `400`
/// `{"error": "invalid_webhook", "message": ..., "feature": null}` and never reaches
/// `on_event` (as with kelviq-axum). Do not put the route behind the
/// [`KelviqMiddleware`](crate::KelviqMiddleware): deliveries name no customer.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use kelviq_client::webhook::Webhook;
///
/// # fn app(kelviq: kelviq_client::Kelviq) -> Result<(), kelviq_client::webhook::WebhookError> {
/// let verifier = Webhook::new("whsec_from_the_dashboard")?;
/// let app = App::new().route(
///     "/webhooks/kelviq",
///     kelviq_actix::webhook(kelviq, verifier, |event| async move {
///         tracing::info!(event_type = event.event_type(), "kelviq event");
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
                            "kelviq webhook: cached entitlements forgotten"
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

fn invalid(error: &WebhookError) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(kelviq_client::gate::error_body(
            "invalid_webhook",
            &error.to_string(),
        ))
}
