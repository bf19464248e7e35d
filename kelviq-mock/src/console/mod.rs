//! The console: a page to watch and steer the mock from a browser, and the JSON control
//! endpoints behind it.
//!
//! With [`MockServerBuilder::console`] on (the `kelviq-mock` binary and the example apps
//! turn it on; tests leave it off), the API listener serves a page at [`CONSOLE_PATH`]
//! ([`MockServer::console_url`]), embedded in the crate (plain HTML, CSS and JavaScript:
//! no build step, nothing fetched from elsewhere, works offline). It shows:
//!
//! - every customer with its plan, subscription status and every feature of every plan:
//!   access, usage against the limit as a bar, the reset time;
//! - the request journal, newest first: time, the client instance that sent it (when the
//!   client names itself, as `kelviq-client` does), listener, method, path, status,
//!   latency and the fault injected, if any;
//! - the webhook endpoint and the deliveries, newest first, with every attempt's answer;
//! - the fault plan.
//!
//! Its actions — change a customer's plan, set or reset a usage, inject a fault, clear the
//! faults — each call one of the control endpoints below, which tests and scripts can call
//! too. A plan change sends the webhook the real service would (`subscription.updated`, or
//! `subscription.created` for a customer without a subscription); a usage change sends
//! `customer.updated` (see [`webhooks`](crate::webhooks)).
//!
//! # Control endpoints
//!
//! On the API listener, with the API's bearer token, served whether the console is on or
//! off; JSON in and out. They are the mock's own, not Kelviq's API, and as strict as the
//! service's own routes, in the same order: missing or wrong token → `401`; a body without
//! a JSON content type (`application/json`, parameters allowed) → `415`; a body that is not
//! a JSON object → `400`; an unknown customer → `404`; bad fields → `400` naming each one
//! (`{"value": ["Ensure this value is greater than or equal to 0."]}`: missing, `null`,
//! wrong type, out of range, unknown field, an unknown plan, a feature the customer has no
//! usage of).
//!
//! | endpoint | body | answer |
//! |---|---|---|
//! | `GET /_mock/state` | — | everything the console shows (below) |
//! | `POST /_mock/customers/{customer_id}/plan` | `{"plan": "pro"}` | `{"subscriptionId": "...", "changed": true}`; an unknown plan is a `400` |
//! | `POST /_mock/customers/{customer_id}/usage` | `{"featureId": "api-calls", "value": 3}` (`0` resets) | the body, with `customerId` and `changed` |
//! | `POST /_mock/faults` | a fault (below) | `{"faults": {...}}`, the plan after the change |
//! | `DELETE /_mock/faults` | — | `{"faults": {...}}`, now empty: rules, latency and random faults removed |
//!
//! A usage is set only for a metered or customizable feature of one of the customer's
//! active subscriptions (`{"featureId": ["The customer has no such feature."]}`, or
//! `["Usage cannot be set for a boolean feature."]`), to a JSON integer from 0 (`-1`, `2.5`
//! and `"3"` are refused). A change that changes nothing — the plan the customer is on,
//! the usage it has — is answered `200` with `"changed": false`, leaves the state as it is
//! and sends no webhook, as the service sends none for it; the same holds for
//! [`MockServer::set_plan`] and [`MockServer::set_usage`].
//!
//! The faults `POST /_mock/faults` adds, on every route (what [`MockServer::inject`] and
//! [`MockServer::set_latency`] do in Rust):
//!
//! | body | effect |
//! |---|---|
//! | `{"kind": "status", "status": 503, "count": 5}` | the next 5 requests are answered 503 without being processed (`status` from 400 to 599; without `count`, every request until the faults are cleared) |
//! | `{"kind": "rateLimited", "retryAfter": 2, "count": 1}` | `429` with `Retry-After: 2` (seconds, at most 3600) |
//! | `{"kind": "drop", "count": 1}` | the connection is closed without an answer |
//! | `{"kind": "latency", "ms": 800}` | every request waits 800 ms first (at most 60,000; `0` removes it; no `count`) |
//!
//! `count` is from 1 to 1,000,000. Rules fire in the order they were added, the first with
//! uses left deciding; at most [`MAX_CONTROL_RULES`] rules wait at once over HTTP (one more
//! is a `400`: clear them first).
//!
//! `GET /_mock/state` answers `plans` (`identifier`, `name`), `customers` (the first 200
//! live ones: `customerId`, `name`, `email`, `subscriptions` with `id`, `plan`, `status`,
//! `chargePeriod`, and `features` with `featureId`, `type`, `hasAccess`, `usage`, `limit`
//! (`null`: unlimited or not entitled), `resetAt`, `inPlan`: whether one of the customer's
//! active subscriptions includes it), `customersTotal`, `journal` (the newest 100 `entries`
//! with `seq`, `atMs`, `listener`, `method`, `path`, `outcome`, `status`, `latencyMs`,
//! `fault`, `instance`: the client instance that sent it, from its
//! [`CLIENT_INSTANCE_HEADER`](crate::CLIENT_INSTANCE_HEADER), `null` when not named; `kept`
//! and `dropped` counts), `webhooks` (`endpoint` and the
//! newest 50 `deliveries` with `id`, `type`, `customerId`, `outcome` and `attempts`: `at`,
//! `status`, `answer`) and `faults` (`latencyMs`, `routeLatency`, `rules` with `fault`,
//! `route`, `remaining`, and `random`).
//!
//! The page, its assets and `GET /_mock/state` are not journaled (the console polls the
//! state every second, and would otherwise fill the journal with itself); the changes are,
//! as every other request.
//!
//! # Live updates: short polling
//!
//! The page asks for `GET /_mock/state` once a second while it is visible (and not while
//! its tab is hidden), rather than holding a server-sent event stream open:
//!
//! - a browser's `EventSource` cannot send the bearer token the control endpoints need,
//!   while `fetch` can;
//! - nothing long-lived to bound: a poll is one short request, so there is no count of open
//!   streams to cap and no stream to end when the mock stops;
//! - the state is small (every list in it is bounded), a second is as fast as a person
//!   watches usage move, and the same endpoint serves tests.
//!
//! # Security
//!
//! The console is a development tool on loopback. Its page carries the mock's token (in a
//! `<meta>` tag, so that its script can call the control endpoints), and is served without
//! one: any program on the machine that can reach the port can read it, as it could read
//! the token from the environment of the app under test. Another web site cannot: the page
//! sends no CORS headers, and its `Content-Security-Policy` allows only its own script and
//! style sheet. Every value shown is set as text, never as markup.
//!
//! [`MockServerBuilder::console`]: crate::MockServerBuilder::console
//! [`MockServer::console_url`]: crate::MockServer::console_url
//! [`MockServer::inject`]: crate::MockServer::inject
//! [`MockServer::set_latency`]: crate::MockServer::set_latency
//! [`MockServer::set_plan`]: crate::MockServer::set_plan
//! [`MockServer::set_usage`]: crate::MockServer::set_usage

mod page;
mod snapshot;

pub(crate) use page::routes;
pub(crate) use snapshot::snapshot;

/// The console's path on the API listener.
pub const CONSOLE_PATH: &str = "/_console";

/// How many fault rules may wait at once when they are added over HTTP
/// (`POST /_mock/faults`).
pub const MAX_CONTROL_RULES: usize = 100;
