//! Why a webhook delivery was refused.

use std::time::Duration;

/// Why a webhook delivery was refused, or a verifier could not be built.
///
/// Messages never contain the secret or the expected signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The webhook secret is empty: nothing could be verified with it.
    #[error("the webhook secret is empty")]
    EmptySecret,
    /// A header is missing or empty (by its lower-case name, e.g. `webhook-id`).
    #[error("missing or empty {0} header")]
    MissingHeader(&'static str),
    /// A header value is not valid UTF-8 (by its lower-case name).
    #[error("the {0} header is not valid UTF-8")]
    InvalidHeader(&'static str),
    /// The `webhook-signature` header is not a space-separated list of
    /// `<version>,<signature>` entries with at least one `v1` signature of 64 hex digits.
    #[error("malformed webhook-signature header: {reason}")]
    InvalidSignatureFormat {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No `v1` signature matches: the delivery was not signed with this secret, or its
    /// id, timestamp or body was changed.
    #[error("webhook signature mismatch")]
    SignatureMismatch,
    /// The `webhook-timestamp` header is not an integer number of unix seconds.
    #[error("malformed webhook-timestamp header: expected unix seconds")]
    InvalidTimestamp,
    /// The delivery is authentic, but was signed too long ago or claims to come from the
    /// future: a replay, a delayed retry, or clocks that disagree.
    #[error("{}", describe_age(*age_secs, *tolerance))]
    TimestampOutOfTolerance {
        /// How many seconds before the verification time the delivery was signed;
        /// negative when its timestamp is in the future.
        age_secs: i64,
        /// The tolerance it exceeds.
        tolerance: Duration,
    },
    /// The body is not JSON (or not UTF-8).
    #[error("the webhook body is not valid JSON")]
    InvalidPayload(#[source] serde_json::Error),
}

fn describe_age(age_secs: i64, tolerance: Duration) -> String {
    let tolerance = tolerance.as_secs();
    if age_secs >= 0 {
        format!("the webhook timestamp is {age_secs}s old, beyond the {tolerance}s tolerance")
    } else {
        let ahead = age_secs.unsigned_abs();
        format!(
            "the webhook timestamp is {ahead}s in the future, beyond the {tolerance}s tolerance"
        )
    }
}
