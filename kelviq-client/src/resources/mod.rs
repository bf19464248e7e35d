//! One handle per API resource, borrowed from the client: `kelviq.customers().create(..)`.
//! Each file holds the handle and the parameter structs of its operations.

mod charges;
mod checkout;
mod customers;
mod entitlements;
mod license;
mod payment_methods;
mod portal;
mod refunds;
mod reporting;
mod subscriptions;
mod transactions;

pub use charges::Charges;
pub use checkout::Checkout;
pub use customers::{CreateCustomer, Customers, ListCustomers, UpdateCustomer};
pub use entitlements::Entitlements;
pub use license::License;
pub use payment_methods::PaymentMethods;
pub use portal::Portal;
pub use refunds::Refunds;
pub use reporting::{ReportEvent, ReportUsage, Reporting};
pub use subscriptions::Subscriptions;
pub use transactions::Transactions;

use crate::error::{Error, Result};

/// Refuses an empty required string.
pub(crate) fn require(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::validation(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Refuses a page number or page size of zero.
pub(crate) fn positive(field: &'static str, value: Option<u32>) -> Result<()> {
    if value == Some(0) {
        Err(Error::validation(field, "must be at least 1"))
    } else {
        Ok(())
    }
}
