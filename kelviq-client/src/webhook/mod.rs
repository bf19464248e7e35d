//! Verification of Kelviq webhook deliveries.
//!
//! Kelviq signs every webhook delivery with your endpoint's webhook secret. Each request
//! carries three headers:
//!
//! | Header | Content |
//! |---|---|
//! | `webhook-id` | the delivery's unique id |
//! | `webhook-timestamp` | when it was signed, in unix seconds (an integer) |
//! | `webhook-signature` | `v1,<signature>`: the lower-case hex HMAC-SHA256 of `<id>.<timestamp>.<raw body>` |
//!
//! The HMAC key is the secret's bytes **verbatim**: a `whsec_` prefix is part of the key,
//! nothing is base64-decoded. (The scheme looks like [Standard Webhooks] but is not
//! wire-compatible with it: Standard Webhooks uses base64 signatures and a base64 secret.)
//!
//! Build a [`Webhook`] verifier once with the secret, then call [`Webhook::verify`] with
//! the request headers and the **raw** body — the bytes exactly as received, before any
//! JSON parsing: a re-serialised body does not match the signature. A delivery is accepted
//! when
//!
//! 1. the three headers are present and not empty;
//! 2. the timestamp is an integer number of unix seconds;
//! 3. one of the `v1` signatures matches, compared in constant time;
//! 4. the timestamp is within the tolerance of the current time ([`DEFAULT_TOLERANCE`],
//!    5 minutes, either way), so a captured delivery cannot be replayed once the
//!    tolerance has passed (within it, a [`ReplayGuard`] refuses a `webhook-id` seen
//!    before);
//! 5. the body is JSON.
//!
//! Every failure is a [`WebhookError`]; the step that failed decides the variant, and no
//! error contains the secret or the expected signature.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::{SystemTime, UNIX_EPOCH};
//!
//! use http::HeaderMap;
//! use kelviq_client::webhook::{self, Webhook};
//!
//! let secret = "whsec_test";
//! let body = br#"{"type":"subscription.updated","data":{"customerId":"cust_1"}}"#;
//! let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
//!
//! // What Kelviq sends (here signed locally with `webhook::sign`).
//! let mut headers = HeaderMap::new();
//! headers.insert(webhook::ID_HEADER, "msg_1".parse()?);
//! headers.insert(webhook::TIMESTAMP_HEADER, now.to_string().parse()?);
//! let signature = webhook::sign(secret, "msg_1", now, body);
//! headers.insert(webhook::SIGNATURE_HEADER, signature.parse()?);
//!
//! // What your endpoint does: one verifier, built at startup, checks every delivery.
//! let verifier = Webhook::new(secret)?;
//! let event = verifier.verify(&headers, body)?;
//! assert_eq!(event.id(), "msg_1");
//! assert_eq!(event.event_type(), Some("subscription.updated"));
//! assert_eq!(event.customer_id(), Some("cust_1"));
//!
//! // Any change to the body, the id or the timestamp breaks the signature.
//! let tampered = br#"{"type":"subscription.updated","data":{"customerId":"cust_2"}}"#;
//! assert!(matches!(
//!     verifier.verify(&headers, tampered),
//!     Err(webhook::WebhookError::SignatureMismatch)
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! Frameworks on another version of the `http` crate (actix-web 4 uses `http` 0.2) pass
//! the three header values as strings to [`Webhook::verify_parts`].
//!
//! # Endpoints
//!
//! [`WebhookRoute`] is what an endpoint decides, once for every framework: the verifier,
//! a body limit ([`DEFAULT_BODY_LIMIT`], 256 KiB; `413` above it), an optional
//! [`ReplayGuard`], and the answers — one generic `400` `invalid_webhook` for every
//! verification failure (the reason is logged, never sent), `200` for a replay of a
//! processed delivery, `409` for one still being handled. kelviq-axum's and
//! kelviq-actix's `webhook` routes are thin adapters over it.
//!
//! # Compared with the Python SDK
//!
//! The signature scheme is the Python SDK's (`kelviq_sdk.webhook.validate_event`), so the
//! same deliveries verify, with these deliberate differences:
//!
//! - the timestamp is checked against a tolerance (the Python SDK accepts any timestamp,
//!   so captured deliveries can be replayed forever); [`Webhook::tolerance`] changes it
//!   and [`Webhook::disable_timestamp_check`] turns it off;
//! - the timestamp must be an integer (the Python SDK never reads it);
//! - the signature header may hold several space-separated signatures, as during a key
//!   rotation: the delivery is accepted if any `v1` signature matches; entries with
//!   another version (`v2,...`) are ignored;
//! - hex signatures are accepted in either case: they are decoded and compared as bytes,
//!   so upper-case hex carries the same 32 bytes and proves the same thing;
//! - an empty secret is refused ([`WebhookError::EmptySecret`]): an unset environment
//!   variable must not turn into a key that anyone can sign with;
//! - malformed headers and bodies are [`WebhookError`]s, never another error type.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

mod error;
mod event;
mod replay;
mod route;
mod verifier;

#[cfg(test)]
mod tests;

pub use error::WebhookError;
pub use event::WebhookEvent;
pub use replay::{DEFAULT_REPLAY_CAPACITY, Duplicate, ReplayClaim, ReplayGuard};
pub use route::{DEFAULT_BODY_LIMIT, INVALID_WEBHOOK_MESSAGE, Receipt, Reception, WebhookRoute};
pub use verifier::{DEFAULT_TOLERANCE, Webhook, sign, verify};

/// The header carrying the delivery's unique id: `webhook-id`.
pub const ID_HEADER: &str = "webhook-id";

/// The header carrying the signing time in unix seconds: `webhook-timestamp`.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";

/// The header carrying the signatures, `v1,<hex>` (space-separated when several):
/// `webhook-signature`.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
