//! `kelviq.charges()`: one-time charges of a customer's saved payment method.

use std::net::IpAddr;

use http::Method;
use serde::Serialize;

use super::{customer_id, positive_amount, require};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request};
use crate::models::{Charge, ChargePeriod, FeatureQuantity, TaxBehavior};

/// Handle for one-time charges.
#[derive(Debug, Clone, Copy)]
pub struct ChargesApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`ChargesApi::create`]. Sent snake_case, in this order: `plan_identifier`,
/// `charge_period`, `customer_id`, `features`, `currency_code`, `custom_amount`,
/// `tax_behavior`, `ip_address`.
///
/// `charge_period` is always `ONE_TIME`, the only value the endpoint accepts, so it is not
/// a parameter here (the official SDK takes it and refuses anything else).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use]
pub struct CreateCharge {
    plan_identifier: String,
    charge_period: ChargePeriod,
    customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<Vec<FeatureQuantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tax_behavior: Option<TaxBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
}

impl CreateCharge {
    /// A charge of the plan's price to the customer (your id for them); both required,
    /// non-empty.
    pub fn new(plan_identifier: impl Into<String>, customer_id: impl Into<String>) -> Self {
        CreateCharge {
            plan_identifier: plan_identifier.into(),
            charge_period: ChargePeriod::OneTime,
            customer_id: customer_id.into(),
            features: None,
            currency_code: None,
            custom_amount: None,
            tax_behavior: None,
            ip_address: None,
        }
    }

    /// Quantities of the plan's features to buy (default: none sent, the plan's defaults).
    /// Identifiers must not be empty.
    pub fn features(mut self, features: impl IntoIterator<Item = FeatureQuantity>) -> Self {
        self.features = Some(features.into_iter().collect());
        self
    }

    /// The ISO 4217 currency code, three letters (default: the plan's currency). Required
    /// with [`custom_amount`](CreateCharge::custom_amount).
    pub fn currency_code(mut self, currency_code: impl Into<String>) -> Self {
        self.currency_code = Some(currency_code.into());
        self
    }

    /// Charge this amount, in the currency's major unit (`19.99`), instead of the plan's
    /// price (default: the plan's price). Must be finite and greater than 0, and needs
    /// [`currency_code`](CreateCharge::currency_code).
    pub fn custom_amount(mut self, amount: f64) -> Self {
        self.custom_amount = Some(amount);
        self
    }

    /// Whether the price includes tax (default: the account's setting).
    pub fn tax_behavior(mut self, tax_behavior: TaxBehavior) -> Self {
        self.tax_behavior = Some(tax_behavior);
        self
    }

    /// The customer's IP address, IPv4 or IPv6, for tax location (default: none).
    pub fn ip_address(mut self, ip_address: impl Into<String>) -> Self {
        self.ip_address = Some(ip_address.into());
        self
    }

    fn validate(&self) -> Result<()> {
        require("plan_identifier", &self.plan_identifier)?;
        require("customer_id", &self.customer_id)?;
        if self
            .features
            .iter()
            .flatten()
            .any(|feature| feature.identifier.is_empty())
        {
            return Err(Error::validation(
                "features",
                "a feature identifier must not be empty",
            ));
        }
        if let Some(code) = &self.currency_code
            && !(code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_alphabetic()))
        {
            return Err(Error::validation(
                "currency_code",
                format!("\"{code}\" is not a three-letter ISO 4217 code"),
            ));
        }
        positive_amount("custom_amount", self.custom_amount)?;
        if self.custom_amount.is_some() && self.currency_code.is_none() {
            return Err(Error::validation(
                "currency_code",
                "is required with custom_amount",
            ));
        }
        if let Some(ip) = &self.ip_address
            && ip.parse::<IpAddr>().is_err()
        {
            return Err(Error::validation(
                "ip_address",
                format!("\"{ip}\" is not an IPv4 or IPv6 address"),
            ));
        }
        Ok(())
    }
}

impl<'a> ChargesApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        ChargesApi { client }
    }

    /// Charges the customer's default saved payment method once for a plan, and grants the
    /// plan's features: `POST /charges/`.
    ///
    /// A charge carries no idempotency key, so one whose outcome is unknown (timeout,
    /// dropped connection, `502`/`504`) is not retried: the error is returned and the
    /// customer may or may not have been charged. Look for the charge in
    /// [`TransactionsApi::list`](crate::TransactionsApi::list) before charging again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::CreateCharge;
    ///
    /// let charge = kelviq
    ///     .charges()
    ///     .create(CreateCharge::new("pro", "cust_pro").currency_code("USD").custom_amount(19.99))
    ///     .await?;
    /// assert_eq!(charge.amount.as_deref(), Some("19.99"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] before sending for an empty plan or customer id or feature
    /// identifier, a currency code that is not three letters, a custom amount that is not
    /// finite and greater than 0 or comes without a currency code, or an IP address that
    /// does not parse; [`Error::Api`] with status 400 for an unknown plan or customer, or a
    /// customer without a saved payment method; otherwise the errors of any call.
    pub async fn create(&self, params: CreateCharge) -> Result<Charge> {
        params.validate()?;
        customer_id(self.client.transport(), &params.customer_id)?;
        let request =
            Request::new("charges.create", Method::POST, Base::Api, "/charges/").json(&params)?;
        self.client.transport().json(request).await
    }
}
