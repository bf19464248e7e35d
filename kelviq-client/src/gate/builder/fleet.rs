//! [`GateBuilder::fleet_limits`] (cargo feature `redis`).

use std::sync::Arc;

use super::GateBuilder;
use crate::error::{Error, Result};
use crate::fleet::{Fleet, FleetLimits};

impl GateBuilder {
    /// How the metered feature's hard limit holds across the client's fleet (see
    /// [`FleetLimits`]). Default: each instance judges it on its own snapshot. Needs a
    /// client built with a [fleet](crate::KelviqBuilder::fleet) and a metered gate
    /// ([`meter`](Self::meter)), else [`build`](Self::build) fails.
    pub fn fleet_limits(mut self, limits: FleetLimits) -> Self {
        self.fleet_limits = Some(limits);
        self
    }

    /// The fleet the gate's limit is shared through, and how, if the gate asks for shared
    /// limits and can have them.
    pub(super) fn checked_fleet_limits(&self) -> Result<Option<(FleetLimits, Arc<Fleet>)>> {
        let Some(limits) = self.fleet_limits else {
            return Ok(None);
        };
        let Some(fleet) = self.kelviq.inner.fleet.clone() else {
            return Err(Error::Config(
                "gate fleet_limits needs a client built with a fleet (KelviqBuilder::fleet)"
                    .to_owned(),
            ));
        };
        if self.metering.is_none() {
            return Err(Error::Config(
                "gate fleet_limits needs a metered gate (GateBuilder::meter)".to_owned(),
            ));
        }
        Ok(Some((limits, fleet)))
    }
}
