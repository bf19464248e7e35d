//! Signed webhook deliveries: what the fake sends when its state changes.
//!
//! With a webhook endpoint configured ([`MockServerBuilder::webhook`] or
//! [`MockServer::set_webhook`]), every change the real service would notify about is
//! POSTed to it as JSON, signed the way `kelviq_client::webhook` verifies (`kelviq-api.md`
//! section 6):
//!
//! | Header | Content |
//! |---|---|
//! | `webhook-id` | the delivery id (`msg_<n>`), the same for every attempt |
//! | `webhook-timestamp` | the attempt's signing time, unix seconds |
//! | `webhook-signature` | `v1,<lower-case hex HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the secret's bytes verbatim |
//!
//! The body is `{"id": "msg_<n>", "type": "<event type>", "createdOn": "<ISO-8601>",
//! "data": {...}}`; `data` always has the `customerId` concerned. The event types:
//!
//! | `type` | sent when | `data` |
//! |---|---|---|
//! | `subscription.created` | a subscription starts (create, completed checkout, [`MockServer::set_plan`] for a customer without one) | `customerId`, `subscriptionId`, `planIdentifier`, `chargePeriod`, `status`, `endDate` |
//! | `subscription.updated` | a subscription changes plan, period, features or trial (update, [`MockServer::set_plan`]) | as above |
//! | `subscription.cancelled` | a subscription is cancelled, at once or for a later date | as above (`endDate` set) |
//! | `customer.updated` | a customer's fields change (`PATCH`), or [`MockServer::set_usage`] sets a usage | `customerId`, `email`, `name`, `metadata`; or `customerId`, `featureId`, `usage` |
//!
//! Over HTTP, the same dashboard changes are the mock's own control routes on the API
//! listener (same bearer token; not part of Kelviq's API):
//! `POST /_mock/customers/{customer_id}/plan` with `{"plan": "pro"}`, answering
//! `{"subscriptionId": "..."}`, and `POST /_mock/customers/{customer_id}/usage` with
//! `{"featureId": "api-calls", "value": 3}`; an unknown customer is a `404`, an unknown
//! plan or a bad body a `400`. The [`console`](crate::console) module lists every control
//! endpoint, and its page makes these changes with a click.
//!
//! Kelviq does not document its payloads; these names are the mock's reading, and what
//! `kelviq_client::webhook::WebhookEvent` reads (`type`, `data.customerId`).
//!
//! Deliveries never slow the API down: the request that changes state only queues the
//! event ([`DEFAULT_WEBHOOK_QUEUE`] events at most; a full queue drops the event, recorded
//! as [`DeliveryOutcome::Dropped`]). A background task sends them one at a time, in order,
//! and retries a connection error, a timeout ([`DEFAULT_WEBHOOK_TIMEOUT`]) or a non-2xx
//! answer up to [`DEFAULT_WEBHOOK_ATTEMPTS`] attempts in all, waiting
//! [`DEFAULT_WEBHOOK_BACKOFF`] after the first failure and twice as long after each
//! further one (at most [`MAX_WEBHOOK_BACKOFF`]), on tokio's clock. Each retry keeps the
//! delivery id and is signed again with the time of the attempt.
//!
//! Every delivery, its attempts and their answers are recorded
//! ([`MockServer::webhook_deliveries`]): the last [`DEFAULT_WEBHOOK_RECORD_CAPACITY`],
//! oldest dropped first. [`MockServer::wait_for_webhooks`] waits, with a bound, for
//! deliveries to settle. The endpoint must be a plain `http://` URL: the mock is a
//! loopback tool and speaks no TLS.
//!
//! [`MockServerBuilder::webhook`]: crate::MockServerBuilder::webhook
//! [`MockServer::set_webhook`]: crate::MockServer::set_webhook
//! [`MockServer::set_plan`]: crate::MockServer::set_plan
//! [`MockServer::set_usage`]: crate::MockServer::set_usage
//! [`MockServer::webhook_deliveries`]: crate::MockServer::webhook_deliveries
//! [`MockServer::wait_for_webhooks`]: crate::MockServer::wait_for_webhooks

mod endpoint;
mod record;
mod sender;

use std::time::Duration;

pub use record::{DeliveryAttempt, DeliveryOutcome, WebhookDelivery};

pub(crate) use endpoint::{Endpoint, WebhookSecret};
pub(crate) use sender::{RetryPolicy, Webhooks, run};

/// How many events wait for delivery at most; one more is dropped (and recorded as
/// [`DeliveryOutcome::Dropped`]).
pub const DEFAULT_WEBHOOK_QUEUE: usize = 1024;

/// How many deliveries [`MockServer::webhook_deliveries`](crate::MockServer::webhook_deliveries)
/// keeps: the most recent ones.
pub const DEFAULT_WEBHOOK_RECORD_CAPACITY: usize = 1000;

/// How many attempts a delivery gets by default
/// ([`MockServerBuilder::webhook_attempts`](crate::MockServerBuilder::webhook_attempts)).
pub const DEFAULT_WEBHOOK_ATTEMPTS: u32 = 5;

/// The wait after a delivery's first failed attempt by default, doubled after each further
/// one ([`MockServerBuilder::webhook_backoff`](crate::MockServerBuilder::webhook_backoff)).
pub const DEFAULT_WEBHOOK_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between two attempts.
pub const MAX_WEBHOOK_BACKOFF: Duration = Duration::from_secs(10);

/// How long one attempt (connect, send, read the answer) may take by default before it
/// counts as failed ([`MockServerBuilder::webhook_timeout`](crate::MockServerBuilder::webhook_timeout)).
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// How many bytes of each answer's body the record keeps.
pub const WEBHOOK_RESPONSE_BODY_LIMIT: usize = 4096;
