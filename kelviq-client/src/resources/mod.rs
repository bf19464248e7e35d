//! One handle per API resource, borrowed from the client: `kelviq.customers().create(..)`.
//! Each file holds the handle and the parameter structs of its operations.
//!
//! A handle is named after its resource with `Api` (`kelviq.customers()` is a
//! [`CustomersApi`], `kelviq.entitlements()` an [`EntitlementsApi`]), so that it never
//! shares a name with the data it returns ([`Customer`](crate::models::Customer),
//! [`Entitlements`](crate::models::Entitlements)); the blocking client's handles have
//! the same names.
//!
//! Every call taking a customer id refuses an empty one, or one longer than
//! [`KelviqBuilder::max_customer_id_len`](crate::KelviqBuilder::max_customer_id_len) (256
//! bytes by default), with [`Error::Validation`] `{ field: "customer_id", .. }` before
//! any I/O.

mod charges;
mod checkout;
mod customers;
mod entitlements;
mod license;
mod list_filter;
mod payment_methods;
mod portal;
mod refunds;
mod reporting;
mod subscriptions;
mod transactions;

pub use charges::{ChargesApi, CreateCharge};
pub use checkout::{CheckoutApi, CreateCheckoutSession};
pub use customers::{CreateCustomer, CustomersApi, ListCustomers, UpdateCustomer};
pub use entitlements::EntitlementsApi;
pub(crate) use entitlements::fetch_snapshot;
pub use license::{ActivateLicense, LicenseApi};
pub use list_filter::ListFilter;
pub use payment_methods::{ListPaymentMethods, PaymentMethodsApi};
pub use portal::PortalApi;
pub use refunds::{CreateRefund, ListRefunds, RefundsApi};
pub use reporting::{ReportEvent, ReportUsage, ReportingApi};
pub(crate) use reporting::{send_event, send_usage};
pub use subscriptions::{
    CancelSubscription, CreateSubscription, ListSubscriptions, ModifiedOn,
    PreviewSubscriptionUpdate, SubscriptionsApi, UpdateSubscription,
};
pub use transactions::{ListTransactions, TransactionsApi};

use crate::error::{Error, Result};
use crate::http::Transport;

/// Refuses an empty required string.
pub(crate) fn require(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::validation(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Refuses a customer id no request should carry: empty, or longer than the client's
/// [maximum](crate::KelviqBuilder::max_customer_id_len). Every call taking a customer id
/// checks it with this, before any I/O; so does the [gate](crate::gate).
pub(crate) fn customer_id(transport: &Transport, value: &str) -> Result<()> {
    require("customer_id", value)?;
    let max = transport.max_customer_id_len;
    if value.len() > max {
        return Err(Error::validation(
            "customer_id",
            format!(
                "is {} bytes long, more than the maximum of {max} \
                 (KelviqBuilder::max_customer_id_len)",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Refuses a page number or page size of zero.
pub(crate) fn positive(field: &'static str, value: Option<u32>) -> Result<()> {
    if value == Some(0) {
        Err(Error::validation(field, "must be at least 1"))
    } else {
        Ok(())
    }
}

/// Refuses an amount of money that is not a finite number greater than zero (the official
/// SDK lets NaN and infinities through to a broken request).
pub(crate) fn positive_amount(field: &'static str, value: Option<f64>) -> Result<()> {
    match value {
        Some(amount) if !(amount.is_finite() && amount > 0.0) => Err(Error::validation(
            field,
            format!("{amount} is not a finite amount greater than 0"),
        )),
        _ => Ok(()),
    }
}

/// Refuses a date that is not `YYYY-MM-DD` (zero-padded, a real calendar day).
pub(crate) fn date(field: &'static str, value: &str) -> Result<()> {
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if shape_ok && value.parse::<jiff::civil::Date>().is_ok() {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            format!("\"{value}\" is not a date in the YYYY-MM-DD format"),
        ))
    }
}
