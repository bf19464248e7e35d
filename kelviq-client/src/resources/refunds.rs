//! `kelviq.refunds()`: refund orders, list and retrieve refunds.

use http::Method;
use serde::Serialize;

use super::ListFilter;
use super::{positive_amount, require};
use crate::client::Kelviq;
use crate::error::{Error, Result};
use crate::http::{Base, Request, segment};
use crate::models::{Page, Refund, RefundReason, RefundStatus};

/// Handle for refunds.
#[derive(Debug, Clone, Copy)]
pub struct RefundsApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`RefundsApi::list`]: a search text (matched by the service against the
/// refund's id, order id and the like), a [`RefundStatus`], a range of creation dates and a
/// page.
pub type ListRefunds = ListFilter<RefundStatus>;

/// Parameters of [`RefundsApi::create`]. Sent snake_case, in this order: `order_id`,
/// `amount_units`, `amount`, `reason`, `internal_note`.
///
/// Without an amount the whole refundable balance of the order is refunded. The amount
/// can be given in minor units ([`amount_units`](CreateRefund::amount_units)) or in the
/// major unit ([`amount`](CreateRefund::amount)); if both are given they must name the
/// same sum (the service checks that, as the official SDK does not).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use]
pub struct CreateRefund {
    order_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_units: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<RefundReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal_note: Option<String>,
}

impl CreateRefund {
    /// A refund of the order's whole refundable balance (the order id is required,
    /// non-empty; [`Transaction::order_id`](crate::models::Transaction::order_id) gives it).
    pub fn new(order_id: impl Into<String>) -> Self {
        CreateRefund {
            order_id: order_id.into(),
            amount_units: None,
            amount: None,
            reason: None,
            internal_note: None,
        }
    }

    /// Refund this many minor units of the currency (cents), at least 1 (default: the
    /// whole balance).
    pub fn amount_units(mut self, amount_units: i64) -> Self {
        self.amount_units = Some(amount_units);
        self
    }

    /// Refund this amount in the currency's major unit (`24.5`), finite and greater than 0
    /// (default: the whole balance).
    pub fn amount(mut self, amount: f64) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Why (default: none).
    pub fn reason(mut self, reason: RefundReason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// A note for your team, not shown to the customer (default: none).
    pub fn internal_note(mut self, note: impl Into<String>) -> Self {
        self.internal_note = Some(note.into());
        self
    }

    fn validate(&self) -> Result<()> {
        require("order_id", &self.order_id)?;
        if let Some(units) = self.amount_units
            && units < 1
        {
            return Err(Error::validation("amount_units", "must be at least 1"));
        }
        positive_amount("amount", self.amount)
    }
}

const ITEM: &str = "/refunds/{refund_id}/";

impl<'a> RefundsApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        RefundsApi { client }
    }

    /// One page of refunds: `GET /refunds/?search=&status=&start_date=&end_date=&page_size=&page=`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] before sending for a date that is not `YYYY-MM-DD`, a start
    /// after the end, an empty status, or a page or page size of 0; [`Error::Api`] with
    /// status 404 for a page past the end; otherwise the errors of any call.
    pub async fn list(&self, params: ListRefunds) -> Result<Page<Refund>> {
        let request = params.apply(Request::new(
            "refunds.list",
            Method::GET,
            Base::Api,
            "/refunds/",
        ))?;
        self.client.transport().json(request).await
    }

    /// Refunds part or all of an order: `POST /refunds/`.
    ///
    /// A refund carries no idempotency key, so one whose outcome is unknown (timeout,
    /// dropped connection, `502`/`504`) is not retried: the error is returned and the
    /// refund may or may not have been made. Look for it in [`RefundsApi::list`] (search by
    /// order id) before refunding again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::models::{RefundReason, RefundStatus};
    /// use kelviq_client::{CreateRefund, ListTransactions};
    ///
    /// let charges = kelviq.transactions().list(ListTransactions::new().search("cust_pro")).await?;
    /// let order_id = charges.results[0].order_id().expect("the seeded charge has an order");
    /// let refund = kelviq
    ///     .refunds()
    ///     .create(
    ///         CreateRefund::new(order_id)
    ///             .amount_units(500)
    ///             .reason(RefundReason::RequestedByCustomer),
    ///     )
    ///     .await?;
    /// assert_eq!(refund.status, RefundStatus::Succeeded);
    /// assert_eq!(refund.amount, 5.0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] before sending for an empty order id, `amount_units` below 1,
    /// or an `amount` that is not finite and greater than 0; [`Error::Api`] with status
    /// 400 for an unknown or fully refunded order, or a sum above its refundable balance;
    /// otherwise the errors of any call.
    pub async fn create(&self, params: CreateRefund) -> Result<Refund> {
        params.validate()?;
        let request =
            Request::new("refunds.create", Method::POST, Base::Api, "/refunds/").json(&params)?;
        self.client.transport().json(request).await
    }

    /// One refund by its id: `GET /refunds/{refund_id}/`. The id is percent-encoded into
    /// one path segment.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an empty id (or `.`/`..`); [`Error::Api`] with status 404
    /// for an unknown one; otherwise the errors of any call.
    pub async fn retrieve(&self, refund_id: &str) -> Result<Refund> {
        let path = format!("/refunds/{}/", segment("refund_id", refund_id)?);
        let request =
            Request::new("refunds.retrieve", Method::GET, Base::Api, ITEM).with_path(path);
        self.client.transport().json(request).await
    }
}
