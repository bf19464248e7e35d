//! What a gate does when Kelviq cannot answer, and which response statuses count as a
//! success worth metering.

use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

use super::fallback::Fallback;

/// What a gate decides when no usable entitlement snapshot can be had: Kelviq unreachable,
/// timing out, failing or rate limiting, and no fresh or stale-but-usable snapshot in the
/// cache (a known customer with a snapshot inside its stale window is answered from it
/// whatever the policy).
///
/// [`FailurePolicy::Deny`] (the default) for strict authorization (`503` with
/// `Retry-After`); [`FailurePolicy::fallback`] to keep serving on entitlements configured
/// in code, marked degraded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Refuse the request as unavailable (`503`, code `kelviq_unavailable`, with
    /// `Retry-After`): fail closed. The default.
    #[default]
    Deny,
    /// Let the request through without a snapshot, and log a warning: fail open.
    Allow,
    /// Decide on these entitlements, configured in code; the decision is degraded (see
    /// [`Fallback`]).
    Fallback(Arc<Fallback>),
}

impl FailurePolicy {
    /// Decide on `fallback` while Kelviq cannot be reached: [`FailurePolicy::Fallback`],
    /// without spelling its `Arc`.
    pub fn fallback(fallback: Fallback) -> Self {
        FailurePolicy::Fallback(Arc::new(fallback))
    }
}

/// Which response statuses count as a success, after which a gate meters usage.
///
/// Built from a range or a function as well:
///
/// ```
/// use kelviq_client::gate::StatusFilter;
///
/// let created = StatusFilter::from(200..=201);
/// assert!(created.matches(201) && !created.matches(204));
/// let not_a_server_error = StatusFilter::Custom(|status| status < 500);
/// assert!(not_a_server_error.matches(404));
/// assert!(StatusFilter::default().matches(204));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum StatusFilter {
    /// `200..=299`. The default.
    #[default]
    Success2xx,
    /// The statuses of an inclusive range (not empty).
    Range(RangeInclusive<u16>),
    /// The statuses for which the function returns `true`.
    Custom(fn(u16) -> bool),
}

impl StatusFilter {
    /// Whether `status` counts as a success.
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusFilter::Success2xx => (200..=299).contains(&status),
            StatusFilter::Range(range) => range.contains(&status),
            StatusFilter::Custom(filter) => filter(status),
        }
    }

    /// Whether the filter can match nothing at all (an empty range).
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, StatusFilter::Range(range) if range.is_empty())
    }
}

impl From<RangeInclusive<u16>> for StatusFilter {
    fn from(range: RangeInclusive<u16>) -> Self {
        StatusFilter::Range(range)
    }
}

impl From<Range<u16>> for StatusFilter {
    /// The same statuses as an inclusive range; an empty range stays empty.
    fn from(range: Range<u16>) -> Self {
        if range.is_empty() {
            StatusFilter::Range(RangeInclusive::new(1, 0))
        } else {
            StatusFilter::Range(range.start..=range.end.saturating_sub(1))
        }
    }
}

impl From<fn(u16) -> bool> for StatusFilter {
    fn from(filter: fn(u16) -> bool) -> Self {
        StatusFilter::Custom(filter)
    }
}
