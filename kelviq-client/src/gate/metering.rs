//! What a gate meters after a response, through the usage meter.

use crate::error::Error;

/// The feature and amount a gate meters on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MeterSpec {
    pub(super) feature: String,
    pub(super) amount: i64,
    /// Whether the feature's hard limit is enforced (units held at admission); off only
    /// with [`GateBuilder::unenforced_limit`](super::GateBuilder::unenforced_limit).
    pub(super) enforce: bool,
}

/// What [`Gate::finish`](super::Gate::finish) did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Metered {
    /// The amount was handed to the usage meter (which sends it in the background).
    Recorded {
        /// The units recorded.
        amount: i64,
    },
    /// The gate meters nothing.
    NotConfigured,
    /// The response status is not a success for this gate.
    NotSuccess,
    /// The amount is zero: nothing to record.
    Zero,
    /// The per-response amount ([`UsageAmount`](super::UsageAmount) or
    /// [`RequestContext::set_usage_amount`](super::RequestContext::set_usage_amount)) is
    /// negative: refused, logged at `warn` and counted in
    /// [`MeterStats::refused_amounts`](crate::meter::MeterStats::refused_amounts); nothing
    /// was recorded.
    Refused {
        /// The amount refused.
        amount: i64,
    },
    /// The amount asked for ([`UsageAmount`](super::UsageAmount) or
    /// [`RequestContext::set_usage_amount`](super::RequestContext::set_usage_amount)) was
    /// more than the request held of the feature's hard limit (its admission's hold plus
    /// what [`RequestContext::reserve`](super::RequestContext::reserve) granted): the hold
    /// was recorded, the rest refused — logged at `warn`, counted in
    /// [`MeterStats::over_hold`](crate::meter::MeterStats::over_hold). A hard limit is
    /// never passed by an amount chosen after the fact.
    Capped {
        /// The units recorded: the request's hold.
        amount: i64,
        /// The units asked for.
        asked: i64,
    },
    /// The meter refused the usage ([`Error::MeterClosed`] after shutdown,
    /// [`Error::MeterStopped`] once its task is gone, [`Error::MeterFull`] at its key cap,
    /// [`Error::Validation`] for an empty customer id); it was logged at `error` level.
    Failed(Error),
}

impl Metered {
    /// Whether usage was recorded.
    pub fn is_recorded(&self) -> bool {
        matches!(self, Metered::Recorded { .. } | Metered::Capped { .. })
    }
}
