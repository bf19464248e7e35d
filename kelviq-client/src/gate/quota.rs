//! [`Quota`]: what a hard-limited feature leaves a customer, counted without I/O, and its
//! `RateLimit-Policy` / `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-11).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use http::{HeaderName, HeaderValue};

use crate::cache::QuotaCounts;

/// The `RateLimit-Policy` field name: each quota policy (`"<feature>";q=<limit>;w=<window>`).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The `RateLimit` field name: what each policy leaves (`"<feature>";r=<remaining>;t=<reset>`).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The largest integer a structured field carries (RFC 9651, 15 digits): larger counts
/// are sent as this.
const SF_INTEGER_MAX: i64 = 999_999_999_999_999;

/// What a hard-limited feature leaves a customer at one moment, counted from the
/// snapshot and the usage ledger without any I/O:
///
/// ```text
/// remaining = limit − (Kelviq's usage + usage not delivered yet + units held by requests in flight)
/// ```
///
/// at least 0. The gate's [quota headers](super::GateBuilder::quota_headers) and the
/// problem details of a [`LimitReached`](super::DenialReason::LimitReached) denial
/// ([`Denial::quota`](super::Denial::quota)) are written from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: i64,
    used: i64,
    remaining: i64,
    reset_at: Option<jiff::Timestamp>,
}

impl Quota {
    /// The quota of `counts`: remaining is the limit less the usage and the holds.
    pub(crate) fn from_counts(counts: QuotaCounts) -> Self {
        Quota {
            limit: counts.limit,
            used: counts.used.max(0),
            remaining: counts
                .limit
                .saturating_sub(counts.used)
                .saturating_sub(counts.held)
                .max(0),
            reset_at: counts.reset_at,
        }
    }

    /// A quota used up: `remaining` 0 (a reached limit judged on an entitlement).
    pub(crate) fn exhausted(limit: i64, used: i64, reset_at: Option<jiff::Timestamp>) -> Self {
        Quota {
            limit,
            used: used.max(0),
            remaining: 0,
            reset_at,
        }
    }

    /// The limit of the period.
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// The usage of the period: Kelviq's at the fetch plus what this process recorded
    /// since (delivered or not). Units held by requests in flight are not usage yet.
    pub fn used(&self) -> i64 {
        self.used
    }

    /// The units a new request may still take: the limit less the usage and the units
    /// held by requests in flight; at least 0.
    pub fn remaining(&self) -> i64 {
        self.remaining
    }

    /// When the period resets (Kelviq's `resetAt`), if known and ahead.
    pub fn reset_at(&self) -> Option<SystemTime> {
        self.reset_at.map(SystemTime::from)
    }

    /// How long until the period resets, from now; `None` when unknown or past.
    pub fn resets_in(&self) -> Option<Duration> {
        let reset = self.reset_at?;
        Duration::try_from(reset.duration_since(jiff::Timestamp::now()))
            .ok()
            .filter(|wait| !wait.is_zero())
    }

    /// `resetAt` as an RFC 3339 UTC timestamp (`2026-01-01T00:00:00Z`), for the problem
    /// details.
    pub(crate) fn reset_at_rfc3339(&self) -> Option<String> {
        self.reset_at.map(|reset| reset.to_string())
    }

    /// Whole seconds until the reset, rounded up.
    fn reset_seconds(&self) -> Option<i64> {
        self.resets_in().map(|wait| {
            let seconds = wait
                .as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0));
            i64::try_from(seconds).unwrap_or(i64::MAX)
        })
    }

    /// The `RateLimit-Policy` and `RateLimit` fields of this quota for `feature`, as
    /// draft-ietf-httpapi-ratelimit-headers-11 defines them: one policy item named by the
    /// feature ([`policy_name`]),
    ///
    /// ```text
    /// RateLimit-Policy: "<feature>";q=<limit>;w=<window seconds>
    /// RateLimit: "<feature>";r=<remaining>;t=<seconds to reset>
    /// ```
    ///
    /// Kelviq's entitlements carry the period's end (`resetAt`) but not its length, so
    /// the window `w` is the time left in the period, as `t` is; both are left out when
    /// the reset is unknown. The quota is in the feature's units (`qu` is not sent: a
    /// gate metering one unit per request counts requests, the draft's default). Integers
    /// larger than a structured field carries (15 digits) are sent as its largest.
    ///
    /// ```
    /// # use kelviq_client::gate::{RATELIMIT, RATELIMIT_POLICY};
    /// // From a gate: `gate.quota_headers(&context, 200)`; the values look like
    /// // ratelimit-policy: "api-calls";q=100;w=2419200
    /// // ratelimit: "api-calls";r=42;t=2419200
    /// assert_eq!(RATELIMIT_POLICY.as_str(), "ratelimit-policy");
    /// assert_eq!(RATELIMIT.as_str(), "ratelimit");
    /// ```
    pub fn headers(&self, feature: &str) -> [(HeaderName, HeaderValue); 2] {
        let name = policy_name(feature);
        let reset = self.reset_seconds();
        let mut policy = format!("{name};q={}", sf_integer(self.limit));
        let mut current = format!("{name};r={}", sf_integer(self.remaining));
        if let Some(reset) = reset {
            let _ = write!(policy, ";w={}", sf_integer(reset.max(1)));
            let _ = write!(current, ";t={}", sf_integer(reset));
        }
        [
            (RATELIMIT_POLICY, header_value(policy)),
            (RATELIMIT, header_value(current)),
        ]
    }
}

/// A count as a structured-field integer: clamped to `0..=999_999_999_999_999`.
fn sf_integer(value: i64) -> i64 {
    value.clamp(0, SF_INTEGER_MAX)
}

/// A field value made of visible ASCII and spaces ([`policy_name`] and integers).
fn header_value(value: String) -> HeaderValue {
    // Every byte is 0x20..=0x7E: the conversion cannot fail; the fallback is never taken.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("\"\";q=0"))
}

/// The name of a feature's policy in the `RateLimit-Policy` and `RateLimit` fields: the
/// feature id as a structured-field string (`sf-string`, RFC 9651 §3.3.3), which holds
/// printable ASCII only.
///
/// - `"` and `\` are escaped with a `\`;
/// - `%`, and every byte outside printable ASCII (`0x20..=0x7E`: control characters,
///   and each byte of a non-ASCII character's UTF-8), are percent-encoded as `%XX`
///   (uppercase hex), as gRPC encodes `grpc-message`; so `é` is `%C3%A9`, and a client
///   that percent-decodes the name gets the feature id back.
///
/// ```
/// use kelviq_client::gate::policy_name;
///
/// assert_eq!(policy_name("api-calls"), r#""api-calls""#);
/// assert_eq!(policy_name(r#"a"b\c"#), r#""a\"b\\c""#);
/// assert_eq!(policy_name("100%é\n"), r#""100%25%C3%A9%0A""#);
/// ```
pub fn policy_name(feature: &str) -> String {
    let mut name = String::with_capacity(feature.len() + 2);
    name.push('"');
    for byte in feature.bytes() {
        match byte {
            b'"' | b'\\' => {
                name.push('\\');
                name.push(char::from(byte));
            }
            b'%' => name.push_str("%25"),
            0x20..=0x7E => name.push(char::from(byte)),
            _ => {
                let _ = write!(name, "%{byte:02X}");
            }
        }
    }
    name.push('"');
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limit: i64, used: i64, held: i64, reset_in: Option<i64>) -> Quota {
        Quota::from_counts(QuotaCounts {
            limit,
            used,
            held,
            reset_at: reset_in.map(|seconds| {
                jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(seconds))
                    .unwrap()
            }),
        })
    }

    #[test]
    fn remaining_counts_usage_and_holds_and_never_goes_below_zero() {
        assert_eq!(quota(100, 30, 5, None).remaining(), 65);
        assert_eq!(quota(3, 3, 1, None).remaining(), 0);
        assert_eq!(quota(i64::MAX, -5, i64::MAX, None).remaining(), 0);
    }

    #[test]
    fn headers_leave_out_the_window_without_a_reset_and_clamp_integers() {
        let [(policy_name_, policy), (current_name, current)] =
            quota(i64::MAX, 0, 0, None).headers("f");
        assert_eq!(policy_name_, RATELIMIT_POLICY);
        assert_eq!(current_name, RATELIMIT);
        assert_eq!(policy, "\"f\";q=999999999999999");
        assert_eq!(current, "\"f\";r=999999999999999");
        let [(_, policy), (_, current)] = quota(10, 4, 0, Some(90)).headers("f");
        let policy = policy.to_str().unwrap();
        let current = current.to_str().unwrap();
        assert!(policy.starts_with("\"f\";q=10;w="), "{policy}");
        assert!(current.starts_with("\"f\";r=6;t="), "{current}");
    }
}
