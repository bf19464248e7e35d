//! `kelviq.license()`: activate, deactivate and validate license keys.
//!
//! License keys travel in the (snake_case) bodies, never in the URL.

use http::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{customer_id, require};
use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request};
use crate::models::{LicenseActivation, LicenseDeactivation, LicenseValidation};

/// Handle for license keys.
#[derive(Debug, Clone, Copy)]
pub struct LicenseApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`LicenseApi::activate`]. Sent snake_case: `license_key`, `customer_id`,
/// `instance_name`, `metadata`. `Debug` prints the key as `***`.
#[derive(Clone, PartialEq, Serialize)]
#[must_use]
pub struct ActivateLicense {
    license_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
}

impl ActivateLicense {
    /// An activation of a key (required, non-empty) on a new instance.
    pub fn new(license_key: impl Into<String>) -> Self {
        ActivateLicense {
            license_key: license_key.into(),
            customer_id: None,
            instance_name: None,
            metadata: None,
        }
    }

    /// The customer the key must belong to (default: not checked).
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }

    /// A name for the instance, such as the machine's host name (default: none).
    pub fn instance_name(mut self, instance_name: impl Into<String>) -> Self {
        self.instance_name = Some(instance_name.into());
        self
    }

    /// Your metadata for the instance, returned by [`LicenseApi::validate`] (default: none).
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

impl std::fmt::Debug for ActivateLicense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivateLicense")
            .field("license_key", &"***")
            .field("customer_id", &self.customer_id)
            .field("instance_name", &self.instance_name)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// The body of `POST /license/deactivate/` and `POST /license/validate/`.
#[derive(Serialize)]
struct KeyAndInstance<'a> {
    license_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_id: Option<&'a str>,
}

impl<'a> LicenseApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        LicenseApi { client }
    }

    /// Activates a key on a new instance: `POST /license/activate/`. Keep the returned
    /// `instance_id` to validate or deactivate the instance.
    ///
    /// The request carries no idempotency key, so it is not replayed when its outcome is
    /// unknown (a replay could use a second activation slot).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::ActivateLicense;
    ///
    /// let license = kelviq.license();
    /// let activation = license
    ///     .activate(ActivateLicense::new("PRO-LICENSE-0001").instance_name("build-box"))
    ///     .await?;
    /// let verdict = license
    ///     .validate("PRO-LICENSE-0001", Some(&activation.instance_id))
    ///     .await?;
    /// assert!(verdict.valid);
    /// license.deactivate("PRO-LICENSE-0001", &activation.instance_id).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty key or customer id;
    /// [`Error::Api`](crate::Error::Api) with status 404 for an unknown key, 400 for a key
    /// that is disabled, expired, at its activation limit or of another customer.
    pub async fn activate(&self, params: ActivateLicense) -> Result<LicenseActivation> {
        require("license_key", &params.license_key)?;
        if let Some(id) = &params.customer_id {
            customer_id(self.client.transport(), id)?;
        }
        let request = Request::new(
            "license.activate",
            Method::POST,
            Base::Api,
            "/license/activate/",
        )
        .json(&params)?;
        self.client.transport().json(request).await
    }

    /// Deactivates an instance, freeing its activation slot: `POST /license/deactivate/`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty key or instance id (the
    /// official SDK sends an empty instance id, which names no instance);
    /// [`Error::Api`](crate::Error::Api) with status 404 for an unknown key or instance.
    pub async fn deactivate(
        &self,
        license_key: &str,
        instance_id: &str,
    ) -> Result<LicenseDeactivation> {
        require("license_key", license_key)?;
        require("instance_id", instance_id)?;
        let body = KeyAndInstance {
            license_key,
            instance_id: Some(instance_id),
        };
        let request = Request::new(
            "license.deactivate",
            Method::POST,
            Base::Api,
            "/license/deactivate/",
        )
        .json(&body)?;
        self.client.transport().json(request).await
    }

    /// Checks a key, and one of its instances when `instance_id` is given:
    /// `POST /license/validate/`. Changes nothing, but as a POST it is not replayed when
    /// its outcome is unknown.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty key or an empty
    /// instance id; [`Error::Api`](crate::Error::Api) if the service answers an invalid key
    /// with an error status rather than `valid: false`.
    pub async fn validate(
        &self,
        license_key: &str,
        instance_id: Option<&str>,
    ) -> Result<LicenseValidation> {
        require("license_key", license_key)?;
        if let Some(instance_id) = instance_id {
            require("instance_id", instance_id)?;
        }
        let body = KeyAndInstance {
            license_key,
            instance_id,
        };
        let request = Request::new(
            "license.validate",
            Method::POST,
            Base::Api,
            "/license/validate/",
        )
        .json(&body)?;
        self.client.transport().json(request).await
    }
}
