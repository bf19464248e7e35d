//! What a gate meters after a response, through the usage meter.

use crate::cache::Snapshot;
use crate::error::Error;
use crate::meter::UsageMeter;

use super::check::Gate;

/// The feature and amount a gate meters on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MeterSpec {
    pub(super) feature: String,
    pub(super) amount: i64,
}

/// What [`Gate::after_response`] did.
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

impl Gate {
    /// Meters the request after its response: when the gate has a meter configuration
    /// ([`GateBuilder::meter`](super::GateBuilder::meter)) and `status` is a success
    /// ([`GateBuilder::success_statuses`](super::GateBuilder::success_statuses)), records
    /// `amount` — the response's own amount if it gave one (say, a value the handler put
    /// in the response extensions), else the configured one — of the configured feature
    /// through [`UsageMeter::record`].
    ///
    /// Never waits: the meter only adds to a pending total, delivered in the background,
    /// and applies the usage to the cached snapshot at once. A failure to record is logged
    /// and returned, never raised: the response is already made.
    pub fn after_response(
        &self,
        meter: &UsageMeter,
        customer_id: &str,
        status: u16,
        amount: Option<i64>,
    ) -> Metered {
        self.after_response_on(None, meter, customer_id, status, amount)
    }

    /// [`Gate::after_response`], applying the usage to the snapshot the request was gated
    /// with ([`UsageMeter::record_on`]) instead of looking it up again.
    pub fn after_response_on(
        &self,
        snapshot: Option<&Snapshot>,
        meter: &UsageMeter,
        customer_id: &str,
        status: u16,
        amount: Option<i64>,
    ) -> Metered {
        let Some(spec) = &self.config().meter else {
            return Metered::NotConfigured;
        };
        if !self.config().success.matches(status) {
            return Metered::NotSuccess;
        }
        let amount = amount.unwrap_or(spec.amount);
        if amount == 0 {
            return Metered::Zero;
        }
        match meter.record_on(snapshot, customer_id, &spec.feature, amount) {
            Ok(()) => Metered::Recorded { amount },
            Err(error) => {
                tracing::error!(
                    error = %error,
                    feature = %spec.feature,
                    amount,
                    "usage not recorded"
                );
                Metered::Failed(error)
            }
        }
    }

    /// Whether the gate meters anything at all; adapters skip reading the response's
    /// amount when it does not.
    pub fn meters(&self) -> bool {
        self.config().meter.is_some()
    }

    /// Whether a response with `status` would be metered.
    pub fn should_meter(&self, status: u16) -> bool {
        self.meters() && self.config().success.matches(status)
    }

    /// The metered feature, if any.
    pub fn metered_feature(&self) -> Option<&str> {
        self.config()
            .meter
            .as_ref()
            .map(|spec| spec.feature.as_str())
    }

    /// The configured amount metered per successful response, if the gate meters.
    pub fn metered_amount(&self) -> Option<i64> {
        self.config().meter.as_ref().map(|spec| spec.amount)
    }
}
