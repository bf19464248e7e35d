//! When and how long to wait before trying a request again.

use std::time::Duration;

use http::Method;

use crate::error::Error;

/// Bounded exponential backoff with full jitter, honouring `Retry-After`.
///
/// # What is retried
///
/// A failed attempt is retried, while attempts remain, when Kelviq certainly did not
/// process it, or when processing it twice is harmless:
///
/// | failure | `GET`, `DELETE`, or a request with an idempotency key | other requests (`POST`, `PATCH`) |
/// |---|---|---|
/// | connection refused / not established | retried | retried |
/// | `429 Too Many Requests` | retried | retried |
/// | `503 Service Unavailable` | retried | retried |
/// | `502`, `504` | retried | **not** retried |
/// | timeout, connection dropped mid-request | retried | **not** retried |
/// | any other status | not retried | not retried |
///
/// A `POST` whose outcome is unknown (timeout, dropped connection, `502`/`504` from a
/// gateway) may have been applied: replaying it could count usage twice, so the error is
/// returned instead. `report_event` carries an idempotency key and is therefore retried.
/// `429` and `503` are taken to mean "refused before processing". Replaying an event
/// relies on Kelviq honouring its idempotency key, which the event API carries but the
/// official SDK never exercises. A replayed `DELETE` (archiving a customer) whose first
/// attempt did apply answers `404`.
///
/// # How long to wait
///
/// Before retry `n` (from 0) the client sleeps a random duration between zero and
/// `min(max_backoff, initial_backoff × 2ⁿ)` ("full jitter"). When the response carries
/// `Retry-After` (seconds), the client waits exactly that long instead — unless it exceeds
/// [`max_retry_after`](RetryPolicy::max_retry_after), in which case the error is returned
/// at once rather than blocking the caller.
///
/// ```
/// use std::time::Duration;
/// use kelviq_client::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(4)
///     .initial_backoff(Duration::from_millis(50))
///     .max_backoff(Duration::from_secs(2));
/// assert_eq!(policy.max_retries_value(), 4);
/// assert_eq!(RetryPolicy::none().max_retries_value(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

/// The longest wait any retry setting takes; longer ones are cut to it.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

impl Default for RetryPolicy {
    /// 2 retries (3 attempts), 100 ms initial backoff, 2 s maximum backoff, `Retry-After`
    /// honoured up to 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is returned at once.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How many times a request may be retried after its first attempt (default 2).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff ceiling before the first retry, doubled for each later one (default
    /// 100 ms; at most an hour).
    #[must_use]
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff.min(MAX_WAIT);
        self
    }

    /// The largest backoff ceiling (default 2 s; at most an hour).
    #[must_use]
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff.min(MAX_WAIT);
        self
    }

    /// The longest `Retry-After` the client waits for; a longer one ends the retries
    /// (default 30 s; at most an hour).
    #[must_use]
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait.min(MAX_WAIT);
        self
    }

    /// The configured number of retries.
    pub fn max_retries_value(&self) -> u32 {
        self.max_retries
    }

    /// How long to wait before retry number `retry` (from 0) after `error`, or `None` when
    /// the request must not be retried.
    pub(crate) fn delay(
        &self,
        retry: u32,
        error: &Error,
        method: &Method,
        replay_safe: bool,
    ) -> Option<Duration> {
        if retry >= self.max_retries || !may_retry(error, method, replay_safe) {
            return None;
        }
        if let Some(wait) = error.as_api().and_then(|api| api.retry_after) {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(fastrand::u64(0..=nanos)))
    }
}

/// The table of [`RetryPolicy`]'s documentation.
fn may_retry(error: &Error, method: &Method, replay_safe: bool) -> bool {
    let safe = replay_safe || *method == Method::GET || *method == Method::DELETE;
    match error {
        Error::Transport { connect: true, .. } => true,
        Error::Transport { .. } | Error::Timeout { .. } => safe,
        Error::Api(api) => match api.status.as_u16() {
            429 | 503 => true,
            502 | 504 => safe,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, ApiErrorKind};
    use http::StatusCode;

    fn status(code: u16, retry_after: Option<Duration>) -> Error {
        let status = StatusCode::from_u16(code).unwrap();
        Error::Api(Box::new(ApiError {
            status,
            kind: ApiErrorKind::from_status(status),
            body: serde_json::Value::Null,
            retry_after,
            method: Method::POST,
            path: "/x/",
        }))
    }

    fn timeout() -> Error {
        Error::Timeout {
            method: Method::POST,
            path: "/x/",
        }
    }

    #[test]
    fn the_table() {
        let policy = RetryPolicy::default();
        let post = Method::POST;
        let get = Method::GET;
        assert!(policy.delay(0, &status(503, None), &post, false).is_some());
        assert!(policy.delay(0, &status(429, None), &post, false).is_some());
        assert!(policy.delay(0, &status(502, None), &post, false).is_none());
        assert!(policy.delay(0, &status(502, None), &get, false).is_some());
        assert!(policy.delay(0, &status(504, None), &post, true).is_some());
        assert!(policy.delay(0, &timeout(), &post, false).is_none());
        assert!(policy.delay(0, &timeout(), &post, true).is_some());
        assert!(
            policy
                .delay(0, &timeout(), &Method::DELETE, false)
                .is_some()
        );
        assert!(policy.delay(0, &status(500, None), &get, false).is_none());
        assert!(policy.delay(0, &status(400, None), &get, false).is_none());
    }

    #[test]
    fn attempts_are_bounded_and_backoff_is_capped() {
        let policy = RetryPolicy::default()
            .max_retries(3)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(250));
        let error = status(503, None);
        for retry in 0..3 {
            let delay = policy.delay(retry, &error, &Method::GET, false).unwrap();
            assert!(delay <= Duration::from_millis(250), "{delay:?}");
        }
        assert!(policy.delay(3, &error, &Method::GET, false).is_none());
        assert!(
            RetryPolicy::none()
                .delay(0, &error, &Method::GET, false)
                .is_none()
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_limit() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(5));
        let short = status(429, Some(Duration::from_secs(2)));
        assert_eq!(
            policy.delay(0, &short, &Method::POST, false),
            Some(Duration::from_secs(2))
        );
        let long = status(429, Some(Duration::from_secs(60)));
        assert_eq!(policy.delay(0, &long, &Method::POST, false), None);
    }
}
