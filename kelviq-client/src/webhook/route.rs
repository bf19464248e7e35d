//! [`WebhookRoute`]: what a webhook endpoint decides, for every framework adapter.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{Duplicate, ReplayClaim, ReplayGuard, Webhook, WebhookError, WebhookEvent};
use crate::gate::error_response;

/// The default [`WebhookRoute::body_limit`]: 256 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The message of every `400` `invalid_webhook` answer. The reason stays in the logs.
pub const INVALID_WEBHOOK_MESSAGE: &str = "the webhook delivery could not be verified";

/// The options of a webhook endpoint, and its decisions: the verifier, the body limit and
/// an optional [`ReplayGuard`].
///
/// kelviq-axum's and kelviq-actix's `webhook(kelviq, route, on_event)` take one (or a
/// bare [`Webhook`], which converts with the defaults) and answer exactly as described
/// here; they only read the body and convert the responses. Other frameworks call
/// [`receive`](Self::receive) and [`too_large`](Self::too_large) the same way.
///
/// | delivery | answer | reaches the handler |
/// |---|---|---|
/// | body over the [`body_limit`](Self::body_limit) | `413` `webhook_too_large` | no |
/// | fails verification (headers, signature, timestamp, JSON) | `400` `invalid_webhook`, always with [`INVALID_WEBHOOK_MESSAGE`] | no |
/// | replay guard: same `webhook-id` already processed | `200` `{"status":"already_processed"}` | no |
/// | replay guard: same `webhook-id` being handled right now | `409` `webhook_in_progress`, `Retry-After: 5` | no |
/// | otherwise | the handler's response | yes |
///
/// Error bodies are the shared RFC 9457 problem details (`{"type": ..., "title": ..., "status": ..., "detail": ..., "code": ...}`).
///
/// **The sender never learns why a delivery failed verification**: a wrong secret, a
/// forged signature, an expired timestamp and a missing header all get the same body.
/// Telling them apart would help whoever probes the endpoint, and Kelviq's retries do not
/// use the reason. The [`WebhookError`] is logged at `warn` (target `kelviq_client::webhook`):
/// look there when real deliveries are refused (most often: the wrong secret, or a clock
/// more than the tolerance off).
///
/// **Why a processed replay is answered `200`**: senders of this header scheme retry every
/// non-`2xx` answer for hours. A delivery whose first answer was lost (a timeout, a
/// dropped connection) would otherwise be retried until its retries carried a timestamp
/// outside the guard's window — and then be handled a second time. `200` without calling
/// the handler ends the retries and keeps the handler to one run per delivery; a replayed
/// capture gains an attacker nothing. A delivery still being handled is a `409`, so that
/// it is retried: if the first attempt fails, the retry is handled.
///
/// ```
/// use kelviq_client::webhook::{ReplayGuard, Webhook, WebhookRoute};
///
/// let route = WebhookRoute::new(Webhook::new("whsec_test")?)
///     .body_limit(64 * 1024)
///     .replay_guard(ReplayGuard::default());
/// assert_eq!(route.max_body_bytes(), 64 * 1024);
/// # Ok::<(), kelviq_client::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WebhookRoute {
    verifier: Webhook,
    body_limit: usize,
    replay_guard: Option<ReplayGuard>,
}

impl From<Webhook> for WebhookRoute {
    fn from(verifier: Webhook) -> Self {
        WebhookRoute::new(verifier)
    }
}

/// What to do with a delivery: [`WebhookRoute::receive`]'s answer.
#[derive(Debug)]
pub enum Reception {
    /// A verified, new delivery: run the handler with `event`, then
    /// [`finish`](Receipt::finish) the receipt with the handler's status.
    Deliver {
        /// The verified event.
        event: WebhookEvent,
        /// Settles the replay guard's claim on the delivery id.
        receipt: Receipt,
    },
    /// Send this response; the handler is not called.
    Answer(http::Response<Bytes>),
}

/// Settles a delivered event with the replay guard (nothing to do without one): a `2xx`
/// handler response marks the delivery id processed; any other status, or dropping the
/// receipt (a panic, a cancelled request), forgets it so that the sender's retry is
/// handled.
#[derive(Debug)]
#[must_use = "dropping the receipt counts the delivery as failed"]
pub struct Receipt {
    claim: Option<ReplayClaim>,
}

impl Receipt {
    /// Records the handler's response status: `2xx` is success.
    pub fn finish(self, status: u16) {
        if let Some(claim) = self.claim {
            if (200..300).contains(&status) {
                claim.processed();
            } else {
                tracing::debug!(
                    webhook_id = claim.id(),
                    status,
                    "kelviq webhook handler failed: the delivery id is released for a retry"
                );
                claim.release();
            }
        }
    }
}

impl WebhookRoute {
    /// An endpoint verifying with `verifier`, with the [`DEFAULT_BODY_LIMIT`] and no
    /// replay guard.
    pub fn new(verifier: Webhook) -> Self {
        WebhookRoute {
            verifier,
            body_limit: DEFAULT_BODY_LIMIT,
            replay_guard: None,
        }
    }

    /// The largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`], 256 KiB);
    /// a longer one is answered `413` `webhook_too_large` without being read further.
    /// Kelviq's events are small JSON documents: the limit only bounds what a stranger
    /// can make the endpoint buffer before the signature is checked.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Refuses a second delivery of the same `webhook-id` within the verifier's tolerance
    /// (see [`ReplayGuard`] and the table above). Default: no guard; every verified
    /// delivery reaches the handler.
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Webhook {
        &self.verifier
    }

    /// The body limit in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.body_limit
    }

    /// The replay guard, if any.
    pub fn guard(&self) -> Option<&ReplayGuard> {
        self.replay_guard.as_ref()
    }

    /// Decides what to do with a delivery, from its headers (`http` 1) and whole body
    /// (at most [`max_body_bytes`](Self::max_body_bytes); see [`too_large`](Self::too_large)).
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Reception {
        self.decide(self.verifier.verify(headers, body))
    }

    /// [`receive`](Self::receive) with the values of the `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature` headers (`""` when missing), for
    /// frameworks on another `http` version.
    pub fn receive_parts(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Reception {
        self.decide(self.verifier.verify_parts(id, timestamp, signature, body))
    }

    /// The answer to a body longer than the limit: `413` `webhook_too_large`.
    pub fn too_large(&self) -> http::Response<Bytes> {
        tracing::warn!(
            target: "kelviq_client::webhook",
            body_limit = self.body_limit,
            "kelviq webhook refused: the body is over the limit"
        );
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "webhook_too_large",
            &format!(
                "the webhook delivery is larger than {} bytes",
                self.body_limit
            ),
        )
    }

    /// The answer to a body that could not be read (the connection broke, a malformed
    /// chunk): the generic `400` `invalid_webhook`, with `error` logged at `debug`.
    pub fn unreadable(&self, error: &dyn std::fmt::Display) -> http::Response<Bytes> {
        tracing::debug!(
            target: "kelviq_client::webhook",
            %error,
            "kelviq webhook refused: the body could not be read"
        );
        invalid()
    }

    fn decide(&self, verified: Result<WebhookEvent, WebhookError>) -> Reception {
        let event = match verified {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(
                    target: "kelviq_client::webhook",
                    %error,
                    "kelviq webhook refused: verification failed"
                );
                return Reception::Answer(invalid());
            }
        };
        let claim = match &self.replay_guard {
            None => None,
            Some(guard) => match guard.claim(&event, &self.verifier) {
                Ok(claim) => Some(claim),
                Err(duplicate) => {
                    tracing::debug!(
                        target: "kelviq_client::webhook",
                        webhook_id = event.id(),
                        %duplicate,
                        "kelviq webhook replay not handled again"
                    );
                    return Reception::Answer(duplicate_response(duplicate));
                }
            },
        };
        Reception::Deliver {
            event,
            receipt: Receipt { claim },
        }
    }
}

/// `400` `invalid_webhook` with the generic message.
fn invalid() -> http::Response<Bytes> {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_webhook",
        INVALID_WEBHOOK_MESSAGE,
    )
}

fn duplicate_response(duplicate: Duplicate) -> http::Response<Bytes> {
    match duplicate {
        Duplicate::Processed => {
            let mut response =
                http::Response::new(Bytes::from_static(br#"{"status":"already_processed"}"#));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Duplicate::InProgress => {
            let mut response = error_response(
                StatusCode::CONFLICT,
                "webhook_in_progress",
                "this webhook delivery is being processed; retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::webhook::sign;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"type":"subscription.updated"}"#;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    fn route() -> WebhookRoute {
        WebhookRoute::new(Webhook::new(SECRET).unwrap())
    }

    fn answer(reception: Reception) -> http::Response<Bytes> {
        match reception {
            Reception::Answer(response) => response,
            Reception::Deliver { event, .. } => panic!("delivered {event:?}"),
        }
    }

    /// What the `tracing` events emitted while `f` runs on this thread say.
    fn logs<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
        (result, text)
    }

    #[test]
    fn every_verification_failure_gets_one_answer_and_the_reason_goes_to_the_logs() {
        let route = route();
        let at = now();
        let stale = at - 3600;
        let (answers, logged) = logs(|| {
            [
                route.receive_parts(
                    "msg_1",
                    &at.to_string(),
                    &sign("whsec_x", "msg_1", at, BODY),
                    BODY,
                ),
                route.receive_parts(
                    "msg_1",
                    &stale.to_string(),
                    &sign(SECRET, "msg_1", stale, BODY),
                    BODY,
                ),
                route.receive_parts("", "", "", BODY),
            ]
            .map(answer)
        });
        for response in &answers {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert_eq!(
                response.body(),
                r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-webhook","title":"Bad Request","status":400,"detail":"the webhook delivery could not be verified","code":"invalid_webhook"}"#
            );
        }
        assert!(logged.contains("webhook signature mismatch"), "{logged}");
        assert!(logged.contains("beyond the 300s tolerance"), "{logged}");
        assert!(
            logged.contains("missing or empty webhook-id header"),
            "{logged}"
        );
        assert!(logged.contains("WARN"), "{logged}");
        assert!(!logged.contains(SECRET), "{logged}");
    }

    #[test]
    fn an_oversized_body_is_413_naming_the_limit() {
        let route = route().body_limit(10);
        assert_eq!(route.max_body_bytes(), 10);
        assert_eq!(
            WebhookRoute::from(Webhook::new(SECRET).unwrap()).max_body_bytes(),
            DEFAULT_BODY_LIMIT
        );
        let response = route.too_large();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.body(),
            r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#webhook-too-large","title":"Payload Too Large","status":413,"detail":"the webhook delivery is larger than 10 bytes","code":"webhook_too_large"}"#
        );
        let unreadable = route.unreadable(&"connection reset");
        assert_eq!(unreadable.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test(start_paused = true)]
    async fn the_guard_answers_replays_until_the_verifier_would_refuse_them() {
        let verifier = Webhook::new(SECRET)
            .unwrap()
            .tolerance(Duration::from_secs(60));
        let route = WebhookRoute::new(verifier).replay_guard(ReplayGuard::new(10));
        assert!(route.guard().is_some());
        let at = now().to_string();
        let signature = sign(SECRET, "msg_1", &at, BODY);
        let receive = || route.receive_parts("msg_1", &at, &signature, BODY);

        let Reception::Deliver { event, receipt } = receive() else {
            panic!("the first delivery is handled");
        };
        assert_eq!(event.id(), "msg_1");
        let in_progress = answer(receive());
        assert_eq!(in_progress.status(), StatusCode::CONFLICT);
        assert_eq!(in_progress.headers()[header::RETRY_AFTER], "5");
        receipt.finish(204);
        let processed = answer(receive());
        assert_eq!(processed.status(), StatusCode::OK);
        assert_eq!(processed.body(), r#"{"status":"already_processed"}"#);

        // Signed now, tolerance 60 s: remembered for 61 s of tokio's clock (the verifier
        // itself reads the wall clock, which has barely moved).
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(answer(receive()).status(), StatusCode::OK);
        tokio::time::advance(Duration::from_secs(2)).await;
        let Reception::Deliver { receipt, .. } = receive() else {
            panic!("the window is over: handled again");
        };
        receipt.finish(500);
        assert!(
            matches!(receive(), Reception::Deliver { .. }),
            "a failure released the id"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_the_timestamp_check_ids_are_kept_until_evicted() {
        let route = WebhookRoute::new(Webhook::new(SECRET).unwrap().disable_timestamp_check())
            .replay_guard(ReplayGuard::new(10));
        let signature = sign(SECRET, "msg_1", 1, BODY);
        let Reception::Deliver { receipt, .. } =
            route.receive_parts("msg_1", "1", &signature, BODY)
        else {
            panic!("handled");
        };
        receipt.finish(200);
        tokio::time::advance(Duration::from_secs(365 * 24 * 3600)).await;
        let again = answer(route.receive_parts("msg_1", "1", &signature, BODY));
        assert_eq!(again.status(), StatusCode::OK);
    }
}
