//! The one error type of the crate.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::Value;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when calling Kelviq.
///
/// Errors never contain the access token: not in `Display`, not in `Debug`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter was refused before any request was sent.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The parameter, by its Rust name (`customer_id`, `trial_period`, ...).
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The client could not be configured (builder or environment variables).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Kelviq answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No complete response arrived within the timeout. The request may or may not have
    /// been processed.
    #[error("{method} {path} timed out")]
    Timeout {
        /// The request method.
        method: Method,
        /// The path template (`/customers/{customer_id}/`).
        path: &'static str,
    },
    /// The request could not be completed: connection refused or reset, DNS, TLS, ...
    #[error("{method} {path} failed")]
    Transport {
        /// The request method.
        method: Method,
        /// The path template.
        path: &'static str,
        /// Whether the connection could not be established at all, in which case the
        /// request was certainly not processed.
        connect: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// A success response whose body is not what the operation returns.
    #[error("{method} {path}: cannot decode the {status} response")]
    Decode {
        /// The request method.
        method: Method,
        /// The path template.
        path: &'static str,
        /// The response status.
        status: StatusCode,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The error of an upstream call that several callers waited on together (the
    /// entitlement cache makes one call for all concurrent misses of a customer).
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
    /// A webhook delivery was refused, or a webhook verifier could not be built.
    #[error(transparent)]
    Webhook(#[from] crate::webhook::WebhookError),
    /// The usage meter has shut down and takes no more usage.
    #[error("the usage meter has shut down")]
    MeterClosed,
    /// The usage meter's background task ended without a shutdown (it panicked, or its
    /// tokio runtime stopped): nothing is delivered any more, so nothing more is recorded.
    /// What it held is still in [`UsageMeter::stats`](crate::meter::UsageMeter::stats) and
    /// [`UsageMeter::shutdown`](crate::meter::UsageMeter::shutdown)'s report.
    #[error("the usage meter's background task stopped unexpectedly; usage is no longer delivered")]
    MeterStopped,
    /// The usage meter holds its maximum of pending keys (or queued events) and refused a
    /// new one; nothing was recorded. Keys already pending still take records.
    #[error("the usage meter is full ({limit} pending {what}); nothing was recorded")]
    MeterFull {
        /// `"keys"` or `"events"`.
        what: &'static str,
        /// The configured maximum ([`MeterConfig::max_keys`](crate::meter::MeterConfig::max_keys)
        /// or [`MeterConfig::max_events`](crate::meter::MeterConfig::max_events)).
        limit: usize,
    },
    /// The blocking client was used where it cannot run.
    #[cfg(feature = "blocking")]
    #[error("{0}")]
    Blocking(&'static str),
}

impl Error {
    pub(crate) fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Validation {
            field,
            reason: reason.into(),
        }
    }

    /// The error itself when this caller holds the only reference, else [`Error::Shared`].
    pub(crate) fn shared(error: std::sync::Arc<Error>) -> Self {
        std::sync::Arc::try_unwrap(error).unwrap_or_else(Error::Shared)
    }

    /// Whether trying again later may succeed: connection failures, timeouts, `429` and
    /// any `5xx`. Whether a retry is *safe* depends on the request too; see
    /// [`RetryPolicy`](crate::RetryPolicy).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => api.kind.is_retryable(),
            Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Shared(inner) => inner.is_retryable(),
            _ => false,
        }
    }

    /// Whether the request certainly did not reach Kelviq's application: the connection
    /// failed, or Kelviq refused it with `429` or `503` before processing.
    pub fn is_not_processed(&self) -> bool {
        match self {
            Error::Transport { connect, .. } => *connect,
            Error::Api(api) => matches!(api.status.as_u16(), 429 | 503),
            Error::Validation { .. } | Error::Config(_) => true,
            Error::Shared(inner) => inner.is_not_processed(),
            _ => false,
        }
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Shared(inner) => inner.is_timeout(),
            _ => false,
        }
    }

    /// The HTTP status Kelviq answered with, for [`Error::Api`] and [`Error::Decode`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Decode { status, .. } => Some(*status),
            Error::Shared(inner) => inner.status(),
            _ => None,
        }
    }

    /// The API error, if Kelviq answered with an error status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::Shared(inner) => inner.as_api(),
            _ => None,
        }
    }
}

/// What kind of error status Kelviq answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// `400`: the request was refused; the body names the fields.
    BadRequest,
    /// `401`: the access token is missing, invalid or expired.
    Unauthorized,
    /// `403`: the token does not allow this.
    Forbidden,
    /// `404`: no such object (or path).
    NotFound,
    /// `409`: the request conflicts with the current state.
    Conflict,
    /// `422`: the request was understood but cannot be processed.
    Unprocessable,
    /// `429`: too many requests; see [`ApiError::retry_after`].
    RateLimited,
    /// `5xx`: Kelviq failed.
    Server,
    /// Any other status.
    Other,
}

impl ApiErrorKind {
    /// The kind of a status code.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            422 => ApiErrorKind::Unprocessable,
            429 => ApiErrorKind::RateLimited,
            500..=599 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }

    fn is_retryable(self) -> bool {
        matches!(self, ApiErrorKind::RateLimited | ApiErrorKind::Server)
    }

    fn describe(self) -> &'static str {
        match self {
            ApiErrorKind::BadRequest => "bad request",
            ApiErrorKind::Unauthorized => "unauthorized",
            ApiErrorKind::Forbidden => "forbidden",
            ApiErrorKind::NotFound => "not found",
            ApiErrorKind::Conflict => "conflict",
            ApiErrorKind::Unprocessable => "unprocessable",
            ApiErrorKind::RateLimited => "rate limited",
            ApiErrorKind::Server => "server error",
            ApiErrorKind::Other => "unexpected status",
        }
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// An error status from Kelviq, with its parsed body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What the status means.
    pub kind: ApiErrorKind,
    /// The response body: the parsed JSON, or the raw text as a JSON string when it is not
    /// JSON, or `null` when empty.
    pub body: Value,
    /// The `Retry-After` delay the response asked for, if any.
    pub retry_after: Option<Duration>,
    /// The request method.
    pub method: Method,
    /// The path template of the request (`/customers/{customer_id}/`).
    pub path: &'static str,
}

impl ApiError {
    /// The `detail` message of a `{"detail": "..."}` body.
    pub fn detail(&self) -> Option<&str> {
        self.body.get("detail").and_then(Value::as_str)
    }

    /// The messages of a `{"field": ["message", ...]}` body, field by field.
    pub fn field_errors(&self) -> Vec<(&str, Vec<&str>)> {
        let Some(object) = self.body.as_object() else {
            return Vec::new();
        };
        object
            .iter()
            .filter_map(|(field, messages)| {
                let messages: Vec<&str> = messages
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                Some((field.as_str(), messages))
            })
            .collect()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kelviq answered {} ({}) to {} {}",
            self.status.as_u16(),
            self.kind,
            self.method,
            self.path
        )?;
        if let Some(detail) = self.detail() {
            write!(f, ": {detail}")?;
        } else {
            let fields = self.field_errors();
            for (index, (field, messages)) in fields.iter().enumerate() {
                let separator = if index == 0 { ": " } else { "; " };
                write!(f, "{separator}{field}: {}", messages.join(" "))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(status: u16, body: Value) -> ApiError {
        let status = StatusCode::from_u16(status).unwrap();
        ApiError {
            status,
            kind: ApiErrorKind::from_status(status),
            body,
            retry_after: None,
            method: Method::POST,
            path: "/customers/",
        }
    }

    #[test]
    fn display_names_the_status_and_the_messages() {
        let error = api(400, json!({"customer_id": ["This field is required."]}));
        assert_eq!(
            error.to_string(),
            "kelviq answered 400 (bad request) to POST /customers/: customer_id: This field is required."
        );
        let error = api(404, json!({"detail": "Not found."}));
        assert_eq!(
            error.to_string(),
            "kelviq answered 404 (not found) to POST /customers/: Not found."
        );
    }

    #[test]
    fn retryable_and_not_processed() {
        let limited = Error::Api(Box::new(api(429, Value::Null)));
        assert!(limited.is_retryable() && limited.is_not_processed());
        let bad_gateway = Error::Api(Box::new(api(502, Value::Null)));
        assert!(bad_gateway.is_retryable() && !bad_gateway.is_not_processed());
        let bad = Error::Api(Box::new(api(400, Value::Null)));
        assert!(!bad.is_retryable());
        assert_eq!(bad.status(), Some(StatusCode::BAD_REQUEST));
    }
}
