//! What a gate requires of a customer's entitlements, and how one feature is judged.

use std::time::Duration;

use http::StatusCode;

use crate::cache::Snapshot;
use crate::models::FeatureType;

use super::denial::Denial;

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
    /// A hard-limited meter with nothing left, until it resets (when known).
    LimitReached(Option<Duration>),
    /// Not listed.
    Unknown,
}

impl Failure {
    /// The denial about `feature`, with `limit_status` for a reached limit.
    pub(super) fn denial(self, feature: &str, limit_status: StatusCode) -> Denial {
        match self {
            Failure::NoAccess => Denial::no_access(feature),
            Failure::LimitReached(resets_in) => {
                let denial = Denial::limit_reached(feature).with_status(limit_status);
                match resets_in {
                    Some(wait) => denial.with_retry_after(wait),
                    None => denial,
                }
            }
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
        Failure::LimitReached(resets_in(&entitlement))
    } else {
        Failure::NoAccess
    })
}

/// How long until the earliest usage reset of a feature's entries (`resetAt`, UTC), if one
/// is given and in the future.
fn resets_in(entitlement: &crate::models::Entitlement) -> Option<Duration> {
    let now = jiff::Timestamp::now();
    entitlement
        .next_reset(now)
        .and_then(|reset| Duration::try_from(reset.duration_since(now)).ok())
}

/// The denial of a request refused because the feature's hard limit leaves nothing to
/// hold: [`LimitReached`](super::DenialReason::LimitReached) with `limit_status` and, when
/// the snapshot gives the reset, a `Retry-After` until it.
pub(super) fn limit_reached(
    snapshot: &Snapshot,
    feature_id: &str,
    limit_status: StatusCode,
) -> Denial {
    let resets = snapshot.get(feature_id).as_ref().and_then(resets_in);
    Failure::LimitReached(resets).denial(feature_id, limit_status)
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
    evaluate_feature_with(snapshot, feature_id, StatusCode::FORBIDDEN)
}

/// [`evaluate_feature`] with the status a reached limit answers.
pub(crate) fn evaluate_feature_with(
    snapshot: &Snapshot,
    feature_id: &str,
    limit_status: StatusCode,
) -> Result<(), Denial> {
    match judge_feature(snapshot, feature_id) {
        None => Ok(()),
        Some(failure) => Err(failure.denial(feature_id, limit_status)),
    }
}
