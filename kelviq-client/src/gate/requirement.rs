//! What a gate requires of a customer's entitlements, and how one feature is judged.

use std::time::Duration;

use http::StatusCode;

use crate::cache::Snapshot;
use crate::models::FeatureType;

use super::denial::Denial;
use super::quota::Quota;

/// How long a reached limit's `Retry-After` may be by default: a reset further away is
/// told in the `RateLimit` field and the problem details only.
pub(crate) const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// How a gate answers a reached limit: its status, and the longest wait it sends as
/// `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitAnswer {
    pub(crate) status: StatusCode,
    pub(crate) max_retry_after: Duration,
}

impl Default for LimitAnswer {
    fn default() -> Self {
        LimitAnswer {
            status: StatusCode::FORBIDDEN,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl LimitAnswer {
    /// The denial of a reached limit of `feature` with `quota`'s counts, when known:
    /// `Retry-After` only when the reset is within the maximum.
    pub(crate) fn denial(self, feature: &str, quota: Option<Quota>) -> Denial {
        let denial = Denial::limit_reached(feature).with_status(self.status);
        let Some(quota) = quota else {
            return denial;
        };
        let denial = match quota.resets_in() {
            Some(wait) if wait <= self.max_retry_after => denial.with_retry_after(wait),
            _ => denial,
        };
        denial.with_quota(quota)
    }
}

/// One clause of a gate's requirement. A gate allows a request when every clause passes,
/// and the first failing clause decides the denial.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// The customer must be entitled to this feature.
    Feature(String),
    /// The customer must be entitled to at least one of these features (never empty).
    /// When none passes, the denial is the first feature's.
    AnyOf(Vec<String>),
}

impl Requirement {
    /// Judges the clause: `Ok` when it passes, else the failing feature and why. Allocates
    /// nothing.
    pub(super) fn judge(&self, snapshot: &Snapshot) -> Result<(), (&str, Failure)> {
        match self {
            Requirement::Feature(feature) => match judge_feature(snapshot, feature) {
                None => Ok(()),
                Some(failure) => Err((feature, failure)),
            },
            Requirement::AnyOf(features) => {
                let mut first = None;
                for feature in features {
                    match judge_feature(snapshot, feature) {
                        None => return Ok(()),
                        Some(failure) => {
                            first.get_or_insert((feature.as_str(), failure));
                        }
                    }
                }
                first.map_or(Ok(()), Err)
            }
        }
    }
}

/// Why one feature fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// Listed, without access.
    NoAccess,
    /// A hard-limited meter with nothing left: its counts, when known.
    LimitReached(Option<Quota>),
    /// Not listed.
    Unknown,
}

impl Failure {
    /// The denial about `feature`, a reached limit answered as `limits` says.
    pub(super) fn denial(self, feature: &str, limits: LimitAnswer) -> Denial {
        match self {
            Failure::NoAccess => Denial::no_access(feature),
            Failure::LimitReached(quota) => limits.denial(feature, quota),
            Failure::Unknown => Denial::unknown_feature(feature),
        }
    }
}

/// Judges one feature: `None` when the customer may use it.
///
/// - not in the snapshot → unknown;
/// - in it with access → passes;
/// - in it without access, a meter with a hard limit and nothing remaining → limit reached;
/// - otherwise → no access.
fn judge_feature(snapshot: &Snapshot, feature_id: &str) -> Option<Failure> {
    // The allowed path reads the snapshot in place; only a denial builds the entitlement.
    if snapshot.has_access(feature_id) {
        return None;
    }
    let Some(entitlement) = snapshot.get(feature_id) else {
        return Some(Failure::Unknown);
    };
    if entitlement.has_access() {
        return None;
    }
    let limit_reached = matches!(entitlement.feature_type(), Some(FeatureType::Meter))
        && entitlement.hard_limit()
        && entitlement.remaining() == Some(0);
    Some(if limit_reached {
        Failure::LimitReached(entitlement.limit().map(|limit| {
            Quota::exhausted(
                limit,
                entitlement.usage().unwrap_or(0),
                entitlement.next_reset(jiff::Timestamp::now()),
            )
        }))
    } else {
        Failure::NoAccess
    })
}

/// Judges one feature of a snapshot as a gate requiring it would: `Ok` when the customer
/// may use it, else the denial (a reached limit with status `403`).
///
/// For code that already holds a snapshot — an extractor reading the one a middleware
/// stored, a guard — and must refuse exactly as a [`Gate`](super::Gate) would.
///
/// # Errors
///
/// The [`Denial`]: [`UnknownFeature`](super::DenialReason::UnknownFeature) when the
/// snapshot does not list the feature, [`LimitReached`](super::DenialReason::LimitReached)
/// for a hard-limited meter with nothing left, [`NoAccess`](super::DenialReason::NoAccess)
/// otherwise.
pub fn evaluate_feature(snapshot: &Snapshot, feature_id: &str) -> Result<(), Denial> {
    evaluate_feature_with(snapshot, feature_id, LimitAnswer::default())
}

/// [`evaluate_feature`] with the gate's answer to a reached limit.
pub(crate) fn evaluate_feature_with(
    snapshot: &Snapshot,
    feature_id: &str,
    limits: LimitAnswer,
) -> Result<(), Denial> {
    match judge_feature(snapshot, feature_id) {
        None => Ok(()),
        Some(failure) => Err(failure.denial(feature_id, limits)),
    }
}
