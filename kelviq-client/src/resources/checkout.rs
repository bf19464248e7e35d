//! `kelviq.checkout()`: hosted checkout sessions that sell a plan.

use http::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{customer_id, positive, positive_amount, require};
use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request};
use crate::models::{ChargePeriod, CheckoutSession, FeatureQuantity, TaxBehavior};

/// Handle for checkout sessions.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`CheckoutApi::create_session`]. Sent camelCase: `offeringId`,
/// `planIdentifier`, `pricingTableId`, `ipAddress`, `ruleId`, `chargePeriod`, `customerId`,
/// `features`, `successUrl`, `trialPeriod`, `currencyCode`, `customAmount`, `taxBehavior`,
/// `discountsEnabled`, `lockEmail`, `defaultBillingCountry`, `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct CreateCheckoutSession {
    #[serde(skip_serializing_if = "Option::is_none")]
    offering_id: Option<String>,
    plan_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing_table_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    charge_period: ChargePeriod,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<Vec<FeatureQuantity>>,
    success_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial_period: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tax_behavior: Option<TaxBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discounts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_billing_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
}

impl CreateCheckoutSession {
    /// A session selling a plan (required, non-empty) charged every `charge_period`, which
    /// returns the customer to `success_url` (required, non-empty) once paid.
    pub fn new(
        plan_identifier: impl Into<String>,
        charge_period: ChargePeriod,
        success_url: impl Into<String>,
    ) -> Self {
        CreateCheckoutSession {
            offering_id: None,
            plan_identifier: plan_identifier.into(),
            pricing_table_id: None,
            ip_address: None,
            rule_id: None,
            charge_period,
            customer_id: None,
            features: None,
            success_url: success_url.into(),
            trial_period: None,
            currency_code: None,
            custom_amount: None,
            tax_behavior: None,
            discounts_enabled: None,
            lock_email: None,
            default_billing_country: None,
            metadata: None,
        }
    }

    /// The offering the plan is taken from (default: none).
    pub fn offering_id(mut self, offering_id: impl Into<String>) -> Self {
        self.offering_id = Some(offering_id.into());
        self
    }

    /// The pricing table the plan is taken from (default: none).
    pub fn pricing_table_id(mut self, pricing_table_id: impl Into<String>) -> Self {
        self.pricing_table_id = Some(pricing_table_id.into());
        self
    }

    /// The buyer's IP address, for tax location (default: none).
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }

    /// The pricing rule to apply (default: none).
    pub fn rule_id(mut self, rule_id: impl Into<String>) -> Self {
        self.rule_id = Some(rule_id.into());
        self
    }

    /// Your id for the buyer (default: none; the service then creates a customer when the
    /// checkout completes).
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }

    /// Quantities of the plan's features (default: the plan's).
    pub fn features(mut self, features: Vec<FeatureQuantity>) -> Self {
        self.features = Some(features);
        self
    }

    /// A free trial of this many days, at least 1 (default: none).
    pub fn trial_period(mut self, days: u32) -> Self {
        self.trial_period = Some(days);
        self
    }

    /// The three-letter currency code, which the service requires with a custom amount
    /// (default: the plan's).
    pub fn currency_code(mut self, currency_code: impl Into<String>) -> Self {
        self.currency_code = Some(currency_code.into());
        self
    }

    /// A price chosen by you or the buyer, a positive finite number in the currency's
    /// major unit; the service also requires `currency_code` and `tax_behavior` with it
    /// (default: the plan's price). The official SDK accepts NaN, infinities and
    /// non-positive amounts, which cannot be a price; they are refused here before sending.
    pub fn custom_amount(mut self, amount: f64) -> Self {
        self.custom_amount = Some(amount);
        self
    }

    /// Whether prices include tax (default: the plan's setting).
    pub fn tax_behavior(mut self, tax_behavior: TaxBehavior) -> Self {
        self.tax_behavior = Some(tax_behavior);
        self
    }

    /// Whether the buyer may enter discount codes (default: the service's setting).
    pub fn discounts_enabled(mut self, enabled: bool) -> Self {
        self.discounts_enabled = Some(enabled);
        self
    }

    /// Whether the buyer's email is fixed to the customer's (default: the service's
    /// setting).
    pub fn lock_email(mut self, lock: bool) -> Self {
        self.lock_email = Some(lock);
        self
    }

    /// The billing country preselected on the page (default: none).
    pub fn default_billing_country(mut self, country: impl Into<String>) -> Self {
        self.default_billing_country = Some(country.into());
        self
    }

    /// Your metadata, kept with the session (default: none).
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    fn validate(&self) -> Result<()> {
        require("plan_identifier", &self.plan_identifier)?;
        require("success_url", &self.success_url)?;
        if let Some(customer_id) = &self.customer_id {
            require("customer_id", customer_id)?;
        }
        positive("trial_period", self.trial_period)?;
        positive_amount("custom_amount", self.custom_amount)
    }
}

impl<'a> CheckoutApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        CheckoutApi { client }
    }

    /// Creates a checkout session: `POST /checkout/`. Send the buyer to the session's
    /// `checkout_url`; once paid, the subscription appears in
    /// [`SubscriptionsApi::list`](crate::SubscriptionsApi::list).
    ///
    /// The request carries no idempotency key, so it is not replayed when its outcome is
    /// unknown; creating a second session is harmless (only a paid one subscribes).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::CreateCheckoutSession;
    /// use kelviq_client::models::ChargePeriod;
    ///
    /// let session = kelviq
    ///     .checkout()
    ///     .create_session(
    ///         CreateCheckoutSession::new("pro", ChargePeriod::Monthly, "https://app.test/welcome")
    ///             .customer_id("cust_free")
    ///             .trial_period(14),
    ///     )
    ///     .await?;
    /// assert!(!session.checkout_url.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty plan identifier, success URL or customer id, a
    /// trial period of 0, or a custom amount that is not a positive finite number;
    /// [`Error::Api`](crate::Error::Api) with status 400 when the service refuses a field (an unknown plan, a
    /// custom amount without currency code and tax behaviour, ...).
    pub async fn create_session(&self, params: CreateCheckoutSession) -> Result<CheckoutSession> {
        params.validate()?;
        if let Some(id) = &params.customer_id {
            customer_id(self.client.transport(), id)?;
        }
        let request = Request::new(
            "checkout.create_session",
            Method::POST,
            Base::Api,
            "/checkout/",
        )
        .json(&params)?;
        self.client.transport().json(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn custom_amounts_must_be_positive_and_finite() {
        let session = || CreateCheckoutSession::new("pro", ChargePeriod::Monthly, "https://a.test");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.5] {
            assert!(
                matches!(
                    session().custom_amount(bad).validate(),
                    Err(Error::Validation {
                        field: "custom_amount",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert!(session().custom_amount(0.5).validate().is_ok());
    }

    #[test]
    fn the_body_is_camel_case_with_amounts_as_floats() {
        let wire = serde_json::to_string(
            &CreateCheckoutSession::new("pro", ChargePeriod::TwentyEightDays, "https://a.test")
                .custom_amount(10.0)
                .tax_behavior(TaxBehavior::Inclusive),
        )
        .unwrap();
        assert_eq!(
            wire,
            r#"{"planIdentifier":"pro","chargePeriod":"TWENTY_EIGHT_DAYS","successUrl":"https://a.test","customAmount":10.0,"taxBehavior":"INCLUSIVE"}"#
        );
    }
}
