//! `kelviq.portal()`: sessions of the hosted customer portal.

use http::Method;
use serde::Serialize;

use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request};
use crate::models::PortalSession;

/// Handle for customer portal sessions.
#[derive(Debug, Clone, Copy)]
pub struct PortalApi<'a> {
    client: &'a Kelviq,
}

/// The body of `POST /portal/session/`, camelCase.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatePortalSession<'a> {
    customer_id: &'a str,
}

impl<'a> PortalApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        PortalApi { client }
    }

    /// Creates a portal session for a customer: `POST /portal/session/` with
    /// `{"customerId": ..}`. Send the customer to the session's `customer_portal_url`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// let session = kelviq.portal().create_session("cust_pro").await?;
    /// assert_eq!(session.email, "owner@pro.example");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an empty customer id (the
    /// official SDK sends it, and the service can only refuse it);
    /// [`Error::Api`](crate::Error::Api) with status 400 for an unknown customer.
    pub async fn create_session(&self, customer_id: &str) -> Result<PortalSession> {
        super::customer_id(self.client.transport(), customer_id)?;
        let request = Request::new(
            "portal.create_session",
            Method::POST,
            Base::Api,
            "/portal/session/",
        )
        .json(&CreatePortalSession { customer_id })?;
        self.client.transport().json(request).await
    }
}
