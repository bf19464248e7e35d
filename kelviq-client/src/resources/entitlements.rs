//! `kelviq.entitlements()`: what a customer may use, from the edge host.
//!
//! With the entitlement cache enabled, `has_access`, `get_entitlement` and
//! `get_all_entitlements` read the customer's cached snapshot (one call per customer,
//! fetched with the customer id alone); the `get_raw_*` calls always go to Kelviq.

use http::Method;

use super::{customer_id, require};
use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request, Transport};
use crate::models::{Entitlement, Entitlements, RawEntitlements};

/// `GET {edge}/api/v1/entitlements`, for one feature or all of them.
fn request(transport: &Transport, id: &str, feature_id: Option<&str>) -> Result<Request> {
    customer_id(transport, id)?;
    let customer_id = id;
    if let Some(feature_id) = feature_id {
        require("feature_id", feature_id)?;
    }
    Ok(
        Request::new("entitlements.get", Method::GET, Base::Edge, PATH)
            .query("customer_id", Some(customer_id))
            .query("feature_id", feature_id),
    )
}

/// Every entitlement of the customer, for the entitlement cache: fetched within `deadline`
/// when one is given, and then a `Retry-After` is never waited out (the cache makes it the
/// customer's backoff).
pub(crate) async fn fetch_snapshot(
    transport: &Transport,
    customer_id: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<Entitlements> {
    let request = request(transport, customer_id, None)?
        .deadline(deadline)
        .wait_retry_after(deadline.is_none());
    let raw: RawEntitlements = transport.json(request).await?;
    Ok(Entitlements::from_raw(raw))
}

/// Handle for entitlement checks: `GET {edge}/api/v1/entitlements`.
#[derive(Debug, Clone, Copy)]
pub struct EntitlementsApi<'a> {
    client: &'a Kelviq,
}

const PATH: &str = "/entitlements";

impl<'a> EntitlementsApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        EntitlementsApi { client }
    }

    /// Every entitlement of the customer, fetched now (no cache).
    pub(crate) async fn fetch_all(self, customer_id: &str) -> Result<Entitlements> {
        Ok(Entitlements::from_raw(self.fetch(customer_id, None).await?))
    }

    async fn fetch(&self, customer_id: &str, feature_id: Option<&str>) -> Result<RawEntitlements> {
        let transport = self.client.transport();
        transport
            .json(request(transport, customer_id, feature_id)?)
            .await
    }

    /// Whether the customer may use the feature; `false` when the customer does not have
    /// the feature at all.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// assert!(kelviq.entitlements().has_access("cust_pro", "reports").await?);
    /// assert!(!kelviq.entitlements().has_access("cust_free", "reports").await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty id or one longer than
    /// [`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len), before any I/O; [`Error::Api`](crate::Error::Api)
    /// with 404 for an unknown customer; transport errors.
    pub async fn has_access(&self, customer_id: &str, feature_id: &str) -> Result<bool> {
        if self.client.has_entitlement_cache() {
            require("feature_id", feature_id)?;
            let cached = self.client.entitlements_snapshot(customer_id).await?;
            return Ok(cached.snapshot().has_access(feature_id));
        }
        let raw = self.fetch(customer_id, Some(feature_id)).await?;
        Ok(Entitlements::from_raw(raw).has_access(feature_id))
    }

    /// The aggregated entitlement of one feature, `None` when the customer lacks it.
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::has_access`].
    pub async fn get_entitlement(
        &self,
        customer_id: &str,
        feature_id: &str,
    ) -> Result<Option<Entitlement>> {
        if self.client.has_entitlement_cache() {
            require("feature_id", feature_id)?;
            let cached = self.client.entitlements_snapshot(customer_id).await?;
            return Ok(cached.snapshot().get(feature_id));
        }
        let raw = self.fetch(customer_id, Some(feature_id)).await?;
        Ok(Entitlements::from_raw(raw).get(feature_id).cloned())
    }

    /// Every feature of the customer, aggregated (one call answers every check).
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::has_access`].
    pub async fn get_all_entitlements(&self, customer_id: &str) -> Result<Entitlements> {
        if self.client.has_entitlement_cache() {
            let cached = self.client.entitlements_snapshot(customer_id).await?;
            return Ok(cached.snapshot().to_entitlements());
        }
        self.fetch_all(customer_id).await
    }

    /// The raw entries of one feature, as sent.
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::has_access`].
    pub async fn get_raw_entitlement(
        &self,
        customer_id: &str,
        feature_id: &str,
    ) -> Result<RawEntitlements> {
        self.fetch(customer_id, Some(feature_id)).await
    }

    /// Every raw entry of the customer, as sent.
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::has_access`].
    pub async fn get_raw_entitlements(&self, customer_id: &str) -> Result<RawEntitlements> {
        self.fetch(customer_id, None).await
    }
}
