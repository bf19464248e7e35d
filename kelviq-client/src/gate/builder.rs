//! Builds a [`Gate`]: setters never fail, `build` reports the first bad value.

use crate::error::{Error, Result};

use super::check::{Gate, GateConfig};
use super::metering::MeterSpec;
use super::policy::{FailurePolicy, StatusFilter};
use super::requirement::Requirement;

/// Builds a [`Gate`]; from [`Gate::builder`].
///
/// Setters take and return the builder and never fail: a bad value is kept and returned
/// by [`build`](GateBuilder::build), the first one if there are several.
///
/// ```
/// # fn main() -> Result<(), kelviq_client::Error> {
/// use kelviq_client::gate::{FailurePolicy, Gate};
///
/// let exports = Gate::builder()
///     .require("reports")
///     .require_any(["exports-csv", "exports-xlsx"])
///     .meter("api-calls", 1)
///     .success_statuses(200..=201)
///     .failure_policy(FailurePolicy::Allow)
///     .limit_reached_status(429)
///     .build()?;
/// assert_eq!(exports.requirements().len(), 2);
/// assert!(Gate::builder().require("").build().is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct GateBuilder {
    requirements: Vec<Requirement>,
    meter: Option<MeterSpec>,
    success: StatusFilter,
    failure_policy: FailurePolicy,
    limit_reached_status: u16,
    /// The first bad value, shared so that the builder can be cloned.
    error: Option<std::sync::Arc<Error>>,
}

impl Default for GateBuilder {
    fn default() -> Self {
        GateBuilder {
            requirements: Vec::new(),
            meter: None,
            success: StatusFilter::default(),
            failure_policy: FailurePolicy::default(),
            limit_reached_status: 403,
            error: None,
        }
    }
}

impl GateBuilder {
    /// Keeps `error` unless an earlier one is already kept.
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(std::sync::Arc::new(error));
    }

    /// Checks a feature id (not empty) and keeps it.
    fn feature(&mut self, field: &'static str, feature: String) -> String {
        if feature.is_empty() {
            self.fail(Error::validation(field, "a feature id must not be empty"));
        }
        feature
    }

    /// Requires the customer to be entitled to `feature`. Several calls require all of
    /// them. Default: nothing is required.
    pub fn require(mut self, feature: impl Into<String>) -> Self {
        let feature = self.feature("require", feature.into());
        self.requirements.push(Requirement::Feature(feature));
        self
    }

    /// Requires the customer to be entitled to every one of `features`, judged in order (the
    /// first failing one decides the denial). An empty list adds nothing.
    pub fn require_all<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        for feature in features {
            self = self.require(feature);
        }
        self
    }

    /// Requires the customer to be entitled to at least one of `features`. When none
    /// passes, the denial is the one of the first feature listed. Each call adds one such
    /// clause, in addition to the others. An empty list is an error at
    /// [`build`](GateBuilder::build).
    pub fn require_any<I>(mut self, features: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let features: Vec<String> = features
            .into_iter()
            .map(|feature| self.feature("require_any", feature.into()))
            .collect();
        if features.is_empty() {
            self.fail(Error::validation(
                "require_any",
                "needs at least one feature id",
            ));
        }
        self.requirements.push(Requirement::AnyOf(features));
        self
    }

    /// Meters `amount` of `feature` after each successful response (see
    /// [`Gate::after_response`]); the response may override the amount. The feature need
    /// not be a required one. A later call replaces an earlier one. Default: no metering.
    /// The amount must not be negative; `0` records nothing unless the response gives an
    /// amount.
    pub fn meter(mut self, feature: impl Into<String>, amount: i64) -> Self {
        let feature = self.feature("meter", feature.into());
        if amount < 0 {
            self.fail(Error::validation(
                "meter",
                format!("the amount must not be negative, got {amount}"),
            ));
        }
        self.meter = Some(MeterSpec { feature, amount });
        self
    }

    /// Which response statuses count as a success, after which usage is metered: a range
    /// (`200..=201`), or [`StatusFilter::Custom`] with a function. Default:
    /// [`StatusFilter::Success2xx`]. An empty range is an error at
    /// [`build`](GateBuilder::build).
    pub fn success_statuses(mut self, filter: impl Into<StatusFilter>) -> Self {
        let filter = filter.into();
        if filter.is_empty() {
            self.fail(Error::Config(
                "gate success statuses: the range is empty".to_owned(),
            ));
        }
        self.success = filter;
        self
    }

    /// What to do when no entitlement snapshot can be had. Default:
    /// [`FailurePolicy::Deny`] (`503`).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// The status of a denial because a hard usage limit is reached; `402` and `429` are
    /// common choices. Must be within `400..=599`. Default: `403`.
    pub fn limit_reached_status(mut self, status: u16) -> Self {
        if !(400..=599).contains(&status) {
            self.fail(Error::Config(format!(
                "gate limit reached status must be within 400..=599, got {status}"
            )));
        }
        self.limit_reached_status = status;
        self
    }

    /// Builds the gate.
    ///
    /// # Errors
    ///
    /// The first bad value given: [`Error::Validation`] for an empty feature id
    /// (`require`, `require_any`, `meter`), an empty any-of list or a negative meter
    /// amount; [`Error::Config`] for a limit status outside `400..=599` or an empty
    /// success range.
    pub fn build(self) -> Result<Gate> {
        if let Some(error) = self.error {
            return Err(Error::shared(error));
        }
        Ok(Gate::from_config(GateConfig {
            requirements: self.requirements,
            meter: self.meter,
            success: self.success,
            failure_policy: self.failure_policy,
            limit_reached_status: self.limit_reached_status,
        }))
    }
}
