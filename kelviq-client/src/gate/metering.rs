//! What a gate meters after a response, through the usage meter.

use crate::error::Error;

/// The feature and amount a gate meters on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MeterSpec {
    pub(super) feature: String,
    pub(super) amount: i64,
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
    /// The meter refused the usage ([`Error::MeterClosed`] after shutdown,
    /// [`Error::Validation`] for an empty customer id); it was logged at `error` level.
    Failed(Error),
}

impl Metered {
    /// Whether usage was recorded.
    pub fn is_recorded(&self) -> bool {
        matches!(self, Metered::Recorded { .. })
    }
}
