//! `kelviq.payment_methods()`: the payment methods customers have saved.

use http::Method;

use super::{customer_id, positive, require};
use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request};
use crate::models::{Page, PaymentMethod};

/// Handle for saved payment methods.
#[derive(Debug, Clone, Copy)]
pub struct PaymentMethodsApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`PaymentMethodsApi::list`]. Sent as query parameters, each only when set, in
/// this order: `customer_id`, `customer_email`, `page_size`, `page`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListPaymentMethods {
    customer_id: Option<String>,
    customer_email: Option<String>,
    page_size: Option<u32>,
    page: Option<u32>,
}

impl ListPaymentMethods {
    /// Every customer's methods, first page, the service's default page size.
    pub fn new() -> Self {
        ListPaymentMethods::default()
    }

    /// Only the methods of this customer, by your id for them, exactly (default: all).
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }

    /// Only the methods of the customer with this email (default: all).
    pub fn customer_email(mut self, email: impl Into<String>) -> Self {
        self.customer_email = Some(email.into());
        self
    }

    /// How many methods per page, from 1 (default: the service's).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// The page number, from 1 (default: 1).
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }
}

impl<'a> PaymentMethodsApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        PaymentMethodsApi { client }
    }

    /// One page of saved payment methods:
    /// `GET /payment-methods/?customer_id=&customer_email=&page_size=&page=`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::ListPaymentMethods;
    ///
    /// let page = kelviq
    ///     .payment_methods()
    ///     .list(ListPaymentMethods::new().customer_id("cust_pro"))
    ///     .await?;
    /// assert!(page.results.iter().any(|method| method.is_default));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) before sending for an empty customer
    /// id or email (a filter framework may read an empty value as no filter and list every
    /// customer's methods), or a page or page size of 0;
    /// [`Error::Api`](crate::Error::Api) with status 404 for a page past the end; otherwise
    /// the errors of any call.
    pub async fn list(&self, params: ListPaymentMethods) -> Result<Page<PaymentMethod>> {
        if let Some(id) = &params.customer_id {
            customer_id(self.client.transport(), id)?;
        }
        if let Some(email) = &params.customer_email {
            require("customer_email", email)?;
        }
        positive("page_size", params.page_size)?;
        positive("page", params.page)?;
        let request = Request::new(
            "payment_methods.list",
            Method::GET,
            Base::Api,
            "/payment-methods/",
        )
        .query("customer_id", params.customer_id)
        .query("customer_email", params.customer_email)
        .query("page_size", params.page_size)
        .query("page", params.page);
        self.client.transport().json(request).await
    }
}
