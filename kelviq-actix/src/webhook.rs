//! [`webhook`]: a route that verifies Kelviq webhook deliveries and discards the cached
//! entitlements of the customer each one names.

use std::future::Future;

use actix_web::{HttpRequest, HttpResponse, Responder, Route, web};
use kelviq_client::Kelviq;
use kelviq_client::webhook::{
    ID_HEADER, Reception, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookEvent, WebhookRoute,
};

use crate::response::to_actix;

/// A `POST` route that reads each delivery up to the body limit, verifies it (signature,
/// timestamp tolerance), optionally refuses replays, discards the cached entitlement
/// snapshot of the customer the event names, and hands the event to `on_event`, whose
/// answer is the response.
///
/// `route` is a [`WebhookRoute`] — the verifier, the body limit (default 256 KiB) and an
/// optional [`ReplayGuard`](kelviq_client::webhook::ReplayGuard) — or a bare
/// [`Webhook`](kelviq_client::webhook::Webhook) with the defaults. The answers are the
/// [`WebhookRoute`]'s, identical in kelviq-axum:
///
/// | delivery | answer |
/// |---|---|
/// | body over the limit | `413` `{"code":"webhook_too_large", ...}` |
/// | fails verification, whatever the reason | `400` `{"code":"invalid_webhook", "detail":"the webhook delivery could not be verified"}` (the reason is logged at `warn`, never sent) |
/// | with a replay guard: a `webhook-id` already processed (a `2xx` from `on_event`) within the tolerance | `200` `{"status":"already_processed"}`, so the sender stops retrying |
/// | with a replay guard: a `webhook-id` being handled right now | `409` `webhook_in_progress`, `Retry-After: 5` |
/// | otherwise | `on_event`'s response |
///
/// Only the last row reaches `on_event`. The snapshot is discarded, not refreshed: the
/// customer's next gated request fetches it again from Kelviq (one call, shared by the
/// concurrent requests of that customer), so a plan change applies from that request on,
/// not after the cache TTL.
///
/// The route reads the body itself, so a `web::PayloadConfig` does not apply to it; the
/// [`WebhookRoute::body_limit`] does. Do not put the route behind the
/// [`KelviqMiddleware`](crate::KelviqMiddleware): deliveries name no customer.
///
/// ```
/// use actix_web::{App, HttpResponse};
/// use kelviq_actix::prelude::*;
///
/// # fn app(kelviq: Kelviq) -> Result<(), Box<dyn std::error::Error>> {
/// let route = WebhookRoute::new(Webhook::new("whsec_from_the_dashboard")?)
///     .body_limit(64 * 1024)
///     .replay_guard(ReplayGuard::default());
/// let app = App::new().route(
///     "/webhooks/kelviq",
///     webhook(kelviq, route, |event: WebhookEvent| async move {
///         // The customer's cached entitlements are already discarded.
///         if event.event_type() == Some("subscription.updated") { /* notify the team */ }
///         HttpResponse::NoContent().finish()
///     }),
/// );
/// # Ok(())
/// # }
/// ```
pub fn webhook<F, Fut, R>(kelviq: Kelviq, route: impl Into<WebhookRoute>, on_event: F) -> Route
where
    F: Fn(WebhookEvent) -> Fut + Clone + 'static,
    Fut: Future<Output = R> + 'static,
    R: Responder + 'static,
{
    let route = route.into();
    web::post().to(move |request: HttpRequest, payload: web::Payload| {
        let kelviq = kelviq.clone();
        let route = route.clone();
        let on_event = on_event.clone();
        async move {
            let body = match payload.to_bytes_limited(route.max_body_bytes()).await {
                Ok(Ok(body)) => body,
                Ok(Err(error)) => return to_actix(route.unreadable(&error)),
                Err(_) => return to_actix(route.too_large()),
            };
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
            };
            let reception = route.receive_parts(
                header(ID_HEADER),
                header(TIMESTAMP_HEADER),
                header(SIGNATURE_HEADER),
                &body,
            );
            match reception {
                Reception::Answer(response) => to_actix(response),
                Reception::Deliver { event, receipt } => {
                    if let Some(customer_id) = event.customer_id() {
                        kelviq.invalidate_entitlements(customer_id);
                        tracing::debug!(
                            customer_id,
                            "kelviq webhook: cached entitlements discarded"
                        );
                    }
                    let response: HttpResponse = on_event(event)
                        .await
                        .respond_to(&request)
                        .map_into_boxed_body();
                    receipt.finish(response.status().as_u16());
                    response
                }
            }
        }
    })
}
