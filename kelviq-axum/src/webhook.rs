//! [`webhook`]: a route that receives Kelviq webhooks.

use std::future::Future;

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, post};
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kelviq_client::Kelviq;
use kelviq_client::webhook::{Reception, WebhookEvent, WebhookRoute};

use crate::response::into_axum;

/// A `POST` route that reads each delivery up to the body limit, verifies it (signature,
/// timestamp tolerance), optionally refuses replays, and hands the event to `on_event`,
/// whose answer is the response.
///
/// `route` is a [`WebhookRoute`] — the verifier, the body limit (default 256 KiB) and an
/// optional [`ReplayGuard`](kelviq_client::webhook::ReplayGuard) — or a bare
/// [`Webhook`](kelviq_client::webhook::Webhook) with the defaults. The answers are the
/// [`WebhookRoute`]'s, identical in kelviq-actix:
///
/// | delivery | answer |
/// |---|---|
/// | body over the limit | `413` `{"code":"webhook_too_large", ...}` |
/// | fails verification, whatever the reason | `400` `{"code":"invalid_webhook", "detail":"the webhook delivery could not be verified"}` (the reason is logged at `warn`, never sent) |
/// | with a replay guard: a `webhook-id` already processed (a `2xx` from `on_event`) within the tolerance | `200` `{"status":"already_processed"}`, so the sender stops retrying |
/// | with a replay guard: a `webhook-id` being handled right now | `409` `webhook_in_progress`, `Retry-After: 5` |
/// | otherwise | `on_event`'s response |
///
/// Only the last row reaches `on_event`. When the event names a customer, the client's
/// cached entitlement snapshot of that customer is **discarded** before `on_event` runs:
/// the customer's next gated request fetches it again from Kelviq (one call, shared by
/// concurrent requests), so a plan change applies on that request instead of after the
/// cache TTL. Nothing is fetched ahead of time, and other customers' snapshots are kept.
///
/// The route reads the body itself, so axum's `DefaultBodyLimit` does not apply to it;
/// the [`WebhookRoute::body_limit`] does.
///
/// ```
/// use axum::Router;
/// use kelviq_axum::prelude::*;
///
/// # fn app(kelviq: Kelviq) -> Result<Router, kelviq_axum::prelude::WebhookError> {
/// let route = WebhookRoute::new(Webhook::new("whsec_from_the_dashboard")?)
///     .body_limit(64 * 1024)
///     .replay_guard(ReplayGuard::default());
/// let app = Router::new().route(
///     "/webhooks/kelviq",
///     webhook(kelviq, route, |event: WebhookEvent| async move {
///         tracing::info!(event_type = event.event_type(), "kelviq event");
///     }),
/// );
/// # Ok(app)
/// # }
/// ```
pub fn webhook<S, F, Fut, R>(
    kelviq: Kelviq,
    route: impl Into<WebhookRoute>,
    on_event: F,
) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(WebhookEvent) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + 'static,
{
    let route = route.into();
    post(move |headers: HeaderMap, body: Body| async move {
        let body = match Limited::new(body, route.max_body_bytes()).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return into_axum(route.too_large());
            }
            Err(error) => return into_axum(route.unreadable(&error)),
        };
        match route.receive(&headers, &body) {
            Reception::Answer(response) => into_axum(response),
            Reception::Deliver { event, receipt } => {
                if let Some(customer_id) = event.customer_id() {
                    kelviq.invalidate_entitlements(customer_id);
                    tracing::debug!(customer_id, "kelviq webhook: cached entitlements discarded");
                }
                let response = on_event(event).await.into_response();
                receipt.finish(response.status().as_u16());
                response
            }
        }
    })
}
