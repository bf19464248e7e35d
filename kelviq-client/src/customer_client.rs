//! [`CustomerClient`]: the client scoped to one customer, for handlers that act on
//! "the current customer" (the axum and actix-web `Customer` extractors hand one out).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::cache::CachedSnapshot;
use crate::client::Kelviq;
use crate::error::Result;
use crate::models::{
    Customer, Entitlement, EventReport, Page, PaymentMethod, PortalSession, Subscription,
    UsageReport,
};
use crate::resources::{ListPaymentMethods, ListSubscriptions, ReportEvent, ReportUsage};

/// The client and one customer id: every call is about that customer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kelviq_client::Error> {
/// # let mock = kelviq_mock::MockServer::start().await;
/// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
/// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
/// let customer = kelviq.customer("cust_pro");
/// assert!(customer.has_access("reports").await?);
/// let subscriptions = customer.subscriptions().await?;
/// assert_eq!(subscriptions.count, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CustomerClient {
    client: Kelviq,
    customer_id: Arc<str>,
}

impl CustomerClient {
    /// The client scoped to `customer_id`; from [`Kelviq::customer`].
    pub(crate) fn new(client: Kelviq, customer_id: Arc<str>) -> Self {
        CustomerClient {
            client,
            customer_id,
        }
    }

    /// The customer id.
    pub fn id(&self) -> &str {
        &self.customer_id
    }

    /// The whole client.
    pub fn client(&self) -> &Kelviq {
        &self.client
    }

    /// Whether the customer may use the feature (through the cache when enabled).
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::has_access`](crate::EntitlementsApi::has_access).
    pub async fn has_access(&self, feature_id: &str) -> Result<bool> {
        self.client
            .entitlements()
            .has_access(&self.customer_id, feature_id)
            .await
    }

    /// One feature's entitlement, `None` if the customer lacks it.
    ///
    /// # Errors
    ///
    /// As [`EntitlementsApi::get_entitlement`](crate::EntitlementsApi::get_entitlement).
    pub async fn entitlement(&self, feature_id: &str) -> Result<Option<Entitlement>> {
        self.client
            .entitlements()
            .get_entitlement(&self.customer_id, feature_id)
            .await
    }

    /// Every entitlement, as a snapshot (cached when the cache is enabled).
    ///
    /// # Errors
    ///
    /// As [`Kelviq::entitlements_snapshot`].
    pub async fn entitlements(&self) -> Result<CachedSnapshot> {
        self.client.entitlements_snapshot(&self.customer_id).await
    }

    /// Reports `value` units (`DELTA`) of a feature now.
    ///
    /// # Errors
    ///
    /// As [`ReportingApi::report_usage`](crate::ReportingApi::report_usage).
    pub async fn report_usage(&self, feature_id: &str, value: i64) -> Result<UsageReport> {
        self.client
            .reporting()
            .report_usage(ReportUsage::delta(&*self.customer_id, feature_id, value))
            .await
    }

    /// Records `amount` units of a feature with the client's usage meter
    /// ([`Kelviq::usage_meter`]), without waiting.
    ///
    /// # Errors
    ///
    /// As [`Kelviq::usage_meter`] and [`UsageMeter::record`](crate::meter::UsageMeter::record).
    pub fn record_usage(&self, feature_id: &str, amount: i64) -> Result<()> {
        self.client
            .usage_meter()?
            .record(&self.customer_id, feature_id, amount)
    }

    /// Reports an event now (with a generated idempotency key and timestamp).
    ///
    /// # Errors
    ///
    /// As [`ReportingApi::report_event`](crate::ReportingApi::report_event).
    pub async fn report_event(
        &self,
        event_name: &str,
        properties: Option<Map<String, Value>>,
    ) -> Result<EventReport> {
        let mut event = ReportEvent::new(&*self.customer_id, event_name);
        if let Some(properties) = properties {
            event = event.properties(properties);
        }
        self.client.reporting().report_event(event).await
    }

    /// The customer record.
    ///
    /// # Errors
    ///
    /// As [`CustomersApi::retrieve`](crate::CustomersApi::retrieve).
    pub async fn retrieve(&self) -> Result<Customer> {
        self.client.customers().retrieve(&self.customer_id).await
    }

    /// The customer's subscriptions (first page).
    ///
    /// # Errors
    ///
    /// As [`SubscriptionsApi::list`](crate::SubscriptionsApi::list).
    pub async fn subscriptions(&self) -> Result<Page<Subscription>> {
        self.client
            .subscriptions()
            .list(ListSubscriptions::new().customer_id(&*self.customer_id))
            .await
    }

    /// A customer portal session.
    ///
    /// # Errors
    ///
    /// As [`PortalApi::create_session`](crate::PortalApi::create_session).
    pub async fn portal_session(&self) -> Result<PortalSession> {
        self.client.portal().create_session(&self.customer_id).await
    }

    /// The customer's saved payment methods (first page).
    ///
    /// # Errors
    ///
    /// As [`PaymentMethodsApi::list`](crate::PaymentMethodsApi::list).
    pub async fn payment_methods(&self) -> Result<Page<PaymentMethod>> {
        self.client
            .payment_methods()
            .list(ListPaymentMethods::new().customer_id(&*self.customer_id))
            .await
    }
}
