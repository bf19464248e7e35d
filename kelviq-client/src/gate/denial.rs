//! Why a request is refused, with the status and JSON body every framework answers with.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Error;

/// Why a gate refused a request. Each reason has a stable snake_case [code](Self::code),
/// the `error` field of the JSON body.
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
    /// The snake_case code: the `error` field of the JSON body.
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

/// A refused request: its status, and the JSON body every framework adapter answers with,
/// so that tower, axum and actix-web refuse alike. Adapters only wrap it.
///
/// The body is always the same shape, `feature` being `null` when the denial concerns no
/// single feature (missing, invalid or unknown customer, unavailable):
///
/// ```json
/// {"error": "feature_not_entitled", "message": "your plan does not include reports", "feature": "reports"}
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
///     r#"{"error":"feature_not_entitled","message":"your plan does not include reports","feature":"reports"}"#
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
}

impl Denial {
    /// The `Content-Type` of [`Denial::body_bytes`].
    pub const CONTENT_TYPE: &'static str = "application/json";

    fn new(reason: DenialReason, feature: Option<String>, message: Cow<'static, str>) -> Self {
        Denial {
            reason,
            status: reason.default_status(),
            feature,
            message,
            error: None,
            retry_after: None,
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

    /// When the client may try again, if known: how long Kelviq asked this service to
    /// back off (`503`), or until a reached limit resets.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same denial with another message for the end user (the `message` field).
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

    /// The snake_case code of the reason: the `error` field of the body.
    pub fn code(&self) -> &'static str {
        self.reason.code()
    }

    /// The feature the denial is about, if it is about one.
    pub fn feature(&self) -> Option<&str> {
        self.feature.as_deref()
    }

    /// The message for the end user: the `message` field of the body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error that made entitlements unavailable, for logging (never sent to the client).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// The JSON body: `{"error": <code>, "message": <message>, "feature": <feature or null>}`.
    pub fn body(&self) -> Value {
        json!({
            "error": self.code(),
            "message": self.message(),
            "feature": self.feature(),
        })
    }

    /// The JSON body as a string, fields in the order `error`, `message`, `feature`.
    pub fn to_json_string(&self) -> String {
        Body {
            error: self.code(),
            message: self.message(),
            feature: self.feature(),
        }
        .to_json()
    }

    /// The JSON body as bytes, ready to be a response body ([`Denial::CONTENT_TYPE`]).
    pub fn body_bytes(&self) -> Bytes {
        Bytes::from(self.to_json_string())
    }

    /// The default answer to the denial: its status, `Content-Type: application/json`,
    /// `Retry-After` when [known](Denial::retry_after), and its JSON body. Adapters answer with it (or with a gate's
    /// [denial handler](super::GateBuilder::on_denied)), converting it to their framework's
    /// response type only.
    pub fn to_response(&self) -> http::Response<Bytes> {
        let mut response = json_response(self.status, self.body_bytes());
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

/// Answers a denial instead of the default JSON ([`Denial::to_response`]); set with
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

/// The code of the error answered when an extractor finds no context: the Kelviq layer
/// or middleware is missing in front of the route.
pub const LAYER_MISSING: &str = "kelviq_layer_missing";

/// An error answer that is not a [`Denial`] (a missing layer, an invalid webhook), in the
/// same shape and with the same headers: `{"error": code, "message": message, "feature":
/// null}`, strings escaped.
///
/// ```
/// use kelviq_client::gate::error_response;
///
/// let response = error_response(http::StatusCode::BAD_REQUEST, "invalid_webhook", "bad \"sig\"");
/// assert_eq!(response.status(), 400);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// assert_eq!(
///     response.body().as_ref(),
///     br#"{"error":"invalid_webhook","message":"bad \"sig\"","feature":null}"#
/// );
/// ```
pub fn error_response(status: StatusCode, code: &str, message: &str) -> http::Response<Bytes> {
    let body = Body {
        error: code,
        message,
        feature: None,
    };
    json_response(status, Bytes::from(body.to_json()))
}

/// A JSON response: the only place this crate writes one.
fn json_response(status: StatusCode, body: Bytes) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Denial::CONTENT_TYPE),
    );
    response
}

/// The wire form of every error body, with a fixed field order.
#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    feature: Option<&'a str>,
}

impl Body<'_> {
    fn to_json(&self) -> String {
        // Serializing three strings cannot fail; the fallback is never taken.
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
