//! `kelviq.transactions()`: the money movements of the account.

use http::Method;

use super::ListFilter;
use crate::client::Kelviq;
use crate::error::Result;
use crate::http::{Base, Request};
use crate::models::{Page, Transaction, TransactionStatus};

/// Handle for transactions.
#[derive(Debug, Clone, Copy)]
pub struct TransactionsApi<'a> {
    client: &'a Kelviq,
}

/// Parameters of [`TransactionsApi::list`]: a search text (matched by the service against the
/// transaction's id, order id, customer id and the like), a [`TransactionStatus`], a range
/// of creation dates and a page.
pub type ListTransactions = ListFilter<TransactionStatus>;

impl<'a> TransactionsApi<'a> {
    pub(crate) fn new(client: &'a Kelviq) -> Self {
        TransactionsApi { client }
    }

    /// One page of transactions:
    /// `GET /transaction/?search=&status=&start_date=&end_date=&page_size=&page=` (the
    /// path is singular, as on the service).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kelviq_client::Error> {
    /// # let mock = kelviq_mock::MockServer::start().await;
    /// # let kelviq = kelviq_client::Kelviq::builder().access_token(mock.token())
    /// #     .api_url(mock.url()).edge_url(mock.edge_url()).build()?;
    /// use kelviq_client::ListTransactions;
    /// use kelviq_client::models::{TransactionStatus, TransactionType};
    ///
    /// let page = kelviq
    ///     .transactions()
    ///     .list(ListTransactions::new().status(TransactionStatus::Success).page_size(10))
    ///     .await?;
    /// assert_eq!(page.results[0].transaction_type, TransactionType::Charge);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) before sending for a date that is not
    /// `YYYY-MM-DD`, a start after the end, an empty status, or a page or page size of 0;
    /// [`Error::Api`](crate::Error::Api) with status 404 for a page past the end; otherwise
    /// the errors of any call.
    pub async fn list(&self, params: ListTransactions) -> Result<Page<Transaction>> {
        let request = params.apply(Request::new(
            "transactions.list",
            Method::GET,
            Base::Api,
            "/transaction/",
        ))?;
        self.client.transport().json(request).await
    }
}
