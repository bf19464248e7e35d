//! `kelviq.customers()`: create, list, retrieve, update (PATCH) and archive customers.

use http::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{customer_id, positive};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request, Transport, segment};
use crate::models::{ArchivedCustomer, Customer, Page};

/// Handle for the customers resource.
#[derive(Debug, Clone, Copy)]
pub struct CustomersApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`CustomersApi::create`]. Sent snake_case: `name`, `email`, `metadata`,
/// `customer_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use]
pub struct CreateCustomer {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    customer_id: String,
}

impl CreateCustomer {
    /// A customer with your id for it (required, non-empty).
    pub fn new(customer_id: impl Into<String>) -> Self {
        CreateCustomer {
            name: None,
            email: None,
            metadata: None,
            customer_id: customer_id.into(),
        }
    }

    /// The email address (default: none).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The display name (default: none).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Your metadata (default: none).
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// Parameters of [`CustomersApi::update`]: at least one field must be set. A field cannot be
/// cleared (the API has no way to send `null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[must_use]
pub struct UpdateCustomer {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
}

impl UpdateCustomer {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        UpdateCustomer::default()
    }

    /// Sets a new email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets a new display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the metadata.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// Parameters of [`CustomersApi::list`]: which page (from 1) and how many per page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct ListCustomers {
    page: Option<u32>,
    page_size: Option<u32>,
}

impl ListCustomers {
    /// The first page with the service's default size.
    pub fn new() -> Self {
        ListCustomers::default()
    }

    /// The page number, from 1.
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// How many customers per page.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }
}

const ITEM: &str = "/customers/{customer_id}/";

/// The path of one customer, the id checked as every customer id is.
fn item_path(transport: &Transport, id: &str) -> Result<String> {
    customer_id(transport, id)?;
    let customer_id = id;
    Ok(format!(
        "/customers/{}/",
        segment("customer_id", customer_id)?
    ))
}

impl<'a> CustomersApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        CustomersApi { client }
    }

    /// One page of customers: `GET /customers/?page=&page_size=`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a page or page size of 0; otherwise the errors of any call.
    pub async fn list(&self, params: ListCustomers) -> Result<Page<Customer>> {
        positive("page", params.page)?;
        positive("page_size", params.page_size)?;
        let request = Request::new("customers.list", Method::GET, Base::Api, "/customers/")
            .query("page", params.page)
            .query("page_size", params.page_size);
        self.client.transport().json(request).await
    }

    /// Creates a customer: `POST /customers/`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::CreateCustomer;
    ///
    /// let customer = kelviq
    ///     .customers()
    ///     .create(CreateCustomer::new("acme").email("ops@acme.test").name("Acme"))
    ///     .await?;
    /// assert_eq!(customer.email.as_deref(), Some("ops@acme.test"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty `customer_id`; [`Error::Api`] with status 400 when
    /// the id is taken or a field is invalid.
    pub async fn create(&self, params: CreateCustomer) -> Result<Customer> {
        customer_id(self.client.transport(), &params.customer_id)?;
        let request = Request::new("customers.create", Method::POST, Base::Api, "/customers/")
            .json(&params)?;
        self.client.transport().json(request).await
    }

    /// One customer by your id: `GET /customers/{customer_id}/`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id (or `.`/`..`); [`Error::Api`] with status 404
    /// for an unknown one.
    pub async fn retrieve(&self, customer_id: &str) -> Result<Customer> {
        let request = Request::new("customers.retrieve", Method::GET, Base::Api, ITEM)
            .with_path(item_path(self.client.transport(), customer_id)?);
        self.client.transport().json(request).await
    }

    /// Changes a customer's name, email or metadata: `PATCH /customers/{customer_id}/`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id or an update that sets nothing (no request is
    /// sent, as in the official SDK).
    pub async fn update(&self, customer_id: &str, params: UpdateCustomer) -> Result<Customer> {
        if params == UpdateCustomer::default() {
            return Err(Error::validation(
                "params",
                "an update must set at least one of name, email, metadata",
            ));
        }
        let request = Request::new("customers.update", Method::PATCH, Base::Api, ITEM)
            .with_path(item_path(self.client.transport(), customer_id)?)
            .json(&params)?;
        self.client.transport().json(request).await
    }

    /// Archives a customer: `DELETE /customers/{customer_id}/`. An empty success body
    /// (`204`) reads as `Customer archived successfully.`
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id; [`Error::Api`] with status 404 for an unknown
    /// one.
    pub async fn archive(&self, customer_id: &str) -> Result<ArchivedCustomer> {
        let request = Request::new("customers.archive", Method::DELETE, Base::Api, ITEM)
            .with_path(item_path(self.client.transport(), customer_id)?);
        let reply = self.client.transport().send(request).await?;
        let message = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|body| body.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "Customer archived successfully.".to_owned());
        Ok(ArchivedCustomer { message })
    }
}
