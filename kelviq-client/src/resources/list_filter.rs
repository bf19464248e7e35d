//! The parameters shared by the refund and transaction lists.

use std::fmt::Display;

use super::{date, positive};
use crate::error::{Error, Result};
use crate::http::Request;

/// Parameters of the lists filtered by text, status and creation date:
/// [`ListRefunds`](crate::ListRefunds) for [`RefundsApi::list`](crate::RefundsApi::list) and
/// [`ListTransactions`](crate::ListTransactions) for
/// [`TransactionsApi::list`](crate::TransactionsApi::list). `S` is the status type.
///
/// Sent as query parameters, each only when set, in this order: `search`, `status`,
/// `start_date`, `end_date`, `page_size`, `page`. Unlike the official SDK, which passes
/// them through, dates are checked before sending: `YYYY-MM-DD`, and `start_date` not
/// after `end_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ListFilter<S> {
    search: Option<String>,
    status: Option<S>,
    start_date: Option<String>,
    end_date: Option<String>,
    page_size: Option<u32>,
    page: Option<u32>,
}

impl<S> Default for ListFilter<S> {
    fn default() -> Self {
        ListFilter {
            search: None,
            status: None,
            start_date: None,
            end_date: None,
            page_size: None,
            page: None,
        }
    }
}

impl<S: Display> ListFilter<S> {
    /// Everything, first page, the service's default page size.
    pub fn new() -> Self {
        ListFilter::default()
    }

    /// Only objects matching `text`: the service searches ids and similar fields (default:
    /// no search).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Only objects with this status (default: any).
    pub fn status(mut self, status: S) -> Self {
        self.status = Some(status);
        self
    }

    /// Only objects created on or after this day, `YYYY-MM-DD` (default: no bound).
    pub fn start_date(mut self, date: impl Into<String>) -> Self {
        self.start_date = Some(date.into());
        self
    }

    /// Only objects created on or before this day, `YYYY-MM-DD` (default: no bound).
    pub fn end_date(mut self, date: impl Into<String>) -> Self {
        self.end_date = Some(date.into());
        self
    }

    /// How many objects per page, from 1 (default: the service's).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// The page number, from 1 (default: 1).
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// Checks the parameters and adds them to `request` as its query.
    pub(super) fn apply(self, request: Request) -> Result<Request> {
        let status = self.status.map(|status| status.to_string());
        if status.as_deref() == Some("") {
            return Err(Error::validation("status", "must not be empty"));
        }
        for (field, value) in [
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
        ] {
            if let Some(value) = value {
                date(field, value)?;
            }
        }
        // Both are zero-padded YYYY-MM-DD now, so text order is date order.
        if let (Some(start), Some(end)) = (&self.start_date, &self.end_date)
            && start > end
        {
            return Err(Error::validation(
                "start_date",
                format!("{start} is after end_date {end}"),
            ));
        }
        positive("page_size", self.page_size)?;
        positive("page", self.page)?;
        Ok(request
            .query("search", self.search)
            .query("status", status)
            .query("start_date", self.start_date)
            .query("end_date", self.end_date)
            .query("page_size", self.page_size)
            .query("page", self.page))
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::http::Base;
    use crate::models::RefundStatus;

    fn query(filter: ListFilter<RefundStatus>) -> Result<Vec<(&'static str, String)>> {
        let request = Request::new("test", Method::GET, Base::Api, "/test/");
        Ok(filter.apply(request)?.query)
    }

    fn refused_field(filter: ListFilter<RefundStatus>) -> &'static str {
        match query(filter) {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn query_keeps_the_reference_order() {
        let pairs = query(
            ListFilter::new()
                .page(2)
                .page_size(5)
                .end_date("2025-02-01")
                .start_date("2025-01-31")
                .status(RefundStatus::Succeeded)
                .search("a b"),
        )
        .unwrap();
        assert_eq!(
            pairs,
            [
                ("search", "a b".to_owned()),
                ("status", "SUCCEEDED".to_owned()),
                ("start_date", "2025-01-31".to_owned()),
                ("end_date", "2025-02-01".to_owned()),
                ("page_size", "5".to_owned()),
                ("page", "2".to_owned()),
            ]
        );
        assert!(query(ListFilter::new()).unwrap().is_empty());
        let same_day = ListFilter::new()
            .start_date("2025-01-31")
            .end_date("2025-01-31");
        assert_eq!(query(same_day).unwrap().len(), 2);
    }

    #[test]
    fn bad_values_name_their_field() {
        for bad in [
            "2025-1-31",
            "2025-02-30",
            "25-01-31",
            "2025/01/31",
            "+02025-01-3",
            "",
        ] {
            assert_eq!(
                refused_field(ListFilter::new().start_date(bad)),
                "start_date"
            );
            assert_eq!(refused_field(ListFilter::new().end_date(bad)), "end_date");
        }
        let inverted = ListFilter::new()
            .start_date("2025-02-01")
            .end_date("2025-01-31");
        assert_eq!(refused_field(inverted), "start_date");
        assert_eq!(refused_field(ListFilter::new().page(0)), "page");
        assert_eq!(refused_field(ListFilter::new().page_size(0)), "page_size");
        let empty_status = ListFilter::new().status(RefundStatus::from(""));
        assert_eq!(refused_field(empty_status), "status");
    }

    #[test]
    fn dates_are_real_zero_padded_days() {
        assert!(date("d", "2024-02-29").is_ok());
        assert!(date("d", "0001-01-01").is_ok());
        assert!(date("d", "2023-02-29").is_err());
        assert!(date("d", "2024-13-01").is_err());
        assert!(date("d", "2024-01-01T00:00").is_err());
        assert!(date("d", "20240101").is_err());
    }
}
