//! Why a request is refused, with the status and the RFC 9457 problem details every
//! framework answers with.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

use super::quota::Quota;

/// Where the problem types of this crate's answers are documented: each `type` member is
/// this followed by the kebab-case code (`usage-limit-reached`). See
/// [`DenialReason::problem_type`].
pub const PROBLEM_TYPE_BASE: &str =
    "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#";

/// Why a gate refused a request. Each reason has a stable snake_case [code](Self::code)
/// (the `code` member of the problem details) and a stable problem
/// [type](Self::problem_type) URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenialReason {
    /// The request names no customer: `401`, `missing_customer`.
    MissingCustomer,
    /// The request names a customer by an id the client cannot send — longer than
    /// [`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len):
    /// `400`, `invalid_customer`. Refused before any I/O: the caller's mistake, not an
    /// outage.
    InvalidCustomer,
    /// The customer has the feature but no access to it: `403`, `feature_not_entitled`.
    NoAccess,
    /// A metered feature with a hard limit has no usage left: `403` unless the gate says
    /// otherwise ([`GateBuilder::limit_reached_status`](super::GateBuilder::limit_reached_status)),
    /// `usage_limit_reached`.
    LimitReached,
    /// The customer's entitlements do not list the feature at all — none of its plans
    /// includes it, or the id is misspelt (Kelviq's answer cannot tell which): `403`,
    /// `feature_not_entitled` (to the caller this is "not in your plan"; the reason keeps
    /// the distinction for logs).
    UnknownFeature,
    /// Kelviq does not know the customer (`404`): `403`, `unknown_customer`.
    UnknownCustomer,
    /// No usable entitlement snapshot could be had and the failure policy is to deny:
    /// `503`, `kelviq_unavailable`.
    Unavailable,
}

impl DenialReason {
    /// The snake_case code: the `code` member of the problem details.
    pub fn code(self) -> &'static str {
        match self {
            DenialReason::MissingCustomer => "missing_customer",
            DenialReason::InvalidCustomer => "invalid_customer",
            DenialReason::NoAccess => "feature_not_entitled",
            DenialReason::LimitReached => "usage_limit_reached",
            DenialReason::UnknownFeature => "feature_not_entitled",
            DenialReason::UnknownCustomer => "unknown_customer",
            DenialReason::Unavailable => "kelviq_unavailable",
        }
    }

    /// The problem type URI (the `type` member of the problem details): the
    /// [`PROBLEM_TYPE_BASE`] followed by the kebab-case [code](Self::code). One per code
    /// (not found and unknown feature share `feature-not-entitled`), never changed once
    /// published; it resolves to the page that documents every type.
    ///
    /// | code | `type` |
    /// |---|---|
    /// | `missing_customer` | `…/docs/problems.md#missing-customer` |
    /// | `invalid_customer` | `…/docs/problems.md#invalid-customer` |
    /// | `feature_not_entitled` | `…/docs/problems.md#feature-not-entitled` |
    /// | `usage_limit_reached` | `…/docs/problems.md#usage-limit-reached` |
    /// | `unknown_customer` | `…/docs/problems.md#unknown-customer` |
    /// | `kelviq_unavailable` | `…/docs/problems.md#kelviq-unavailable` |
    pub fn problem_type(self) -> &'static str {
        match self {
            DenialReason::MissingCustomer => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#missing-customer"
            }
            DenialReason::InvalidCustomer => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-customer"
            }
            DenialReason::NoAccess | DenialReason::UnknownFeature => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled"
            }
            DenialReason::LimitReached => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#usage-limit-reached"
            }
            DenialReason::UnknownCustomer => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#unknown-customer"
            }
            DenialReason::Unavailable => {
                "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#kelviq-unavailable"
            }
        }
    }

    /// The problem's short summary (the `title` member), the same for every occurrence
    /// of the type.
    pub fn title(self) -> &'static str {
        match self {
            DenialReason::MissingCustomer => "Customer not identified",
            DenialReason::InvalidCustomer => "Invalid customer id",
            DenialReason::NoAccess | DenialReason::UnknownFeature => "Feature not in plan",
            DenialReason::LimitReached => "Usage limit reached",
            DenialReason::UnknownCustomer => "Unknown customer",
            DenialReason::Unavailable => "Entitlements unavailable",
        }
    }

    /// The status a denial for this reason has unless configured otherwise: `401` for a
    /// missing customer, `400` for an invalid one, `503` when unavailable, `403` for
    /// everything else.
    pub fn default_status(self) -> StatusCode {
        match self {
            DenialReason::MissingCustomer => StatusCode::UNAUTHORIZED,
            DenialReason::InvalidCustomer => StatusCode::BAD_REQUEST,
            DenialReason::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            DenialReason::NoAccess
            | DenialReason::LimitReached
            | DenialReason::UnknownFeature
            | DenialReason::UnknownCustomer => StatusCode::FORBIDDEN,
        }
    }
}

impl fmt::Display for DenialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused request: its status, and the RFC 9457 problem details
/// (`application/problem+json`) every framework adapter answers with, so that tower, axum
/// and actix-web refuse alike. Adapters only wrap it.
///
/// The body's members, in this order: `type` ([`DenialReason::problem_type`]), `title`
/// ([`DenialReason::title`]), `status` (the response's), `detail` (the
/// [message](Denial::message)), `code` (the stable snake_case [code](Denial::code)),
/// then, where they apply, `feature`, and for a reached limit whose counts are known,
/// `limit`, `used`, `remaining` and `resetAt` (RFC 3339, UTC). Absent members are left
/// out, never `null`:
///
/// ```json
/// {"type": "https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled",
///  "title": "Feature not in plan", "status": 403, "detail": "your plan does not include reports",
///  "code": "feature_not_entitled", "feature": "reports"}
/// ```
///
/// Messages are meant for the end user and never contain an upstream error; the error
/// behind an [`Unavailable`](DenialReason::Unavailable) denial is kept for logging
/// ([`Denial::error`], and [`source`](std::error::Error::source)).
///
/// ```
/// use kelviq_client::gate::{Denial, DenialReason};
///
/// let denial = Denial::no_access("reports");
/// assert_eq!(denial.status(), 403);
/// assert_eq!(denial.reason(), DenialReason::NoAccess);
/// assert_eq!(
///     denial.to_json_string(),
///     concat!(
///         r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#feature-not-entitled","#,
///         r#""title":"Feature not in plan","status":403,"detail":"your plan does not include reports","#,
///         r#""code":"feature_not_entitled","feature":"reports"}"#
///     )
/// );
/// assert_eq!(Denial::missing_customer().status(), 401);
/// ```
#[derive(Debug, Clone)]
pub struct Denial {
    reason: DenialReason,
    status: StatusCode,
    feature: Option<String>,
    message: Cow<'static, str>,
    error: Option<Arc<Error>>,
    /// When the client may try again, if known: sent as `Retry-After`.
    retry_after: Option<Duration>,
    /// A reached limit's counts, when known (boxed: most denials have none, and a
    /// `Result<_, Denial>` stays small).
    quota: Option<Box<Quota>>,
}

impl Denial {
    /// The `Content-Type` of [`Denial::body_bytes`]: RFC 9457 problem details.
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    fn new(reason: DenialReason, feature: Option<String>, message: Cow<'static, str>) -> Self {
        Denial {
            reason,
            status: reason.default_status(),
            feature,
            message,
            error: None,
            retry_after: None,
            quota: None,
        }
    }

    /// No customer could be identified for the request: `401`, `missing_customer`.
    pub fn missing_customer() -> Self {
        Denial::new(
            DenialReason::MissingCustomer,
            None,
            Cow::Borrowed("this request does not identify a customer"),
        )
    }

    /// The request's customer id cannot be sent to Kelviq (longer than
    /// [`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len)):
    /// `400`, `invalid_customer`. The message does not quote the id.
    pub fn invalid_customer() -> Self {
        Denial::new(
            DenialReason::InvalidCustomer,
            None,
            Cow::Borrowed("the customer id of this request is too long"),
        )
    }

    /// The customer has no access to `feature`: `403`, `feature_not_entitled`.
    pub fn no_access(feature: impl Into<String>) -> Self {
        let feature = feature.into();
        let message = format!("your plan does not include {feature}");
        Denial::new(DenialReason::NoAccess, Some(feature), Cow::Owned(message))
    }

    /// The customer has used up a hard-limited `feature`: `403`, `usage_limit_reached`.
    pub fn limit_reached(feature: impl Into<String>) -> Self {
        let feature = feature.into();
        let message = format!("you have reached the usage limit of {feature}");
        Denial::new(
            DenialReason::LimitReached,
            Some(feature),
            Cow::Owned(message),
        )
    }

    /// The customer's entitlements do not list `feature`: `403`, `feature_not_entitled`.
    pub fn unknown_feature(feature: impl Into<String>) -> Self {
        let feature = feature.into();
        let message = format!("your plan does not include {feature}");
        Denial::new(
            DenialReason::UnknownFeature,
            Some(feature),
            Cow::Owned(message),
        )
    }

    /// Kelviq does not know the customer: `403`, `unknown_customer`.
    pub fn unknown_customer() -> Self {
        Denial::new(
            DenialReason::UnknownCustomer,
            None,
            Cow::Borrowed("no plan is on record for this customer"),
        )
    }

    /// Entitlements cannot be checked because of `error`: `503`, `kelviq_unavailable`. The
    /// error is kept for logging; the message does not mention it.
    pub fn unavailable(error: impl Into<Arc<Error>>) -> Self {
        Denial {
            error: Some(error.into()),
            ..Denial::new(
                DenialReason::Unavailable,
                None,
                Cow::Borrowed("entitlements cannot be checked right now; try again later"),
            )
        }
    }

    /// There is no snapshot to judge: the gate let the request through while Kelviq could
    /// not be reached ([`FailurePolicy::Allow`](super::FailurePolicy::Allow)), and a handler
    /// needs the entitlements: `503`, `kelviq_unavailable`.
    pub fn no_snapshot() -> Self {
        Denial::new(
            DenialReason::Unavailable,
            None,
            Cow::Borrowed("entitlements cannot be checked right now; try again later"),
        )
    }

    /// The same denial with another status; the caller guarantees a `4xx` or `5xx`.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The same denial telling the client when to try again: the `Retry-After` header of
    /// [`Denial::to_response`], in whole seconds, rounded up.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// When the client may try again, if known and short: how long Kelviq asked this
    /// service to back off (`503`), or until a reached limit resets when that is within
    /// the gate's [maximum](super::GateBuilder::max_retry_after).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same denial with a reached limit's counts: the `limit`, `used`, `remaining` and
    /// `resetAt` members of the problem details, and the quota headers of a gate that
    /// sends them.
    #[must_use]
    pub(crate) fn with_quota(mut self, quota: Quota) -> Self {
        self.quota = Some(Box::new(quota));
        self
    }

    /// A reached limit's counts, when known: what the feature's limit, usage, remaining
    /// units and reset were when the request was refused.
    pub fn quota(&self) -> Option<&Quota> {
        self.quota.as_deref()
    }

    /// The same denial with another message for the end user (the `detail` member).
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// The HTTP status to answer with: always a `4xx` or `5xx`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Why the request was refused.
    pub fn reason(&self) -> DenialReason {
        self.reason
    }

    /// The snake_case code of the reason: the `code` member of the problem details.
    pub fn code(&self) -> &'static str {
        self.reason.code()
    }

    /// The feature the denial is about, if it is about one.
    pub fn feature(&self) -> Option<&str> {
        self.feature.as_deref()
    }

    /// The message for the end user: the `detail` member of the problem details.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error that made entitlements unavailable, for logging (never sent to the client).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// The problem details, as a JSON value (see [`Denial`] for the members).
    pub fn body(&self) -> Value {
        serde_json::to_value(self.problem()).unwrap_or(Value::Null)
    }

    /// The problem details as a string, members in the order `type`, `title`, `status`,
    /// `detail`, `code`, `feature`, `limit`, `used`, `remaining`, `resetAt`.
    pub fn to_json_string(&self) -> String {
        self.problem().to_json()
    }

    /// The problem details as bytes, ready to be a response body ([`Denial::CONTENT_TYPE`]).
    pub fn body_bytes(&self) -> Bytes {
        Bytes::from(self.to_json_string())
    }

    fn problem(&self) -> Problem<'_> {
        let quota = self.quota.as_deref();
        Problem {
            kind: Cow::Borrowed(self.reason.problem_type()),
            title: self.reason.title(),
            status: self.status.as_u16(),
            detail: self.message(),
            code: self.code(),
            feature: self.feature(),
            limit: quota.map(Quota::limit),
            used: quota.map(Quota::used),
            remaining: quota.map(Quota::remaining),
            reset_at: quota.and_then(Quota::reset_at_rfc3339),
        }
    }

    /// The default answer to the denial: its status, `Content-Type:
    /// application/problem+json`, `Retry-After` when [known](Denial::retry_after), and its
    /// problem details. Adapters answer with it (or with a gate's
    /// [denial handler](super::GateBuilder::on_denied)), converting it to their framework's
    /// response type only.
    pub fn to_response(&self) -> http::Response<Bytes> {
        let mut response = problem_response(self.status, self.body_bytes());
        if let Some(seconds) = self.retry_after_seconds() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// The `Retry-After` value, in whole seconds rounded up (at least 1), when known.
    pub(super) fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after.map(|wait| {
            wait.as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0))
                .max(1)
        })
    }
}

/// Answers a denial instead of the default problem details ([`Denial::to_response`]); set with
/// [`GateBuilder::on_denied`](super::GateBuilder::on_denied).
pub type DenialHandler = Arc<dyn Fn(&Denial) -> http::Response<Bytes> + Send + Sync>;

/// The answer to `denial`: `handler`'s, else [`Denial::to_response`]; logged once at
/// `debug`.
pub(super) fn answer(denial: &Denial, handler: Option<&DenialHandler>) -> http::Response<Bytes> {
    tracing::debug!(
        code = denial.code(),
        feature = denial.feature().unwrap_or_default(),
        status = denial.status().as_u16(),
        "request denied by kelviq"
    );
    match handler {
        Some(handler) => handler(denial),
        None => denial.to_response(),
    }
}

/// An error answer that is not a [`Denial`] (a missing layer, an invalid webhook), in the
/// same form and with the same headers: RFC 9457 problem details whose `type` is the
/// [`PROBLEM_TYPE_BASE`] followed by the kebab-case `code`, `title` the status's reason
/// phrase, `detail` the message, and `code`; strings escaped.
pub(crate) fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
) -> http::Response<Bytes> {
    let body = Problem {
        kind: Cow::Owned(format!("{PROBLEM_TYPE_BASE}{}", code.replace('_', "-"))),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: message,
        code,
        feature: None,
        limit: None,
        used: None,
        remaining: None,
        reset_at: None,
    };
    problem_response(status, Bytes::from(body.to_json()))
}

/// A problem details response: the only place this crate writes one.
fn problem_response(status: StatusCode, body: Bytes) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Denial::CONTENT_TYPE),
    );
    response
}

/// The wire form of every error body (RFC 9457 problem details), with a fixed member
/// order; absent members are left out.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    feature: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    used: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining: Option<i64>,
    #[serde(rename = "resetAt", skip_serializing_if = "Option::is_none")]
    reset_at: Option<String>,
}

impl Problem<'_> {
    fn to_json(&self) -> String {
        // Serializing strings and integers cannot fail; the fallback is never taken.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for Denial {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error
            .as_deref()
            .map(|error| error as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_response_is_problem_details_with_escaped_strings() {
        let response = error_response(StatusCode::BAD_REQUEST, "invalid_webhook", "bad \"sig\"");
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(
            response.body().as_ref(),
            concat!(
                r#"{"type":"https://github.com/kelviq/kelviq-rs/blob/main/docs/problems.md#invalid-webhook","#,
                r#""title":"Bad Request","status":400,"detail":"bad \"sig\"","code":"invalid_webhook"}"#
            )
            .as_bytes()
        );
    }
}
