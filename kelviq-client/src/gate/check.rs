//! The gate itself: built once per route, asked once per request.

use std::sync::Arc;

use crate::cache::Snapshot;
use crate::client::Kelviq;
use crate::error::{ApiErrorKind, Error};

use super::builder::GateBuilder;
use super::decision::Decision;
use super::denial::Denial;
use super::metering::MeterSpec;
use super::policy::{FailurePolicy, StatusFilter};
use super::requirement::Requirement;

/// The entitlement decision of one route: what it requires, what it meters, and what to do
/// when Kelviq cannot answer. See the [module documentation](super).
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`: build it once per route with
/// [`Gate::builder`] and share it.
#[derive(Debug, Clone)]
pub struct Gate {
    inner: Arc<GateConfig>,
}

/// What a [`GateBuilder`] produced, validated.
#[derive(Debug)]
pub(super) struct GateConfig {
    pub(super) requirements: Vec<Requirement>,
    pub(super) meter: Option<MeterSpec>,
    pub(super) success: StatusFilter,
    pub(super) failure_policy: FailurePolicy,
    pub(super) limit_reached_status: u16,
}

impl Gate {
    /// A builder: no requirement, no metering, success is `2xx`, fail closed, a reached
    /// limit answers `403`.
    pub fn builder() -> GateBuilder {
        GateBuilder::default()
    }

    pub(super) fn from_config(config: GateConfig) -> Self {
        Gate {
            inner: Arc::new(config),
        }
    }

    pub(super) fn config(&self) -> &GateConfig {
        &self.inner
    }

    /// Decides whether `customer_id` may make the request.
    ///
    /// The customer's snapshot comes from [`Kelviq::entitlements_snapshot`]: from the
    /// entitlement cache when the client has one — **enable it for gating**
    /// ([`KelviqBuilder::entitlement_cache`](crate::KelviqBuilder::entitlement_cache)),
    /// otherwise every check is an upstream call. On a fresh cache hit the check copies a
    /// pointer and allocates nothing when it allows.
    ///
    /// - An empty `customer_id` → [`Deny`](Decision::Deny), `401` `missing_customer`
    ///   (adapters pass the empty string, or use [`Denial::missing_customer`], when they
    ///   find no id).
    /// - A snapshot (fresh, or stale while Kelviq is unreachable) → the requirements are
    ///   judged on it: [`Allow`](Decision::Allow) with the snapshot, or
    ///   [`Deny`](Decision::Deny) naming the first failing feature (see
    ///   [`DenialReason`](super::DenialReason)). A gate without requirements allows every
    ///   known customer.
    /// - Kelviq answers `404` (it does not know the customer) → [`Deny`](Decision::Deny),
    ///   `403` `unknown_customer`, whatever the failure policy: that is an answer, not an
    ///   outage. (A wrong edge URL also yields `404`s, so a misconfigured client refuses
    ///   every customer as unknown.)
    /// - Any other error — unreachable, timeout, `5xx`, and also `401`/`403` from Kelviq,
    ///   which mean this service's token is wrong, not that the end user did anything
    ///   wrong → the failure policy: [`Unavailable`](Decision::Unavailable) (`503`,
    ///   `kelviq_unavailable`) by default, or [`Allow`](Decision::Allow) without a snapshot
    ///   under [`FailurePolicy::Allow`]. Both log a warning with the error.
    pub async fn check(&self, kelviq: &Kelviq, customer_id: &str) -> Decision {
        if customer_id.is_empty() {
            return Decision::Deny(Denial::missing_customer());
        }
        match kelviq.entitlements_snapshot(customer_id).await {
            Ok(cached) => {
                let stale = cached.is_stale();
                self.decide(cached.into_snapshot(), stale)
            }
            Err(error) => self.on_error(error),
        }
    }

    /// The decision, if it can be made without I/O: from a fresh cached snapshot, or for
    /// an empty `customer_id`. `None` means [`Gate::check`] must be awaited (a cache miss,
    /// a stale snapshot, or a client without a cache).
    ///
    /// For middleware that answers a warm request without creating (or boxing) a future.
    /// When it returns `Some`, the decision is the one [`Gate::check`] would make.
    pub fn check_cached(&self, kelviq: &Kelviq, customer_id: &str) -> Option<Decision> {
        if customer_id.is_empty() {
            return Some(Decision::Deny(Denial::missing_customer()));
        }
        let snapshot = kelviq.cache()?.get_fresh(customer_id)?;
        tracing::trace!("entitlement cache hit");
        Some(self.decide(snapshot, false))
    }

    /// Judges the gate's requirements on a snapshot, without I/O: `Ok` when the customer
    /// meets them all. Allocates nothing when it passes.
    ///
    /// # Errors
    ///
    /// The [`Denial`] of the first failing requirement, a reached limit with the gate's
    /// [limit status](GateBuilder::limit_reached_status).
    pub fn evaluate(&self, snapshot: &Snapshot) -> Result<(), Denial> {
        for requirement in &self.inner.requirements {
            if let Err((feature, failure)) = requirement.judge(snapshot) {
                return Err(failure.denial(feature, self.inner.limit_reached_status));
            }
        }
        Ok(())
    }

    fn decide(&self, snapshot: Arc<Snapshot>, stale: bool) -> Decision {
        match self.evaluate(&snapshot) {
            Ok(()) => Decision::Allow {
                snapshot: Some(snapshot),
                stale,
            },
            Err(denial) => Decision::Deny(denial),
        }
    }

    fn on_error(&self, error: Error) -> Decision {
        if error
            .as_api()
            .is_some_and(|api| api.kind == ApiErrorKind::NotFound)
        {
            return Decision::Deny(Denial::unknown_customer());
        }
        match self.inner.failure_policy {
            FailurePolicy::Deny => {
                tracing::warn!(
                    error = %error,
                    "kelviq unavailable: refusing the request (failure policy: deny)"
                );
                Decision::Unavailable(Denial::unavailable(error))
            }
            FailurePolicy::Allow => {
                tracing::warn!(
                    error = %error,
                    "kelviq unavailable: letting the request through unchecked (failure policy: allow)"
                );
                Decision::Allow {
                    snapshot: None,
                    stale: false,
                }
            }
        }
    }

    /// The requirement clauses, all of which must pass, in the order they are judged.
    pub fn requirements(&self) -> &[Requirement] {
        &self.inner.requirements
    }

    /// What the gate does when no snapshot can be had.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.inner.failure_policy
    }

    /// The status of a [`LimitReached`](super::DenialReason::LimitReached) denial.
    pub fn limit_reached_status(&self) -> u16 {
        self.inner.limit_reached_status
    }

    /// Which response statuses count as a success for metering.
    pub fn success_statuses(&self) -> &StatusFilter {
        &self.inner.success
    }
}
